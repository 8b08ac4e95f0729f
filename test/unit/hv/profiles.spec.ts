/**
 * Source profiles (docs/hypervisor.md "Source profiles"): where upstream arm64 pKVM and the x86
 * RFC disagree, `hv.pkvm` picks one; `hv.memFaultFlags` picks what a memory-fault exit carries.
 * Every trace here runs on the hypervisor and the model with every invariant (clean): both
 * sides follow the profile.
 */
import { describe, expect, it } from 'vitest';
import type { AnyOp } from '../../../src/trace/ops.js';
import { hvEpochConfig } from '../../../src/gen/hv/configs.js';
import { hvGenConfig } from '../../../src/gen/hv/generate.js';
import { NP_SETUP, PVM_SETUP, clean, hvConfig, read, rets, write } from './helpers.js';

const arm64 = hvConfig({ hv: { pkvm: 'arm64' } });
const x86 = hvConfig({ hv: { pkvm: 'x86-rfc' } });
const R = (v: number): string => `ret ${v}`;

describe('errnos for an absent page', () => {
  const ops: AnyOp[] = [
    { op: 'vm_create', vm: 2, type: 'np' },
    { op: 'host_unshare_guest', vm: 2, gfn: 7, nr: 1 },
    ...PVM_SETUP,
    { op: 'guest_share_host', cpu: 0, gfn: 6 },
    { op: 'guest_unshare_host', cpu: 0, gfn: 6 },
  ];
  it('arm64: -ENOENT (an invalid leaf)', () => {
    const out = rets(clean(ops, arm64));
    expect([out[1], out[6], out[7]]).toEqual([R(-2), R(-2), R(-2)]);
  });
  it('x86-rfc (also when absent): -EPERM for unshare_guest, -EINVAL for the guest calls', () => {
    for (const cfg of [x86, hvConfig()]) {
      const out = rets(clean(ops, cfg));
      expect([out[1], out[6], out[7]]).toEqual([R(-1), R(-22), R(-22)]);
    }
  });
});

describe('one host page shared into the np VM at several gfns', () => {
  const ops: AnyOp[] = [
    { op: 'vm_create', vm: 2, type: 'np' },
    { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 9, nr: 1, prot: 7 },
    { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 0xa, nr: 1, prot: 1 },
    { op: 'hv_expect', vm: 2, pfn: 0x40, gfn: 0xa, host: 'SO', owner: 1, hyp: 'NOPAGE', pins: 0, shares: 2, guest: 'SB', vtl0: 1 },
    { op: 'host_unshare_guest', vm: 2, gfn: 9, nr: 1 },
    { op: 'hv_expect', vm: 2, pfn: 0x40, gfn: 9, host: 'SO', owner: 1, hyp: 'NOPAGE', pins: 0, shares: 1, guest: 'none', vtl0: 0 },
    { op: 'host_share_hyp', pfn: 0x40 },
    { op: 'host_unshare_guest', vm: 2, gfn: 0xa, nr: 1 },
    { op: 'hv_expect', vm: 2, pfn: 0x40, gfn: 0xa, host: 'O', owner: 1, hyp: 'NOPAGE', pins: 0, shares: 0, guest: 'none', vtl0: 0 },
  ];
  it('arm64 counts them; the host owns the page again after the last unshare, in either order', () => {
    expect(rets(clean(ops, arm64)).filter((o) => o.startsWith('ret'))).toEqual([R(0), R(0), R(0), R(0), R(-1), R(0)]);
  });
  it('x86-rfc refuses the second share', () => {
    expect(rets(clean(ops.slice(0, 3), x86))).toEqual([R(0), R(0), R(-1)]);
  });
  it('a page shared with the hypervisor or the secure world is not multi-shared (count 0)', () => {
    expect(rets(clean([
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'host_share_hyp', pfn: 0x40 },
      { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 9, nr: 1, prot: 7 },
      { op: 'host_share_ffa', pfn: 0x41, nr: 1n },
      { op: 'host_share_guest', vm: 2, pfn: 0x41, gfn: 9, nr: 1, prot: 7 },
    ], arm64))).toEqual([R(0), R(0), R(-1), R(0), R(-1)]);
  });
  it('a memslot fault maps a page another gfn already borrows (arm64) or gives a memory fault (x86-rfc)', () => {
    const ops2: AnyOp[] = [...NP_SETUP, { op: 'host_share_guest', vm: 2, pfn: 0x401, gfn: 9, nr: 1, prot: 7 }, read(0, 0x201000)];
    expect(rets(clean(ops2, arm64))[4]).toBe('handled exits=[48] data 0x0');
    expect(rets(clean(ops2, x86))[4]).toBe('hv_exit memory_fault gpa=0x201000 size=8 info=0x1 exits=[48]');
  });
});

