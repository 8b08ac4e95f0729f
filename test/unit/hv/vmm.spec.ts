/**
 * The VMM ioctls and the guest access path: memslots and lazy mapping (2 MiB where aligned),
 * write protection and access tracking, the KVM SPP API, KVM XO, memory attributes and VTLs;
 * success and error paths, each checked against the reference model and the invariants.
 */
import { describe, expect, it } from 'vitest';
import type { AnyOp } from '../../../src/trace/ops.js';
import { NP_SETUP, PVM_SETUP, clean, fetch, hvConfig, read, rets, write } from './helpers.js';

const R = (v: number): string => `ret ${v}`;

describe('VMs, memslots, lazy mapping', () => {
  it('a fault maps a 2 MiB block once; neighbours need no exit; a 4 KiB-only tail page maps alone', () => {
    expect(rets(clean([
      ...NP_SETUP,
      write(0, 0x400010, 7n),
      read(0, 0x5ff010),
      read(0, 0x200008),
      read(0, 0x200008),
      read(1, 0x600010),
    ]).slice(3))).toEqual(['handled exits=[48] ok', 'data 0x0', 'handled exits=[48] data 0x0', 'data 0x0', 'data 0x7']);
  });
  it('memslot errors: unknown VM, protected VM, unknown flags, overlap, beyond RAM, delete unknown; move and delete unshare', () => {
    expect(rets(clean([
      ...NP_SETUP,
      { op: 'vm_create', vm: 3, type: 'protected' },
      { op: 'memslot_set', vm: 9, slot: 1, gfn: 0x1000, pfn: 0x900, pages: 1, flags: 0 },
      { op: 'memslot_set', vm: 3, slot: 1, gfn: 0x1000, pfn: 0x900, pages: 1, flags: 0 },
      { op: 'memslot_set', vm: 2, slot: 1, gfn: 0x1000, pfn: 0x900, pages: 1, flags: 1 },
      { op: 'memslot_set', vm: 2, slot: 1, gfn: 0x300, pfn: 0x900, pages: 1, flags: 0 },
      { op: 'memslot_set', vm: 2, slot: 1, gfn: 0x1000, pfn: 0x1eff, pages: 2, flags: 0 },
      { op: 'memslot_set', vm: 2, slot: 5, gfn: 0, pfn: 0, pages: 0, flags: 0 },
      { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x200, pfn: 0x400, pages: 1024, flags: 2 },
      write(0, 0x200000, 1n),
      { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x1200, pfn: 0x400, pages: 1024, flags: 0 },
      read(0, 0x200000),
      read(0, 0x1200000),
      { op: 'memslot_set', vm: 2, slot: 0, gfn: 0, pfn: 0, pages: 0, flags: 0 },
      read(0, 0x1200000),
    ]).slice(3))).toEqual([R(0), R(-22), R(-22), R(-22), R(-17), R(-22), R(-22), R(-22), 'handled exits=[48] ok', R(0),
      'hv_exit mmio gpa=0x200000 size=8 info=0x0 exits=[48]', 'handled exits=[48] data 0x1', R(0), 'hv_exit mmio gpa=0x1200000 size=8 info=0x0 exits=[48]']);
  });
  it('a read-only memslot: reads map, writes exit to user space as MMIO', () => {
    expect(rets(clean([
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x10, pfn: 0x40, pages: 4, flags: 2 },
      { op: 'vcpu_load', cpu: 0, vm: 2 },
      read(0, 0x10000),
      write(0, 0x10000, 1n),
    ]).slice(3))).toEqual(['handled exits=[48] data 0x0', 'hv_exit mmio gpa=0x10000 size=8 info=0x0 exits=[48]']);
  });
  it('vcpu_load errors, register checks, hardware-only ops', () => {
    expect(rets(clean([
      { op: 'vcpu_load', cpu: 0, vm: 7 },
      { op: 'set_reg', cpu: 0, reg: 'cr0', value: 0x180000001n },
      { op: 'set_reg', cpu: 0, reg: 'cpl', value: 4n },
      { op: 'set_reg', cpu: 0, reg: 'cpl', value: 3n },
      { op: 'invept', cpu: 0, type: 2, eptp: 0n },
    ]))).toEqual([R(-2), 'gp', 'gp', 'ok', R(-1)]);
  });
});

