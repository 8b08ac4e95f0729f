/**
 * Regression (found by differential fuzzing, model vs machine): guest and EPT entries are read
 * as unsigned 32-bit halves; an entry with bit 31 set and A already set must not be rewritten.
 * The bug made the machine "update" such a PDE, which needs EPT write access to its table page:
 * a read-only table page then gave a spurious EPT violation (qual 0x8B) instead of the data.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../../src/hw/machine.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import type { Op } from '../../../src/trace/ops.js';

describe('entries with bit 31 set', () => {
  it('an accessed 2 MiB leaf at GPA 0x80000000 in a read-only table page reads without an EPT write', () => {
    const m = new Machine(normalizeConfig({}));
    const ops: Op[] = [
      { op: 'set_eptp', cpu: 0, value: 0x1en }, // EPT A/D off: page-walk reads are plain reads
      { op: 'ept_set', cpu: 0, gpa: 0, level: 4, entry: 0x2007n },
      { op: 'ept_set', cpu: 0, gpa: 0, level: 3, entry: 0x3007n },
      { op: 'ept_set', cpu: 0, gpa: 0, level: 2, entry: 0x4007n },
      { op: 'ept_set', cpu: 0, gpa: 0x10000, level: 1, entry: 0x10037n }, // PML4 page, RW
      { op: 'ept_set', cpu: 0, gpa: 0x11000, level: 1, entry: 0x11037n }, // PDPT page, RW
      { op: 'ept_set', cpu: 0, gpa: 0x12000, level: 1, entry: 0x12031n }, // PD page, read-only
      { op: 'ept_set', cpu: 0, gpa: 0x80000000, level: 3, entry: 0x5007n },
      { op: 'ept_set', cpu: 0, gpa: 0x80000000, level: 2, entry: 0x2000b7n }, // 2 MiB RWX -> HPA 0x200000
      { op: 'set_reg', cpu: 0, reg: 'cr3', value: 0x10000n },
      { op: 'gpt_set', cpu: 0, la: 0x40000000, level: 4, entry: 0x11007n }, // A clear: the A/D pass runs
      { op: 'gpt_set', cpu: 0, la: 0x40000000, level: 3, entry: 0x12027n },
      { op: 'gpt_set', cpu: 0, la: 0x40000000, level: 2, entry: 0x800000a1n }, // P, A, PS; bit 31 of the address
    ];
    for (const op of ops) expect(m.apply(op)).toEqual({ kind: 'ok' });
    expect(m.apply({ op: 'read', cpu: 0, la: 0x40000010, size: 1 })).toEqual({ kind: 'data', value: 0n });
    expect(m.touchedFrames()).toEqual([0x10]); // only the PML4E's A flag (PML4 page, HPA 0x10000)
  });
});
