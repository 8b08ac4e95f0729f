/**
 * Each planted hv bug changes behaviour: a short trace where the model or the invariants catch
 * it when the bug is on, and nothing fires when it is off.
 */
import { describe, expect, it } from 'vitest';
import type { AnyOp } from '../../../src/trace/ops.js';
import { CATALOGUE } from '../../../src/bugs/catalogue.js';
import { NP_SETUP, PVM_SETUP, hvConfig, read, run, write } from './helpers.js';

const NP_SHARED: AnyOp[] = [
  { op: 'vm_create', vm: 2, type: 'np' },
  { op: 'vcpu_load', cpu: 0, vm: 2 },
  { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 9, nr: 1, prot: 7 },
];

/** Donations to gfns 1 GiB apart (two table pages each) until the 16-frame pool runs dry. */
const POOL_DRAIN: AnyOp[] = [
  { op: 'vm_create', vm: 3, type: 'protected' },
  ...Array.from({ length: 6 }, (_, i): AnyOp => ({ op: 'host_donate_guest', vm: 3, pfn: 0x200 + i, gfn: i * 2 ** 18 })),
];

const CASES: Record<string, { ops: AnyOp[]; config?: Parameters<typeof hvConfig>[0]; expect: string[] }> = {
  'pkvm-hyp-donate-no-owner-check': { ops: [...PVM_SETUP, { op: 'hyp_donate_host', pfn: 0x20, nr: 1n }], expect: ['fault.exit-reason', 'pkvm.donated-unmapped'] },
  'pkvm-share-hyp-shared-page': { ops: [{ op: 'host_share_hyp', pfn: 0x40 }, ...NP_SHARED], expect: ['fault.exit-reason', 'pkvm.share-pairing'] },
  'pkvm-unshare-no-flush': { ops: [...NP_SHARED, read(0, 0x9000), { op: 'host_unshare_guest', vm: 2, gfn: 9, nr: 1 }, read(0, 0x9000)], expect: ['hv.no-stale-access', 'fault.exit-reason'] },
  'pkvm-reclaim-no-zero': {
    ops: [...PVM_SETUP, write(0, 0x5000, 0x5ec2e7n), { op: 'vcpu_load', cpu: 0, vm: 1 }, { op: 'vm_teardown_start', vm: 3 }, { op: 'vm_reclaim', vm: 3, gfn: 5 }],
    expect: ['mem.no-lost-write', 'pkvm.no-content-leak'],
  },
  'pkvm-range-overflow': { ops: [{ op: 'host_donate_hyp', pfn: 0x10, nr: 2n ** 64n - 4n }], expect: ['fault.exit-reason'] },
  'pkvm-enomem-half-done': { ops: POOL_DRAIN, config: { hv: { poolFrames: 16 } }, expect: ['hv.failed-call-no-change', 'pkvm.unique-owner'] },
  'spp-lost-on-wrprotect': {
    ops: [...NP_SETUP, { op: 'spp_enable', vm: 2 }, { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe },
      write(0, 0x201080, 1n), { op: 'vm_write_protect', vm: 2, gfn: 0x201, pages: 1 }, write(0, 0x201080, 2n), write(0, 0x201000, 3n)],
    expect: ['fault.exit-reason', 'spp.subpage-write'],
  },
  'spp-hugepage-not-split': {
    ops: [...NP_SETUP, { op: 'spp_enable', vm: 2 }, write(0, 0x200000, 1n), { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe }, write(0, 0x201000, 2n)],
    expect: ['fault.exit-reason', 'spp.subpage-write'],
  },
  'memattr-partial-update': {
    ops: [...NP_SETUP, { op: 'set_mem_attrs', vm: 2, gpa: 0x200000n, size: 0x1000n * 1025n, attrs: 2n, flags: 0n }, write(0, 0x200000, 1n)],
    expect: ['hv.failed-call-no-change', 'fault.exit-reason'],
  },
  'pkvm-pin-leak-on-error': {
    // 0x41 is not shared with the hypervisor: the call fails, and must leave 0x40 unpinned.
    ops: [{ op: 'host_share_hyp', pfn: 0x40 }, { op: 'hyp_pin', vm: 1, pfn: 0x40, nr: 2 }, { op: 'host_unshare_hyp', pfn: 0x40 }],
    expect: ['hv.failed-call-no-change', 'fault.exit-reason'],
  },
  'pkvm-ffa-unshare-unchecked': {
    ops: [{ op: 'host_share_hyp', pfn: 0x40 }, { op: 'host_unshare_ffa', pfn: 0x40, nr: 1n }],
    config: { hv: { pkvm: 'arm64' } },
    expect: ['fault.exit-reason', 'pkvm.share-pairing'],
  },
  'pkvm-force-reclaim-no-zero': {
    ops: [...PVM_SETUP, write(0, 0x5000, 0x5ec2e7n), { op: 'host_force_reclaim', pfn: 0x20 }],
    config: { hv: { pkvm: 'arm64' } },
    expect: ['mem.no-lost-write', 'pkvm.no-content-leak'],
  },
  'memattr-range-wrap': {
    ops: [...NP_SETUP, { op: 'set_mem_attrs', vm: 2, gpa: 2n ** 64n - 0x1000n, size: 0x2000n, attrs: 2n, flags: 0n }],
    expect: ['fault.exit-reason'],
  },
  'hv-teardown-table-leak': {
    ops: [...NP_SETUP, write(0, 0x200000, 1n), { op: 'vtl_call', cpu: 0 }, read(0, 0x200000), { op: 'vcpu_load', cpu: 0, vm: 1 },
      { op: 'vm_teardown_start', vm: 2 }, { op: 'vm_reclaim', vm: 2, gfn: 0x200 }, { op: 'vm_teardown_finish', vm: 2 }],
    expect: ['hv.pool-conservation'],
  },
  'hv-enomem-undo-keeps-tables': {
    // A page-crossing read whose second page finds the 23-frame pool short (-ENOMEM): the correct
    // hypervisor gives back the tables its first fault took, so VMs 4 and 5 (two roots each) fit;
    // with the bug they stay, and vm_create 5 gets -ENOMEM where the model counts two free frames.
    ops: [
      { op: 'vm_create', vm: 2, type: 'np' }, { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x200, pfn: 0x400, pages: 1024, flags: 0 },
      { op: 'spp_enable', vm: 2 }, { op: 'vm_create', vm: 3, type: 'protected' },
      { op: 'host_donate_guest', vm: 3, pfn: 0x40, gfn: 1 }, { op: 'host_donate_guest', vm: 3, pfn: 0x43, gfn: 0x201 },
      { op: 'vcpu_load', cpu: 0, vm: 2 }, { op: 'vtl_call', cpu: 0 },
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x3ff, count: 2, flags: 0xd }, write(0, 0x201080, 0n, 1),
      read(0, 0x400ffc, 8), { op: 'vcpu_load', cpu: 0, vm: 1 },
      { op: 'vm_create', vm: 4, type: 'np' }, { op: 'vm_create', vm: 5, type: 'np' },
    ],
    config: { maxPhyAddr: 46, hv: { poolFrames: 23 } },
    expect: ['fault.exit-reason'],
  },
  'pkvm-share-enomem-half-done': {
    // gfns 1 GiB apart need two table pages each: the 16-frame pool runs dry on a share.
    ops: [{ op: 'vm_create', vm: 2, type: 'np' },
      ...Array.from({ length: 6 }, (_, i): AnyOp => ({ op: 'host_share_guest', vm: 2, pfn: 0x200 + i, gfn: i * 2 ** 18, nr: 1, prot: 7 }))],
    config: { hv: { poolFrames: 16 } },
    expect: ['hv.failed-call-no-change'],
  },
  'pkvm-memcache-donate-before-pop': {
    // 0x100 is already in the cache: the second top-up fails there, after 0xff was donated.
    ops: [{ op: 'vm_create', vm: 2, type: 'np' }, { op: 'hv_topup', vm: 2, cpu: 0, pfn: 0x100, nr: 2 }, { op: 'hv_topup', vm: 2, cpu: 0, pfn: 0xff, nr: 2 }],
    config: { hv: { pkvm: 'arm64', memcache: 'vm' } },
    expect: ['hv.failed-call-no-change', 'pkvm.memcache-conservation'],
  },
  'pkvm-undonate-never-donated': {
    // 0x102 is a table of VM 2 (popped by the share): the host takes it back while it maps the guest.
    ops: [{ op: 'vm_create', vm: 2, type: 'np' }, { op: 'vcpu_load', cpu: 0, vm: 2 }, { op: 'hv_topup', vm: 2, cpu: 0, pfn: 0x100, nr: 3 },
      { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 9, nr: 1, prot: 7 }, { op: 'hv_undonate', vm: 2, cpu: 0, pfn: 0x102, nr: 1 }],
    config: { hv: { pkvm: 'arm64', memcache: 'vm' } },
    expect: ['fault.exit-reason', 'pkvm.memcache-conservation'],
  },
  'ept-walker-stale-pte': {
    // A 4 KiB share in the 2 MiB region at gfn 0 builds a page table there; the unshare leaves it
    // empty; the 2 MiB share writes a huge leaf over it: the stale walk frees the table twice.
    ops: [...NP_SHARED, { op: 'host_unshare_guest', vm: 2, gfn: 9, nr: 1 }, { op: 'host_share_guest', vm: 2, pfn: 0x400, gfn: 0, nr: 512, prot: 7 },
      { op: 'hv_query', vm: 2, pfn: 0x400, gfn: 0 }],
    expect: ['hv.pool-conservation', 'fault.exit-reason'],
  },
  'vtl-protect-no-flush': {
    ops: [...NP_SETUP, { op: 'vcpu_load', cpu: 1, vm: 2 }, write(1, 0x200000, 1n), { op: 'vtl_call', cpu: 0 },
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x200, count: 1, flags: 0xd }, write(1, 0x200000, 2n)],
    expect: ['hv.no-stale-access', 'fault.exit-reason'],
  },
};