describe('dirty logging and access tracking', () => {
  it('write protection: reads still run, the first write takes one exit, then writes run', () => {
    expect(rets(clean([
      ...NP_SETUP,
      write(0, 0x200000, 1n),
      { op: 'vm_write_protect', vm: 2, gfn: 0x200, pages: 1 },
      read(0, 0x200000),
      write(0, 0x3ff000, 2n),
      write(0, 0x200000, 3n),
      { op: 'vm_age', vm: 2, gfn: 0x200, pages: 512 },
      read(0, 0x210000),
      read(0, 0x200000),
    ]).slice(3))).toEqual(['handled exits=[48] ok', R(0), 'data 0x1', 'handled exits=[48] ok', 'ok', R(0), 'handled exits=[48] data 0x0', 'data 0x3']);
  });
});

describe('KVM SPP API', () => {
  const spp: AnyOp[] = [...NP_SETUP, { op: 'spp_enable', vm: 2 }];
  it('set splits the 2 MiB leaf; a denied write exits KVM_EXIT_SPP and changes nothing; a writable sub-page runs; get returns the map', () => {
    expect(rets(clean([
      ...spp,
      write(0, 0x200100, 0xaan),
      { op: 'spp_set', vm: 2, gfn: 0x201, npages: 2, flags: 0, map: 0xfffffffe },
      write(0, 0x201010, 0xbbn),
      write(0, 0x201090, 0xccn),
      read(0, 0x201010),
      write(0, 0x202010, 0xddn),
      write(0, 0x20007c, 0x1122334455667788n),
      { op: 'spp_get', vm: 2, gfn: 0x201 },
      { op: 'spp_get', vm: 2, gfn: 0x205 },
      { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xffffffff },
      write(0, 0x201010, 0xbbn),
    ]).slice(4))).toEqual(['handled exits=[48] ok', R(2), 'hv_exit spp gpa=0x201010 size=8 info=0x0 exits=[66,48]', 'ok', 'data 0x0',
      'hv_exit spp gpa=0x202010 size=8 info=0x0 exits=[48]', 'ok', 'ret 4294967294', 'ret 4294967295', R(1), 'ok']);
  });
  it('SPP survives write protection and access tracking', () => {
    expect(rets(clean([
      ...spp,
      { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe },
      write(0, 0x201080, 1n),
      { op: 'vm_write_protect', vm: 2, gfn: 0x200, pages: 4 },
      write(0, 0x201000, 2n),
      write(0, 0x201080, 3n),
      { op: 'vm_age', vm: 2, gfn: 0x201, pages: 1 },
      write(0, 0x201000, 4n),
    ]).slice(4))).toEqual([R(1), 'handled exits=[48,66] ok', R(0), 'hv_exit spp gpa=0x201000 size=8 info=0x0 exits=[48,48]', 'ok', R(0), 'hv_exit spp gpa=0x201000 size=8 info=0x0 exits=[48,48]']);
  });
  it('errors: not enabled, flags, npages 0 and 513, outside memslots, enable twice / on a protected VM', () => {
    expect(rets(clean([
      ...NP_SETUP,
      { op: 'vm_create', vm: 3, type: 'protected' },
      { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0 },
      { op: 'spp_get', vm: 2, gfn: 0x201 },
      { op: 'spp_enable', vm: 2 },
      { op: 'spp_enable', vm: 2 },
      { op: 'spp_enable', vm: 3 },
      { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 1, map: 0 },
      { op: 'spp_set', vm: 2, gfn: 0x201, npages: 0, flags: 0, map: 0 },
      { op: 'spp_set', vm: 2, gfn: 0x201, npages: 513, flags: 0, map: 0 },
      { op: 'spp_set', vm: 2, gfn: 0x5ff, npages: 2, flags: 0, map: 0 },
      { op: 'spp_get', vm: 2, gfn: 0x100 },
    ]).slice(3))).toEqual([R(0), R(-22), R(-22), R(0), R(-17), R(-22), R(-22), R(-22), R(-22), R(-14), R(-14)]);
  });
});

