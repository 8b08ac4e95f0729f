/**
 * hv.pool-conservation: every frame of the hypervisor's pool is free, a reachable table of the
 * host EPT or a VM view, or an SPPT frame, exactly once. Silent on a correct run with teardown;
 * fires on a frame taken and dropped, and on a table frame put back on the free list.
 */
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../../src/hv/hypervisor.js';
import { checkHvInvariants } from '../../../src/check/hv/invariants.js';
import type { AnyOp } from '../../../src/trace/ops.js';
import { NP_SETUP, clean, hvConfig, read, write } from './helpers.js';

function hvAfter(ops: AnyOp[]): Hypervisor {
  const hv = new Hypervisor(hvConfig({ hv: { vtls: 3 } }));
  for (const op of ops) hv.apply(op);
  return hv;
}

const LIFE: AnyOp[] = [
  ...NP_SETUP, { op: 'spp_enable', vm: 2 }, { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe },
  write(0, 0x201000, 1n), { op: 'vtl_call', cpu: 0 }, read(0, 0x201000), { op: 'vcpu_load', cpu: 0, vm: 1 },
];

describe('hv.pool-conservation', () => {
  it('holds through a VM with SPP and two views, its teardown, and a new VM', () => {
    const hv = hvAfter([...LIFE, { op: 'vm_teardown_start', vm: 2 }, { op: 'vm_reclaim', vm: 2, gfn: 0x201 }, { op: 'vm_teardown_finish', vm: 2 }, { op: 'vm_create', vm: 2, type: 'protected' }]);
    expect(checkHvInvariants(hv, true).filter((f) => f.invariant === 'hv.pool-conservation')).toEqual([]);
  });
  it('a frame taken from the pool and held by nothing is a leak', () => {
    const hv = hvAfter(LIFE);
    expect(hv.pool.alloc()).toBeGreaterThan(0);
    expect(checkHvInvariants(hv, true).map((f) => f.coarse)).toContain('pool frames leaked');
  });
  it('a table frame also on the free list is used twice', () => {
    const hv = hvAfter(LIFE);
    hv.pool.release(hv.host.root);
    expect(checkHvInvariants(hv, true).map((f) => f.coarse)).toContain('pool frame used twice');
  });
  it('regression (fuzz --mode hv --seed 4): a 2 MiB leaf over the empty table a 4 KiB share left gives that table back', () => {
    clean([
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x200, pfn: 0x400, pages: 1024, flags: 0 },
      { op: 'host_share_guest', vm: 2, pfn: 0x30, gfn: 0x203, nr: 1, prot: 1 },
      { op: 'vcpu_load', cpu: 1, vm: 2 },
      { op: 'host_unshare_guest', vm: 2, gfn: 0x203, nr: 1 },
      read(1, 0x2013a0, 1),
    ]);
  });
});