/** Further traces for bugs whose catalogue entry covers more than one path. */
const MORE_CASES: Array<[string, string, { ops: AnyOp[]; expect: string[] }]> = [
  ['ept-walker-stale-pte', 'a fault maps the region whole again (crashes/e1df73016184bee2)', {
    // A fault maps 2 MiB at gfn 0x400; an SPP vector splits it; the 2 MiB unshare leaves the table
    // empty; the all-writable vector makes the region uniform again; the next fault writes a huge
    // leaf over the empty table.
    ops: [...NP_SETUP, { op: 'spp_enable', vm: 2 }, read(0, 0x5ff6d3, 1), { op: 'spp_set', vm: 2, gfn: 0x401, npages: 1, flags: 0, map: 0xaaaaaaaa },
      { op: 'host_unshare_guest', vm: 2, gfn: 0x400, nr: 512 }, { op: 'spp_set', vm: 2, gfn: 0x3ff, npages: 3, flags: 0, map: 0xffffffff },
      write(0, 0x4013a2, 0n, 1)],
    expect: ['hv.pool-conservation'],
  }],
  ['spp-lost-on-wrprotect', 'access tracking', {
    ops: [...NP_SETUP, { op: 'spp_enable', vm: 2 }, { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe },
      write(0, 0x201080, 1n), { op: 'vm_age', vm: 2, gfn: 0x201, pages: 1 }, write(0, 0x201080, 2n), write(0, 0x201000, 3n)],
    expect: ['fault.exit-reason', 'spp.subpage-write'],
  }],
  ['spp-lost-on-wrprotect', 'write protection then access tracking', {
    ops: [...NP_SETUP, { op: 'spp_enable', vm: 2 }, { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe },
      write(0, 0x201080, 1n), { op: 'vm_write_protect', vm: 2, gfn: 0x201, pages: 1 }, { op: 'vm_age', vm: 2, gfn: 0x201, pages: 1 },
      read(0, 0x201080), write(0, 0x201080, 2n), write(0, 0x201000, 3n)],
    expect: ['fault.exit-reason', 'spp.subpage-write'],
  }],
];