describe('KVM XO', () => {
  it('the alias is execute-only: fetches map and run, reads and writes are #PF with the RFC codes', () => {
    const alias = 2 ** 45;
    expect(rets(clean([
      ...NP_SETUP,
      read(0, alias + 0x200010),
      fetch(0, alias + 0x200010),
      { op: 'set_reg', cpu: 0, reg: 'cpl', value: 3n },
      write(0, alias + 0x200010, 1n),
      fetch(0, alias + 0x200010),
    ]).slice(3))).toEqual(['pf code=0x1 cr2=0x200000200010', 'handled exits=[48] ok', 'ok', 'pf code=0x7 cr2=0x200000200010', 'ok']);
  });
  it('an execute-only memslot: fetch runs, a read is a memory fault', () => {
    expect(rets(clean([
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x10, pfn: 0x40, pages: 1, flags: 4 },
      { op: 'vcpu_load', cpu: 0, vm: 2 },
      fetch(0, 0x10000),
      read(0, 0x10000),
    ]).slice(3))).toEqual(['handled exits=[48] ok', 'hv_exit memory_fault gpa=0x10000 size=8 info=0x1 exits=[48]']);
  });
});

describe('memory attributes', () => {
  it('RWX attributes: NW makes writes a memory fault, the no-op fast path returns 0, clearing restores', () => {
    expect(rets(clean([
      ...NP_SETUP,
      write(0, 0x200000, 1n),
      { op: 'set_mem_attrs', vm: 2, gpa: 0x200000n, size: 0x2000n, attrs: 2n, flags: 0n },
      { op: 'set_mem_attrs', vm: 2, gpa: 0x200000n, size: 0x2000n, attrs: 2n, flags: 0n },
      read(0, 0x200000),
      write(0, 0x201000, 1n),
      write(0, 0x202000, 1n),
      { op: 'set_mem_attrs', vm: 2, gpa: 0x200000n, size: 0x1000n, attrs: 0n, flags: 0n },
      write(0, 0x200000, 2n),
    ]).slice(3))).toEqual(['handled exits=[48] ok', R(0), R(0), 'data 0x1', 'hv_exit memory_fault gpa=0x201000 size=8 info=0x2 exits=[48]', 'ok', R(0), 'ok']);
  });
  it('validation order and all-or-nothing', () => {
    expect(rets(clean([
      ...NP_SETUP,
      { op: 'set_mem_attrs', vm: 2, gpa: 0x1001n, size: 0n, attrs: 16n, flags: 1n },
      { op: 'set_mem_attrs', vm: 2, gpa: 0x1001n, size: 0n, attrs: 16n, flags: 0n },
      { op: 'set_mem_attrs', vm: 2, gpa: 0x1001n, size: 0n, attrs: 8n, flags: 0n },
      { op: 'set_mem_attrs', vm: 2, gpa: 0x1001n, size: 0n, attrs: 1n, flags: 0n },
      { op: 'set_mem_attrs', vm: 2, gpa: 0x1001n, size: 0n, attrs: 3n, flags: 0n },
      { op: 'set_mem_attrs', vm: 2, gpa: 0x1001n, size: 0x1000n, attrs: 3n, flags: 0n },
      { op: 'set_mem_attrs', vm: 2, gpa: 0xfffffffffffff000n, size: 0x1000n, attrs: 2n, flags: 0n },
      { op: 'set_mem_attrs', vm: 2, gpa: 0x1000n, size: 0x1000n * 1025n, attrs: 2n, flags: 0n },
      write(0, 0x201000, 1n),
    ]).slice(3))).toEqual([R(-22), R(-22), R(-22), R(-22), R(-22), R(-22), R(-22), R(-12), 'handled exits=[48] ok']);
  });
  it('PRIVATE on a protected VM: a private access to a shared gfn is KVM_EXIT_MEMORY_FAULT with the PRIVATE flag', () => {
    expect(rets(clean([
      ...PVM_SETUP,
      read(0, 0x5000),
      { op: 'set_mem_attrs', vm: 3, gpa: 0x5000n, size: 0x1000n, attrs: 0n, flags: 0n },
      read(0, 0x5000),
      read(0, 0x9000),
      { op: 'set_mem_attrs', vm: 3, gpa: 0x5000n, size: 0x1000n, attrs: 9n, flags: 0n },
    ]).slice(4))).toEqual(['data 0x0', R(0), 'hv_exit memory_fault gpa=0x5000 size=8 info=0x9 exits=[48]', 'hv_exit memory_fault gpa=0x9000 size=8 info=0x9 exits=[48]', R(-22)]);
  });
});

