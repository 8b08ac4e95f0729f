/**
 * `hv_exit` carries the size of the access that exited (issue 12): the bytes of the guest access
 * in the exit's page (KVM_EXIT_MMIO's `len` for the fragment that exited), or 8 for a guest
 * paging-structure access. The hypervisor and the model agree on it (each case runs `clean`).
 */
import { describe, expect, it } from 'vitest';
import type { AnyOp } from '../../../src/trace/ops.js';
import { outcomeJson } from '../../../src/cli/commands/replay.js';
import { NP_SETUP, clean, fetch, fmt, read, write } from './helpers.js';

const last = (ops: AnyOp[]): string => fmt(clean(ops).at(-1)!);

describe('hv_exit size', () => {
  it('an access outside every memslot exits as MMIO with its own size', () => {
    expect(last([...NP_SETUP, read(0, 0x10002, 4)])).toBe('hv_exit mmio gpa=0x10002 size=4 info=0x0 exits=[48]');
    expect(last([...NP_SETUP, write(0, 0x10001, 0x55n, 1)])).toBe('hv_exit mmio gpa=0x10001 size=1 info=0x0 exits=[48]');
  });

  it('a page-crossing access reports the part that exited (the second page here: 4 of 8 bytes)', () => {
    // gfn 0x5ff is the memslot's last page; gfn 0x600 is outside it.
    expect(last([...NP_SETUP, read(0, 0x5ffffc, 8)])).toBe('hv_exit mmio gpa=0x600000 size=4 info=0x0 exits=[48,48]');
  });

  it('a memory fault reports the page (as KVM) and the bytes of the access in it', () => {
    const ops: AnyOp[] = [...NP_SETUP, { op: 'set_mem_attrs', vm: 2, gpa: 0x201000n, size: 0x1000n, attrs: 2n, flags: 0n }, write(0, 0x200fff, 0xabcdn, 2)];
    expect(last(ops)).toMatch(/^hv_exit memory_fault gpa=0x201000 size=1 info=0x2 exits=\[/);
  });

  it('an exit of the guest walk (its page table protected by VTL 1) is an 8-byte paging-structure access', () => {
    const T = 0x300000;
    const ops: AnyOp[] = [
      ...NP_SETUP,
      write(0, T, BigInt(T + 0x1000) | 7n),
      write(0, T + 0x1000 + 8, BigInt(T + 0x2000) | 7n),
      write(0, T + 0x2000, BigInt(T + 0x3000) | 7n),
      write(0, T + 0x3000, 0x201000n | 7n),
      { op: 'set_reg', cpu: 0, reg: 'cr3', value: BigInt(T) },
      { op: 'set_reg', cpu: 0, reg: 'cr0', value: 0x80010001n },
      { op: 'vcpu_load', cpu: 1, vm: 2 },
      { op: 'vtl_call', cpu: 1 },
      { op: 'vtl_protect', cpu: 1, target: 1, gfn: 0x303, count: 1, flags: 0x10000 },
      fetch(0, 0x40000000, 2),
    ];
    expect(last(ops)).toBe('hv_exit intercept gpa=0x303000 size=8 info=0x1 exits=[48]');
  });

  it('replay --json carries it', () => {
    expect(outcomeJson({ kind: 'hv_exit', exit: 'mmio', gpa: 0x10002, size: 4, info: 0, exits: [48] }))
      .toEqual({ kind: 'hv_exit', exit: 'mmio', gpa: '0x10002', size: 4, info: '0x0', exits: [48] });
  });
});
