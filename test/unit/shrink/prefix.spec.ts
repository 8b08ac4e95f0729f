import { describe, expect, it } from 'vitest';
import { Budget, drive } from '../../../src/shrink/budget.js';
import { prefixSteps, shortestPrefix, PREFIX_PASS_OPS_MIN } from '../../../src/shrink/prefix.js';
import { shrinkOps, shrinkSteps } from '../../../src/shrink/minimize.js';
import type { Op } from '../../../src/trace/ops.js';

const read = (la: number): Op => ({ op: 'read', cpu: 0, la, size: 8 });
const las = (ops: Op[]): number[] => ops.map((o) => (o as { la: number }).la);
/** Fails when ops 3 and 40 come before the last op (the failing one, la 9999). */
const pred = (xs: Op[]): boolean => {
  const l = las(xs);
  return l[l.length - 1] === 9999 && l.includes(3) && l.includes(40);
};

describe('prefix pass', () => {
  const ops = [...Array.from({ length: 5000 }, (_, i) => read(i)), read(9999)];

  it('keeps the last op and finds the shortest failing prefix in O(log n) evaluations', () => {
    let calls = 0;
    const budget = new Budget((xs) => { calls++; return pred(xs); }, { stepsMax: 1000, msMax: 60_000 });
    const out = shortestPrefix(ops, budget);
    expect(las(out)).toEqual([...Array.from({ length: 41 }, (_, i) => i), 9999]);
    expect(calls).toBeLessThanOrEqual(Math.ceil(Math.log2(ops.length)) + 1);
  });

  it('leaves short lists alone', () => {
    const short = ops.slice(-PREFIX_PASS_OPS_MIN + 1);
    expect(shortestPrefix(short, new Budget(pred, { stepsMax: 10, msMax: 1000 }))).toBe(short);
  });

  it('makes minimizing a long trace cheap and still 1-minimal', () => {
    let calls = 0;
    const { ops: out, report } = shrinkOps(ops, (xs) => { calls++; return pred(xs); }, { stepsMax: 5000 });
    expect(las(out)).toEqual([3, 40, 9999]);
    expect(report.stepsExhausted).toBe(false);
    expect(calls).toBeLessThan(150);
    for (let i = 0; i < out.length; i++) expect(pred(out.filter((_, j) => j !== i))).toBe(false);
  });

  it('yields after every evaluation (at least), and stepping it gives the same result as running it whole', () => {
    let calls = 0;
    const steps = shrinkSteps(ops, (xs) => { calls++; return pred(xs); }, { stepsMax: 5000 });
    let yields = 0;
    let r = steps.next();
    while (r.done !== true) { yields++; r = steps.next(); }
    expect(yields).toBeGreaterThanOrEqual(calls); // memo hits yield too
    expect(r.value.ops).toEqual(shrinkOps(ops, pred, { stepsMax: 5000 }).ops);
    expect(drive(prefixSteps(ops, new Budget(pred, { stepsMax: 100, msMax: 1000 })))).toHaveLength(42);
  });
});