describe('planted hv bugs are caught when on, silent when off', () => {
  for (const [bug, path, c] of MORE_CASES) {
    it(`${bug} (${path})`, () => {
      const off = run(c.ops, hvConfig());
      expect(off.violations.map((v) => `${v.invariant}: ${v.detail}`)).toEqual([]);
      const on = run(c.ops, hvConfig({ bugs: [bug] }));
      const found = new Set(on.violations.map((v) => v.invariant));
      for (const id of c.expect) expect([...found], on.violations.map((v) => `${v.step} ${v.invariant}: ${v.detail}`).join('\n')).toContain(id);
    });
  }
  it('every hv bug of the catalogue has a case', () => {
    expect(Object.keys(CASES).sort()).toEqual(CATALOGUE.filter((b) => b.layer === 'hv').map((b) => b.name).sort());
  });
  for (const [bug, c] of Object.entries(CASES)) {
    it(bug, () => {
      const off = run(c.ops, hvConfig(c.config ?? {}));
      expect(off.violations.map((v) => `${v.invariant}: ${v.detail}`)).toEqual([]);
      const on = run(c.ops, hvConfig({ ...(c.config ?? {}), bugs: [bug] }));
      const found = new Set(on.violations.map((v) => v.invariant));
      for (const id of c.expect) expect([...found], on.violations.map((v) => `${v.step} ${v.invariant}: ${v.detail}`).join('\n')).toContain(id);
    });
  }
});