describe('VTLs', () => {
  it('VTL1 protects a page of VTL0 (TargetVtl 1, as a VTL1 kernel passes it): the violation is a secure intercept into VTL1; other vCPUs see it at once', () => {
    expect(rets(clean([
      ...NP_SETUP,
      { op: 'vcpu_load', cpu: 1, vm: 2 },
      write(1, 0x200000, 5n),
      { op: 'vtl_call', cpu: 0 },
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x200, count: 1, flags: 0xd },
      read(0, 0x200000),
      write(1, 0x200000, 6n),
      read(1, 0x200000),
      { op: 'vtl_return', cpu: 1 },
      { op: 'vtl_return', cpu: 1 },
    ]).slice(3))).toEqual([R(0), 'handled exits=[48] ok', 'ok', R(0), 'handled exits=[48] data 0x5', 'hv_exit intercept gpa=0x200000 size=8 info=0x1 exits=[48]',
      'data 0x5', 'ok', 'ud']);
  });
  it('errors: a target above the caller, VTL 0 as target, bad flag combinations, non-RAM; vtl_call at CPL 3 or the top is #UD', () => {
    expect(rets(clean([
      ...NP_SETUP,
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x200, count: 1, flags: 1 }, // VTL 0 may not set VTL 1's protections
      { op: 'vtl_call', cpu: 0 },
      { op: 'vtl_call', cpu: 0 },
      { op: 'vtl_protect', cpu: 0, target: 2, gfn: 0x200, count: 1, flags: 1 }, // above the caller (and beyond the VTLs)
      { op: 'vtl_protect', cpu: 0, target: 0, gfn: 0x200, count: 1, flags: 1 }, // VTL 0 has no lower VTL
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x200, count: 1, flags: 2 }, // W without R
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x200, count: 1, flags: 0x10001 },
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x5ff, count: 2, flags: 1 }, // gfn 0x600 is not RAM
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x200, count: 1, flags: 0x10000 },
      { op: 'vtl_return', cpu: 0 },
      { op: 'set_reg', cpu: 0, reg: 'cpl', value: 3n },
      { op: 'vtl_call', cpu: 0 },
      read(0, 0x200000),
    ]).slice(3))).toEqual([R(6), 'ok', 'ud', R(6), R(5), R(5), R(5), R(5), R(0), 'ok', 'ok', 'ud', 'hv_exit intercept gpa=0x200000 size=8 info=0x1 exits=[48,48]']);
  });
  it('with 4 VTLs a VTL\'s protections bind every VTL below it and not itself; a higher VTL may set a lower one\'s; openhcl reports non-RAM as OPERATION_DENIED', () => {
    const cfg = hvConfig({ hv: { vtls: 4, vtlNonRam: 'openhcl' } });
    expect(rets(clean([
      ...NP_SETUP,
      { op: 'vtl_call', cpu: 0 }, { op: 'vtl_call', cpu: 0 }, // cpu 0 in VTL 2
      { op: 'vtl_protect', cpu: 0, target: 2, gfn: 0x200, count: 1, flags: 0x1 }, // VTL 2: VTLs 0 and 1 may only read
      { op: 'vtl_protect', cpu: 0, target: 3, gfn: 0x200, count: 1, flags: 0x1 }, // above the caller
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x200, count: 1, flags: 0x10000 }, // VTL 1's protection for VTL 0, set by VTL 2
      { op: 'vtl_protect', cpu: 0, target: 2, gfn: 0x900, count: 1, flags: 0x10000 },
      write(0, 0x200000, 7n), // VTL 2 is not bound by its own protection
      { op: 'vtl_return', cpu: 0 }, // VTL 1
      read(0, 0x200000),
      write(0, 0x200000, 8n), // VTL 2's protection: intercept to VTL 2
      { op: 'vtl_return', cpu: 0 }, { op: 'vtl_return', cpu: 0 }, // VTL 0
      read(0, 0x200000), // VTL 2 allows the read, VTL 1 does not: intercept to VTL 1
      { op: 'vtl_return', cpu: 0 },
      read(0, 0x200000), // back in VTL 0: VTL 1 still forbids it
    ], cfg).slice(5))).toEqual([R(0), R(6), R(0), R(8), 'handled exits=[48] ok', 'ok', 'handled exits=[48] data 0x7',
      'hv_exit intercept gpa=0x200000 size=8 info=0x2 exits=[48]', 'ok', 'ok', 'hv_exit intercept gpa=0x200000 size=8 info=0x1 exits=[48]', 'ok',
      'hv_exit intercept gpa=0x200000 size=8 info=0x1 exits=[48]']);
  });
});
