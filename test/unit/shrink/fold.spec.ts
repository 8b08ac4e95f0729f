import { describe, expect, it } from 'vitest';
import { Budget } from '../../../src/shrink/budget.js';
import { foldLeaves } from '../../../src/shrink/fold.js';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { makeTrace } from '../../../src/gen/generate.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import type { Op } from '../../../src/trace/ops.js';

const KEY = 5n << 59n;
const pde: Op = { op: 'gpt_set', cpu: 0, la: 0x20_0000, level: 2, entry: 0x3003n };
const pte: Op = { op: 'gpt_set', cpu: 0, la: 0x20_1000, level: 1, entry: 0x40_3005n | KEY };
const read: Op = { op: 'read', cpu: 0, la: 0x20_1008, size: 8 };
const keyed = (xs: Op[]): boolean => xs.some((o) => o.op === 'gpt_set' && (o.entry & KEY) === KEY);

describe('fold pass', () => {
  it('folds a level-2 table entry and a level-1 leaf of the same 2 MiB region into one 2 MiB leaf', () => {
    const r = foldLeaves([pde, pte, read], new Budget(keyed, { stepsMax: 100, msMax: 60_000 }));
    expect(r.changed).toBe(true);
    // Flags and key of the 4 KiB leaf, PS, its address aligned down to 2 MiB.
    expect(r.ops).toEqual([{ ...pde, entry: 0x40_0085n | KEY }, read]);
  });

  it('leaves pairs alone when the predicate rejects the fold, or the leaf is in another region', () => {
    expect(foldLeaves([pde, pte, read], new Budget(() => false, { stepsMax: 100, msMax: 60_000 }))).toEqual({ ops: [pde, pte, read], changed: false });
    const far: Op = { ...pte, la: 0x40_1000 };
    let calls = 0;
    expect(foldLeaves([pde, far, read], new Budget(() => { calls++; return true; }, { stepsMax: 100, msMax: 60_000 })).changed).toBe(false);
    expect(calls).toBe(0);
  });

  it('folds the generator layout on the machine: the same access through one op less', () => {
    const ept: Op[] = [
      { op: 'ept_set', cpu: 0, gpa: 0, level: 4, entry: 0x2007n },
      { op: 'ept_set', cpu: 0, gpa: 0, level: 3, entry: 0x3007n },
      { op: 'ept_set', cpu: 0, gpa: 0, level: 2, entry: 0x100_0087n },
      { op: 'gpt_set', cpu: 0, la: 0x20_0000, level: 4, entry: 0x1007n },
      { op: 'gpt_set', cpu: 0, la: 0x20_0000, level: 3, entry: 0x2007n },
    ];
    const leaf: Op = { op: 'gpt_set', cpu: 0, la: 0x20_1000, level: 1, entry: 0x5007n };
    const ops = [...ept, { ...pde, entry: 0x3007n }, leaf, { op: 'write', cpu: 0, la: 0x20_1008, size: 8, value: 1n } as Op];
    const fine = (xs: Op[]): boolean => checkTrace(makeTrace(normalizeConfig(), xs), TARGETS.model).first === null;
    const r = foldLeaves(ops, new Budget(fine, { stepsMax: 100, msMax: 60_000 }));
    expect(r.ops).toHaveLength(ops.length - 1);
    expect(r.ops[5]).toEqual({ ...pde, entry: 0x87n });
  });
});
