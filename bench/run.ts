/**
 * `npm run bench`: every benchmark, printed as figures and as ratios against baselines measured
 * in the same run.
 */
import { benchHw } from './hw.js';

for (const line of benchHw()) console.log(line);