describe('FF-A and force reclaim are arm64 paths', () => {
  it('x86-rfc refuses them with -EINVAL', () => {
    expect(rets(clean([
      { op: 'host_share_ffa', pfn: 0x40, nr: 1n }, { op: 'host_unshare_ffa', pfn: 0x40, nr: 1n }, ...PVM_SETUP, { op: 'host_force_reclaim', pfn: 0x20 },
    ], x86)).filter((_, i) => i !== 2 && i !== 3 && i !== 4 && i !== 5)).toEqual([R(-22), R(-22), R(-22)]);
  });
  it('FF-A: share, refused twice, unshare only what FF-A shared', () => {
    expect(rets(clean([
      { op: 'host_share_ffa', pfn: 0x40, nr: 2n },
      { op: 'host_share_ffa', pfn: 0x41, nr: 1n },
      { op: 'host_share_hyp', pfn: 0x42 },
      { op: 'host_unshare_ffa', pfn: 0x41, nr: 2n }, // 0x42 is shared with the hypervisor, not FF-A
      { op: 'host_unshare_ffa', pfn: 0x40, nr: 2n },
      { op: 'host_unshare_ffa', pfn: 0x40, nr: 1n },
      { op: 'host_share_ffa', pfn: 0x40, nr: 2n ** 64n - 1n },
    ], arm64))).toEqual([R(0), R(-1), R(0), R(-1), R(0), R(-1), R(-22)]);
  });
  it('force reclaim: errors in the source order, then POISON and what it does to later calls', () => {
    expect(rets(clean([
      ...PVM_SETUP,
      write(0, 0x5000, 0x5ec2e7n),
      { op: 'host_force_reclaim', pfn: 0x3000 }, // not memory
      { op: 'host_force_reclaim', pfn: 0x21 }, // the host owns it
      { op: 'host_donate_hyp', pfn: 0x21, nr: 1n },
      { op: 'host_force_reclaim', pfn: 0x21 }, // the hypervisor's
      { op: 'host_force_reclaim', pfn: 0x20 },
      { op: 'hv_expect', vm: 3, pfn: 0x20, gfn: 5, host: 'O', owner: 1, hyp: 'NOPAGE', pins: 0, shares: 0, guest: 'POISON', vtl0: 0 },
      read(0, 0x5000),
      { op: 'guest_share_host', cpu: 0, gfn: 5 },
      { op: 'host_donate_guest', vm: 3, pfn: 0x22, gfn: 5 },
      { op: 'vcpu_load', cpu: 1, vm: 1 },
      read(1, 0x20000), // the host reads the zeroed page
      { op: 'vcpu_load', cpu: 0, vm: 1 },
      { op: 'vm_teardown_start', vm: 3 },
      { op: 'vm_reclaim', vm: 3, gfn: 5 },
      { op: 'vm_teardown_finish', vm: 3 },
    ], arm64)).slice(4)).toEqual([
      'ok', R(-14), R(-11), R(0), R(-1), R(0),
      'page host=O owner=1 hyp=NOPAGE pins=0 shares=0 ffa=0 guests=[] guest=POISON gpfn=-1 attrs=0x8 vtl=[0,0] pool=246',
      'hv_exit hwpoison gpa=0x5000 size=8 info=0x9 exits=[48]', R(-133), R(-1), R(0), 'data 0x0', R(0), R(0), R(0), R(0),
    ]);
  });
});

