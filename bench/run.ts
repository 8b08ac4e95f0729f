/**
 * `npm run bench`: every benchmark, printed as figures and as ratios against baselines measured
 * in the same run (these machines are noisy, so only same-run ratios mean much).
 */
import { benchHw } from './hw.js';
import { benchVsm } from './vsm.js';
import { benchModel } from './model.js';
import { benchCampaign } from './campaign.js';
import { benchMemory } from './memory.js';
import { benchTarget } from './target.js';
import { benchHub } from './hub.js';

const sections: Array<[string, () => string[] | Promise<string[]>]> = [
  ['hardware', benchHw],
  ['model', benchModel],
  ['campaign', benchCampaign],
  ['vsm', benchVsm],
  ['memory', benchMemory],
  ['target', benchTarget],
  ['hub', benchHub],
];
const only = process.argv[2];
for (const [name, run] of sections) {
  if (only !== undefined && only !== name) continue;
  for (const line of await run()) console.log(line);
  console.log('');
}
