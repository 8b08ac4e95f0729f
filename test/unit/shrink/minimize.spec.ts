import { describe, expect, it } from 'vitest';
import { shrinkOps } from '../../../src/shrink/minimize.js';
import { ddmin } from '../../../src/shrink/ddmin.js';
import { Budget } from '../../../src/shrink/budget.js';
import type { Op } from '../../../src/trace/ops.js';

const read = (la: number): Op => ({ op: 'read', cpu: 0, la, size: 8 });
const has = (ops: Op[], la: number): boolean => ops.some((o) => o.op === 'read' && o.la === la);

describe('ddmin', () => {
  it('reaches a 1-minimal list on a synthetic predicate (needs 3, 17 and 40 in order)', () => {
    const ops = Array.from({ length: 64 }, (_, i) => read(i));
    const pred = (xs: Op[]): boolean => {
      const las = xs.map((o) => (o as { la: number }).la);
      const a = las.indexOf(3); const b = las.indexOf(17); const c = las.indexOf(40);
      return a >= 0 && b > a && c > b;
    };
    const out = ddmin(ops, new Budget(pred, { stepsMax: 10_000, msMax: 60_000 }));
    expect(out.map((o) => (o as { la: number }).la)).toEqual([3, 17, 40]);
    for (let i = 0; i < out.length; i++) expect(pred(out.filter((_, j) => j !== i))).toBe(false);
  });

  it('memoizes: never evaluates the same candidate twice', () => {
    const seen = new Set<string>();
    let dup = 0;
    const pred = (xs: Op[]): boolean => {
      const k = JSON.stringify(xs, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      if (seen.has(k)) dup++;
      seen.add(k);
      return has(xs, 5) && has(xs, 9);
    };
    shrinkOps(Array.from({ length: 32 }, (_, i) => read(i)), pred);
    expect(dup).toBe(0);
  });
});

describe('shrinkOps', () => {
  it('simplifies operands: values toward fewer bits, sizes smaller, cpu 0', () => {
    const ops: Op[] = [
      read(1),
      { op: 'write', cpu: 1, la: 0x1ffe, size: 8, value: 0xdead_beef_0000_1234n },
      read(2),
    ];
    const pred = (xs: Op[]): boolean => xs.some((o) => o.op === 'write' && (o.value & 0x10n) !== 0n);
    const { ops: out, report } = shrinkOps(ops, pred);
    expect(out).toEqual([{ op: 'write', cpu: 0, la: 0x1ffe, size: 1, value: 0x10n }]);
    expect(report).toMatchObject({ opsBefore: 3, opsAfter: 1, stepsExhausted: false, timedOut: false });
  });

  it('keeps entry address bits when clearing entry bits', () => {
    const ops: Op[] = [{ op: 'ept_set', cpu: 0, gpa: 0x4000_0000, level: 1, entry: 0x8000_0000_0123_4777n }];
    const { ops: out } = shrinkOps(ops, (xs) => xs.length === 1 && (xs[0] as { entry: bigint }).entry !== 0n);
    expect((out[0] as { entry: bigint }).entry).toBe(0x0123_4000n);
  });

  it('respects the step budget and says so', () => {
    let calls = 0;
    const pred = (xs: Op[]): boolean => { calls++; return has(xs, 7); };
    const { report, ops } = shrinkOps(Array.from({ length: 200 }, (_, i) => read(i)), pred, { stepsMax: 10 });
    expect(calls).toBeLessThanOrEqual(10);
    expect(report.stepsExhausted).toBe(true);
    expect(pred(ops)).toBe(true);
  });

  it('respects the time budget (injected clock)', () => {
    let t = 0;
    const { report } = shrinkOps(Array.from({ length: 200 }, (_, i) => read(i)), (xs) => { t += 10; return has(xs, 7); }, { msMax: 50, now: () => t });
    expect(report.timedOut).toBe(true);
  });

  it('returns the input unchanged when the predicate does not hold', () => {
    const ops = [read(1), read(2)];
    expect(shrinkOps(ops, () => false).ops).toBe(ops);
  });
});