describe('hypervisor pins', () => {
  it('pin counts, -EBUSY for an unshare while pinned, a VM\'s pins go at its teardown', () => {
    expect(rets(clean([
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'hyp_pin', vm: 1, pfn: 0x40, nr: 1 }, // not shared with the hypervisor
      { op: 'host_share_hyp', pfn: 0x40 },
      { op: 'host_share_hyp', pfn: 0x41 },
      { op: 'hyp_pin', vm: 1, pfn: 0x40, nr: 3 }, // 0x42 is not shared: nothing pinned
      { op: 'hyp_pin', vm: 2, pfn: 0x40, nr: 2 },
      { op: 'hyp_pin', vm: 1, pfn: 0x40, nr: 1 },
      { op: 'hv_expect', vm: 1, pfn: 0x40, gfn: 0, host: 'SO', owner: 1, hyp: 'SB', pins: 2, shares: 0, guest: 'none', vtl0: 0 },
      { op: 'host_unshare_hyp', pfn: 0x40 },
      { op: 'hyp_unpin', vm: 9, pfn: 0x40, nr: 1 }, // not a holder
      { op: 'hyp_unpin', vm: 1, pfn: 0x40, nr: 1 },
      { op: 'hyp_unpin', vm: 1, pfn: 0x40, nr: 1 },
      { op: 'vm_teardown_start', vm: 2 },
      { op: 'hyp_pin', vm: 2, pfn: 0x40, nr: 1 }, // a dying VM takes no pins
      { op: 'vm_teardown_finish', vm: 2 },
      { op: 'host_unshare_hyp', pfn: 0x40 },
      { op: 'host_unshare_hyp', pfn: 0x41 },
    ])).filter((o) => o.startsWith('ret'))).toEqual([
      R(0), R(-1), R(0), R(0), R(-1), R(0), R(0), R(-16), R(-22), R(0), R(-22), R(0), R(-22), R(0), R(0), R(0),
    ]);
  });
});

describe('memFaultFlags', () => {
  it('upstream: a memory fault carries PRIVATE only, not the access flags', () => {
    const ops: AnyOp[] = [...NP_SETUP, { op: 'set_mem_attrs', vm: 2, gpa: 0x200000n, size: 0x1000n, attrs: 2n, flags: 0n }, write(0, 0x200000, 1n), ...PVM_SETUP.slice(0, 2), { op: 'vcpu_load', cpu: 1, vm: 3 }, read(1, 0x5000)];
    expect(rets(clean(ops, hvConfig({ hv: { memFaultFlags: 'upstream' } }))).filter((o) => o.startsWith('hv_exit'))).toEqual([
      'hv_exit memory_fault gpa=0x200000 size=8 info=0x0 exits=[48,48]', 'hv_exit memory_fault gpa=0x5000 size=8 info=0x8 exits=[48]',
    ]);
    expect(rets(clean(ops)).filter((o) => o.startsWith('hv_exit'))).toEqual([
      'hv_exit memory_fault gpa=0x200000 size=8 info=0x2 exits=[48,48]', 'hv_exit memory_fault gpa=0x5000 size=8 info=0x9 exits=[48]',
    ]);
  });
});

describe('hv campaign epochs vary the configuration', () => {
  it('epoch 0 is the base; later epochs meet both profiles, 3+ VTLs, more vCPUs, huge pages off, and stay valid', () => {
    const base = hvGenConfig(64);
    expect(hvEpochConfig(base, 'r', 0)).toBe(base);
    const seen = new Set<string>();
    for (let e = 1; e <= 24; e++) {
      const c = hvEpochConfig(base, 'r', e);
      expect(c.bugs).toEqual(base.bugs);
      expect(c.hv?.poolFrames).toBe(64);
      seen.add(`pkvm=${c.hv?.pkvm}`);
      seen.add(`vtls=${c.hv?.vtls}`);
      seen.add(`vcpus=${c.vcpus}`);
      if (c.hv?.hugePages === false) seen.add('nohuge');
      if (c.hv?.memFaultFlags === 'upstream') seen.add('upstream');
      if (c.hv?.vtlExecBits === 'vsm_mask') seen.add('vsm_mask');
      if (c.hv?.vtlNonRam === 'openhcl') seen.add('openhcl');
      if (c.hv?.memattrRwx === false) seen.add('norwx');
      if (!c.kvmXo) seen.add('noxo');
    }
    for (const k of ['pkvm=arm64', 'pkvm=x86-rfc', 'vtls=3', 'vtls=4', 'vcpus=3', 'vcpus=4', 'nohuge', 'upstream', 'vsm_mask', 'openhcl', 'norwx', 'noxo']) expect([...seen]).toContain(k);
  });
});

