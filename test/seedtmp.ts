import { generateHvTrace } from '../src/gen/hv/generate.js';
import { runHv } from '../src/check/hv/run.js';
import { formatText } from '../src/trace/text.js';
import { writeFileSync } from 'node:fs';
const n = Number(process.argv[2] ?? 12);
for (let s = 0; s < n; s++) {
  const t = generateHvTrace(String(s), { ops: 250 });
  const r = runHv(t.machine, t.ops as any, { sweepEveryOps: 50 });
  if (r.violations.length) { console.log(s, r.violations[0]); writeFileSync(`/tmp/hvw/fail${s}.txt`, formatText(t)); }
}
