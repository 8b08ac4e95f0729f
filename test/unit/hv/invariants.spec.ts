/**
 * Every hypervisor invariant fires on a deliberately broken state (raw EPT entries or the
 * hypervisor's bookkeeping changed behind its back), and stays quiet on the correct run.
 */
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../../src/hv/hypervisor.js';
import { HV_INVARIANTS, checkHvInvariants } from '../../../src/check/hv/invariants.js';
import { MEMATTR_NW, OWNER_SHIFT_LO, PS_OWNED, PS_SHARED_BORROWED, STATE_MASK_HI, STATE_SHIFT_HI } from '../../../src/hv/consts.js';
import type { AnyOp } from '../../../src/trace/ops.js';
import { NP_SETUP, PVM_SETUP, hvConfig, read, write } from './helpers.js';

function boot(ops: AnyOp[]): Hypervisor {
  const hv = new Hypervisor(hvConfig());
  for (const op of ops) hv.apply(op);
  expect(checkHvInvariants(hv, true)).toEqual([]);
  return hv;
}

const ids = (hv: Hypervisor, full = true): string[] => [...new Set(checkHvInvariants(hv, full).map((f) => f.invariant))];
const NP_MAPPED: AnyOp[] = [...NP_SETUP, write(0, 0x200000, 1n)];

describe('each hv invariant fires on a broken state', () => {
  it('pkvm.unique-owner: the host leaf of a donated page made OWNED again', () => {
    const hv = boot(PVM_SETUP);
    hv.host.find(0x20 * 4096);
    hv.host.rewrite((0x20 * 4096) | 7 | (6 << 3), PS_OWNED << STATE_SHIFT_HI);
    expect(ids(hv)).toContain(HV_INVARIANTS.uniqueOwner);
  });
  it('pkvm.share-pairing: a guest borrows a page whose host leaf is plain OWNED', () => {
    const hv = boot([{ op: 'vm_create', vm: 2, type: 'np' }, { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 1, nr: 1, prot: 7 }]);
    hv.host.find(0x40 * 4096);
    hv.host.rewrite(hv.host.lo, PS_OWNED << STATE_SHIFT_HI);
    expect(ids(hv)).toContain(HV_INVARIANTS.sharePairing);
  });
  it('pkvm.hyp-isolation: a guest leaf pointing into the hypervisor pool', () => {
    const hv = boot([{ op: 'vm_create', vm: 2, type: 'np' }]);
    const poolFrame = hv.pool.first + 3;
    hv.vms.get(2)!.views[0].install(0x7000, 1, (poolFrame * 4096) | 7 | (6 << 3), PS_SHARED_BORROWED << STATE_SHIFT_HI);
    expect(ids(hv)).toContain(HV_INVARIANTS.hypIsolation);
  });
  it('pkvm.donated-unmapped: the host leaf of a donated page made present', () => {
    const hv = boot(PVM_SETUP);
    hv.host.find(0x20 * 4096);
    hv.host.rewrite(hv.host.lo | 7, hv.host.hi);
    expect(ids(hv)).toContain(HV_INVARIANTS.donatedUnmapped);
  });
  it('pkvm.no-content-leak: a private page handed back with data in it', () => {
    const hv = boot([...PVM_SETUP, write(0, 0x5000, 0x99n)]);
    hv.returnedPrivate.push(0x20);
    expect(ids(hv, false)).toContain(HV_INVARIANTS.noContentLeak);
  });
  it('pkvm.state-coherence: a guest leaf whose state bits disagree with the page record', () => {
    const hv = boot(PVM_SETUP);
    const t = hv.vms.get(3)!.views[0];
    t.find(0x5000);
    t.rewrite(t.lo, (t.hi & ~STATE_MASK_HI) | (PS_SHARED_BORROWED << STATE_SHIFT_HI));
    expect(ids(hv)).toContain(HV_INVARIANTS.stateCoherence);
  });
  it('hv.failed-call-no-change: a failed call that changed state', () => {
    const hv = boot([]);
    hv.apply({ op: 'host_donate_hyp', pfn: 0x10, nr: 0n });
    hv.mutations++;
    expect(ids(hv, false)).toContain(HV_INVARIANTS.failedCallNoChange);
  });
  it('hv.no-stale-access: a leaf cleared without a flush while a cpu caches it', () => {
    const hv = boot(NP_MAPPED);
    const t = hv.vms.get(2)!.views[0];
    t.find(0x200000);
    t.rewrite(0, 0);
    hv.noteReduced(t.root, 0x200);
    expect(ids(hv, false)).toContain(HV_INVARIANTS.noStaleAccess);
  });
  it('spp.subpage-write: a write reported complete on a protected sub-page', () => {
    const hv = boot([...NP_SETUP, { op: 'spp_enable', vm: 2 }, { op: 'spp_set', vm: 2, gfn: 0x200, npages: 1, flags: 0, map: 0xfffffffe }]);
    hv.lastOp = write(0, 0x200000, 1n);
    hv.lastOutcome = { kind: 'ok' };
    expect(ids(hv, false)).toContain(HV_INVARIANTS.sppSubpageWrite);
  });
  it('xo.alias-not-readable: an alias leaf given R', () => {
    const hv = boot([...NP_SETUP, { op: 'fetch', cpu: 0, la: 2 ** 45 + 0x200000, size: 4 }]);
    const t = hv.vms.get(2)!.views[0];
    t.find(2 ** 45 + 0x200000);
    t.rewrite(t.lo | 1, t.hi);
    expect(ids(hv)).toContain(HV_INVARIANTS.xoAliasNotReadable);
  });
  it('memattr.respected: an attribute stored without recomputing the leaf', () => {
    const hv = boot(NP_MAPPED);
    hv.vms.get(2)!.attrs.set(0x200, MEMATTR_NW);
    expect(ids(hv)).toContain(HV_INVARIANTS.memattrRespected);
  });
  it('vtl.lower-cannot-exceed-higher: a VTL1 protection stored without recomputing VTL0\'s leaf', () => {
    const hv = boot([...NP_MAPPED, read(0, 0x201000)]);
    const vm = hv.vms.get(2)!;
    vm.views[0].split(0x200000, 2);
    vm.protMap(1, true)!.set(0x200, 1); // VTL 1's protection (binds VTL 0)
    expect(ids(hv)).toContain(HV_INVARIANTS.vtlLowerCannotExceedHigher);
  });
  it('the owner field of a host NOPAGE leaf is read from bits 31:12', () => {
    const hv = boot(PVM_SETUP);
    hv.host.find(0x20 * 4096);
    expect(hv.host.lo >>> OWNER_SHIFT_LO).toBe(3);
    expect(hv.host.lo & 7).toBe(0);
  });
});