describe('host mapping: eager (x86-rfc) or lazy (arm64)', () => {
  const ops: AnyOp[] = [
    { op: 'vcpu_load', cpu: 1, vm: 1 },
    read(1, 0x10000), read(1, 0x11000), // region 0: untouched, mapped whole at the first fault
    { op: 'host_share_hyp', pfn: 0x200 }, // region 1 gets an entry of its own
    read(1, 0x201000), read(1, 0x202000), read(1, 0x201008), // so its pages are mapped one by one
    { op: 'host_donate_hyp', pfn: 0x203, nr: 1n }, read(1, 0x203000), // a hyp page still aborts
  ];
  it('x86-rfc: every RAM page is mapped at boot', () => {
    expect(rets(clean(ops, x86)).filter((o) => !o.startsWith('ret'))).toEqual(['data 0x0', 'data 0x0', 'data 0x0', 'data 0x0', 'data 0x0', 'hv_exit abort gpa=0x203000 size=8 info=0x30 exits=[48]']);
  });
  it('arm64: the first access maps the page (2 MiB where nothing in the region has an entry)', () => {
    expect(rets(clean(ops, arm64)).filter((o) => !o.startsWith('ret'))).toEqual([
      'handled exits=[48] data 0x0', 'data 0x0', 'handled exits=[48] data 0x0', 'handled exits=[48] data 0x0', 'data 0x0',
      'hv_exit abort gpa=0x203000 size=8 info=0x30 exits=[48]',
    ]);
  });
  it('arm64 without huge pages: page by page', () => {
    const cfg = hvConfig({ hv: { pkvm: 'arm64', hugePages: false } });
    expect(rets(clean(ops.slice(0, 3), cfg)).slice(1)).toEqual(['handled exits=[48] data 0x0', 'handled exits=[48] data 0x0']);
  });
  it('regression (fuzz --mode hv --seed 3): an access that fails -ENOMEM leaves the lazy host mapping as it was: the next host access maps the page', () => {
    const cfg = hvConfig({ hv: { pkvm: 'arm64', poolFrames: 24, vtls: 3 } });
    const out = clean([
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x200, pfn: 0x400, pages: 1024, flags: 0 },
      { op: 'spp_enable', vm: 2 },
      { op: 'vm_create', vm: 3, type: 'protected' },
      { op: 'host_donate_guest', vm: 3, pfn: 0x42, gfn: 0x3 },
      { op: 'host_donate_guest', vm: 3, pfn: 0x43, gfn: 0x201 },
      { op: 'vcpu_load', cpu: 0, vm: 2 },
      { op: 'set_mem_attrs', vm: 2, gpa: 0x201000n, size: 0x1000n, attrs: 7n, flags: 0n },
      { op: 'spp_set', vm: 2, gfn: 0x400, npages: 3, flags: 0, map: 0xfffffffe },
      write(0, 0x3ffffc, 0n), // shares gfn 0x3ff (pfn 0x5ff), then the SPPT of gfn 0x400 runs the pool dry: undone
      { op: 'vcpu_load', cpu: 0, vm: 1 },
      { op: 'fetch', cpu: 0, la: 0x5ff000, size: 1 },
    ], cfg);
    expect(rets(out).slice(-3)).toEqual(['ret -12', 'ret 0', 'handled exits=[48] ok']);
  });
});
