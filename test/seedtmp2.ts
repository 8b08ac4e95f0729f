import { generateHvTrace } from '../src/gen/hv/generate.js';
import { runHv } from '../src/check/hv/run.js';
const bug = process.argv[2]; const n = Number(process.argv[3] ?? 60);
const found: number[] = [];
for (let s = 0; s < n; s++) {
  const t = generateHvTrace(String(s), { ops: 250, bugs: [bug] });
  const r = runHv(t.machine, t.ops as any, { sweepEveryOps: 50 });
  if (r.violations.length) found.push(s);
}
console.log(bug, found.length, found.slice(0, 10).join(','));
