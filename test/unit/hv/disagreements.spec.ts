/**
 * Regressions for cases where the correct hypervisor and the reference model used to disagree
 * (false failures of `fuzz --mode hv`).
 */
import { describe, expect, it } from 'vitest';
import type { AnyOp } from '../../../src/trace/ops.js';
import { clean, fmt, hvConfig, read, write } from './helpers.js';

describe('hv model/hypervisor agreement regressions', () => {
  it('paging off, a GPA at 2^MAXPHYADDR (XO bit clear) is an EPT violation, not the XO #PF (semantics.md step 7)', () => {
    const ops: AnyOp[] = [
      { op: 'vm_create', vm: 3, type: 'protected' },
      { op: 'host_donate_guest', vm: 3, pfn: 0x40, gfn: 1 },
      { op: 'vcpu_load', cpu: 1, vm: 3 },
      write(1, 0x400000000000, 0n, 1),
      read(1, 0x400000000000, 1),
      read(1, 0x200000000000, 1),
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'vcpu_load', cpu: 0, vm: 2 },
      read(0, 0x400000001000, 1),
      write(0, 0x600000002000, 0n, 1),
    ];
    const outs = clean(ops, hvConfig({ maxPhyAddr: 46 }));
    // Protected VM: every access is private; the gfn has no PRIVATE attribute (§4).
    expect(fmt(outs[3])).toContain('hv_exit memory_fault gpa=0x400000000000 info=0xa');
    expect(fmt(outs[4])).toContain('hv_exit memory_fault gpa=0x400000000000 info=0x9');
    expect(fmt(outs[5])).toBe('pf code=0x1 cr2=0x200000000000');
    // np VM: outside every memslot is MMIO to user space; bit 45 set is the XO #PF.
    expect(fmt(outs[8])).toContain('hv_exit mmio gpa=0x400000001000');
    expect(fmt(outs[9])).toBe('pf code=0x3 cr2=0x600000002000');
  });
});
