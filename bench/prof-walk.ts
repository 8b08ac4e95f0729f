/** Profiling aid (not part of `npm run bench`): loops the 2D-walk case for `node --cpu-prof`. */
import { buildMachine } from './hw.js';

const m = buildMachine();
m.vcpus[0].ctlb.enabled = false; // every access walks
const missAddrs = [0x4000_0000, 0x4020_0000, 0x4040_0000, 0x4060_0000];
let sink = 0;
for (let i = 0; i < 6_000_000; i++) sink += m.access(0, missAddrs[i & 3], 8, 0, 0, 0);
console.log(sink);
