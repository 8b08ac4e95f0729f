/**
 * pKVM hypercalls: success and every error path, each checked against the reference model and
 * the invariants; and the ownership self-test sequence (pkvm_ownership_selftest, §2) translated
 * to the x86 design.
 */
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../../src/hv/hypervisor.js';
import { checkHvInvariants } from '../../../src/check/hv/invariants.js';
import { PS_NOPAGE, PS_OWNED, PS_SHARED_BORROWED, PS_SHARED_OWNED } from '../../../src/hv/consts.js';
import type { AnyOp } from '../../../src/trace/ops.js';
import { NP_SETUP, PVM_SETUP, clean, hvConfig, read, rets, write } from './helpers.js';

const R = (v: number): string => `ret ${v}`;

describe('host_donate_hyp / hyp_donate_host', () => {
  it('donate, host aborts on the page, give back, host reads it again', () => {
    expect(rets(clean([
      { op: 'host_donate_hyp', pfn: 0x10, nr: 2n },
      read(1, 0x10008),
      { op: 'hyp_donate_host', pfn: 0x10, nr: 2n },
      read(1, 0x10008),
    ]))).toEqual([R(0), 'hv_exit abort gpa=0x10008 size=8 info=0x30 exits=[48]', R(0), 'data 0x0']);
  });
  it('errors: nr 0, range beyond RAM, wrapping range, page not owned by the host, not hyp-donated', () => {
    expect(rets(clean([
      { op: 'host_donate_hyp', pfn: 0x10, nr: 0n },
      { op: 'host_donate_hyp', pfn: 0x1eff, nr: 2n },
      { op: 'host_donate_hyp', pfn: 0x10, nr: 2n ** 64n - 1n },
      { op: 'host_donate_hyp', pfn: 0x1f00, nr: 1n }, // the pool: hyp's own
      { op: 'host_donate_hyp', pfn: 0x10, nr: 1n },
      { op: 'host_donate_hyp', pfn: 0x10, nr: 1n },
      { op: 'hyp_donate_host', pfn: 0x11, nr: 1n },
      { op: 'hyp_donate_host', pfn: 0x1f00, nr: 1n },
      { op: 'hyp_donate_host', pfn: 0x10, nr: 2n },
    ]))).toEqual([R(-22), R(-22), R(-22), R(-22), R(0), R(-1), R(-1), R(-22), R(-1)]);
  });
});

describe('host_share_hyp / host_unshare_hyp', () => {
  it('share, second share refused, unshare, second unshare refused', () => {
    expect(rets(clean([
      { op: 'host_share_hyp', pfn: 0x30 },
      { op: 'host_share_hyp', pfn: 0x30 },
      read(1, 0x30000),
      { op: 'host_unshare_hyp', pfn: 0x30 },
      { op: 'host_unshare_hyp', pfn: 0x30 },
      { op: 'host_share_hyp', pfn: 0x1f00 },
    ]))).toEqual([R(0), R(-1), 'data 0x0', R(0), R(-1), R(-1)]);
  });
});

describe('host_share_guest / host_unshare_guest', () => {
  const vm: AnyOp[] = [{ op: 'vm_create', vm: 2, type: 'np' }, { op: 'vcpu_load', cpu: 0, vm: 2 }];
  it('share 4 KiB read-only: the guest reads, its write is a memory fault; unshare; the access is then MMIO', () => {
    expect(rets(clean([
      ...vm,
      { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 0x9, nr: 1, prot: 1 },
      read(0, 0x9000),
      write(0, 0x9000, 1n),
      { op: 'host_unshare_guest', vm: 2, gfn: 0x9, nr: 1 },
      read(0, 0x9000),
    ]).slice(2))).toEqual([R(0), 'data 0x0', 'hv_exit memory_fault gpa=0x9000 size=8 info=0x2 exits=[48]', R(0), 'hv_exit mmio gpa=0x9000 size=8 info=0x0 exits=[48]']);
  });
  it('share a 2 MiB block and unshare it whole; a 4 KiB unshare inside it is E2BIG', () => {
    expect(rets(clean([
      ...vm,
      { op: 'host_share_guest', vm: 2, pfn: 0x200, gfn: 0x400, nr: 512, prot: 7 },
      write(0, 0x401000, 0x55n),
      { op: 'host_unshare_guest', vm: 2, gfn: 0x401, nr: 1 },
      { op: 'host_unshare_guest', vm: 2, gfn: 0x400, nr: 512 },
      read(1, 0x201000),
    ]).slice(2))).toEqual([R(0), 'ok', R(-7), R(0), 'data 0x55']);
  });
  it('errors: unknown or protected VM, bad prot, bad nr, misaligned block, beyond RAM, gfn taken, page not host-owned; unshare ENOENT/EINVAL', () => {
    expect(rets(clean([
      ...vm,
      { op: 'vm_create', vm: 3, type: 'protected' },
      { op: 'host_share_guest', vm: 9, pfn: 0x40, gfn: 1, nr: 1, prot: 7 },
      { op: 'host_share_guest', vm: 3, pfn: 0x40, gfn: 1, nr: 1, prot: 7 },
      { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 1, nr: 1, prot: 8 },
      { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 1, nr: 1, prot: 2 },
      { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 1, nr: 2, prot: 7 },
      { op: 'host_share_guest', vm: 2, pfn: 0x201, gfn: 0x400, nr: 512, prot: 7 },
      { op: 'host_share_guest', vm: 2, pfn: 0x1f00, gfn: 1, nr: 1, prot: 7 },
      { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 1, nr: 1, prot: 7 },
      { op: 'host_share_guest', vm: 2, pfn: 0x41, gfn: 1, nr: 1, prot: 7 },
      { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 2, nr: 1, prot: 7 },
      { op: 'host_share_hyp', pfn: 0x42 },
      { op: 'host_share_guest', vm: 2, pfn: 0x42, gfn: 3, nr: 1, prot: 7 },
      { op: 'host_unshare_guest', vm: 2, gfn: 7, nr: 1 },
      { op: 'host_unshare_guest', vm: 3, gfn: 1, nr: 1 },
      { op: 'host_unshare_guest', vm: 2, gfn: 1, nr: 3 },
    ]).slice(3))).toEqual([R(-22), R(-22), R(-22), R(-22), R(-22), R(-22), R(-22), R(0), R(-1), R(-1), R(0), R(-1), R(-1), R(-22), R(-22)]);
    // (unshare of an empty gfn: -EPERM under the default x86-rfc profile; -ENOENT under arm64, test/unit/hv/profiles.spec.ts)
  });
});

describe('host_donate_guest, guest_share_host, guest_unshare_host, reclaim and teardown', () => {
  it('the full protected-guest lifecycle, zeroing the private page on reclaim', () => {
    expect(rets(clean([
      ...PVM_SETUP,
      write(0, 0x5000, 0x1234n),
      read(1, 0x20000),
      { op: 'guest_share_host', cpu: 0, gfn: 5 },
      read(1, 0x20000),
      { op: 'guest_unshare_host', cpu: 0, gfn: 5 },
      read(1, 0x20000),
      { op: 'vcpu_load', cpu: 0, vm: 1 },
      { op: 'vm_teardown_start', vm: 3 },
      { op: 'vm_teardown_finish', vm: 3 },
      { op: 'vm_reclaim', vm: 3, gfn: 5 },
      read(1, 0x20000),
      { op: 'vm_teardown_finish', vm: 3 },
    ]).slice(4))).toEqual(['ok', 'hv_exit abort gpa=0x20000 size=8 info=0x30 exits=[48]', R(0), 'data 0x1234', R(0), 'hv_exit abort gpa=0x20000 size=8 info=0x30 exits=[48]',
      R(0), R(0), R(-16), R(0), 'data 0x0', R(0)]);
  });
  it('errors: donate to np / unknown VM, page not host-owned, gfn taken; guest share from the host or a np VM, ENOENT, EPERM; teardown and reclaim gating', () => {
    expect(rets(clean([
      ...PVM_SETUP,
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'host_donate_guest', vm: 2, pfn: 0x21, gfn: 6 },
      { op: 'host_donate_guest', vm: 9, pfn: 0x21, gfn: 6 },
      { op: 'host_donate_guest', vm: 3, pfn: 0x20, gfn: 6 },
      { op: 'host_donate_guest', vm: 3, pfn: 0x21, gfn: 5 },
      { op: 'guest_share_host', cpu: 1, gfn: 5 },
      { op: 'guest_share_host', cpu: 0, gfn: 6 },
      { op: 'guest_unshare_host', cpu: 0, gfn: 5 },
      { op: 'vm_teardown_start', vm: 3 },
      { op: 'vm_reclaim', vm: 3, gfn: 5 },
      { op: 'vm_teardown_finish', vm: 3 },
      { op: 'vm_teardown_start', vm: 9 },
      { op: 'vm_create', vm: 3, type: 'np' },
      { op: 'vm_create', vm: 1, type: 'np' },
    ]).slice(4))).toEqual([R(0), R(-22), R(-22), R(-1), R(-1), R(-22), R(-22), R(-1), R(-22), R(-22), R(-22), R(-22), R(-17), R(-22)]);
    // (guest share of an empty gfn: -EINVAL under the default x86-rfc profile; -ENOENT under arm64)
  });
});

describe('the pKVM ownership self-test, x86 design (pkvm_ownership_selftest)', () => {
  it('walks one page through every state; every other transition fails at each step', () => {
    const cfg = hvConfig();
    const hv = new Hypervisor(cfg);
    const p = 0x50;
    const state = (): [number, number] => [hv.hostState(p), hv.hostOwner];
    const call = (op: AnyOp): number => {
      const o = hv.apply(op);
      expect(checkHvInvariants(hv, true)).toEqual([]);
      return o.kind === 'ret' ? o.value : NaN;
    };
    const refusedFromHere = (ops: AnyOp[]): void => {
      const before = state();
      for (const op of ops) expect(call(op), op.op).toBeLessThan(0);
      expect(state()).toEqual(before);
    };
    call({ op: 'vm_create', vm: 2, type: 'np' });
    call({ op: 'vm_create', vm: 3, type: 'protected' });
    call({ op: 'vm_create', vm: 4, type: 'np' });
    expect(state()).toEqual([PS_OWNED, 1]);
    // host -> hyp
    expect(call({ op: 'host_donate_hyp', pfn: p, nr: 1n })).toBe(0);
    expect(state()).toEqual([PS_NOPAGE, 0]);
    refusedFromHere([
      { op: 'host_donate_hyp', pfn: p, nr: 1n }, { op: 'host_share_hyp', pfn: p }, { op: 'host_unshare_hyp', pfn: p },
      { op: 'host_share_guest', vm: 2, pfn: p, gfn: 1, nr: 1, prot: 7 }, { op: 'host_donate_guest', vm: 3, pfn: p, gfn: 1 },
    ]);
    expect(call({ op: 'hyp_donate_host', pfn: p, nr: 1n })).toBe(0);
    expect(state()).toEqual([PS_OWNED, 1]);
    // host <-> hyp share
    expect(call({ op: 'host_share_hyp', pfn: p })).toBe(0);
    expect(state()).toEqual([PS_SHARED_OWNED, 1]);
    refusedFromHere([
      { op: 'host_share_hyp', pfn: p }, { op: 'host_donate_hyp', pfn: p, nr: 1n }, { op: 'hyp_donate_host', pfn: p, nr: 1n },
      { op: 'host_share_guest', vm: 2, pfn: p, gfn: 1, nr: 1, prot: 7 }, { op: 'host_donate_guest', vm: 3, pfn: p, gfn: 1 },
    ]);
    expect(call({ op: 'host_unshare_hyp', pfn: p })).toBe(0);
    // host <-> np guest share
    expect(call({ op: 'host_share_guest', vm: 2, pfn: p, gfn: 1, nr: 1, prot: 7 })).toBe(0);
    expect(state()).toEqual([PS_SHARED_OWNED, 1]);
    refusedFromHere([
      { op: 'host_share_guest', vm: 4, pfn: p, gfn: 1, nr: 1, prot: 7 }, { op: 'host_share_guest', vm: 2, pfn: p, gfn: 2, nr: 1, prot: 7 },
      { op: 'host_donate_hyp', pfn: p, nr: 1n }, { op: 'host_share_hyp', pfn: p }, { op: 'host_unshare_hyp', pfn: p },
      { op: 'host_donate_guest', vm: 3, pfn: p, gfn: 1 }, { op: 'host_unshare_guest', vm: 4, gfn: 1, nr: 1 },
    ]);
    expect(call({ op: 'host_unshare_guest', vm: 2, gfn: 1, nr: 1 })).toBe(0);
    expect(state()).toEqual([PS_OWNED, 1]);
    // host -> protected guest, guest <-> host share
    expect(call({ op: 'host_donate_guest', vm: 3, pfn: p, gfn: 1 })).toBe(0);
    expect(state()).toEqual([PS_NOPAGE, 3]);
    refusedFromHere([
      { op: 'host_donate_hyp', pfn: p, nr: 1n }, { op: 'hyp_donate_host', pfn: p, nr: 1n }, { op: 'host_share_hyp', pfn: p },
      { op: 'host_share_guest', vm: 2, pfn: p, gfn: 1, nr: 1, prot: 7 }, { op: 'host_donate_guest', vm: 3, pfn: p, gfn: 2 },
      { op: 'vm_reclaim', vm: 3, gfn: 1 },
    ]);
    call({ op: 'vcpu_load', cpu: 0, vm: 3 });
    expect(call({ op: 'guest_share_host', cpu: 0, gfn: 1 })).toBe(0);
    expect(state()).toEqual([PS_SHARED_BORROWED, 1]);
    refusedFromHere([{ op: 'guest_share_host', cpu: 0, gfn: 1 }, { op: 'hyp_donate_host', pfn: p, nr: 1n }, { op: 'host_share_guest', vm: 2, pfn: p, gfn: 1, nr: 1, prot: 7 }]);
    expect(call({ op: 'guest_unshare_host', cpu: 0, gfn: 1 })).toBe(0);
    expect(state()).toEqual([PS_NOPAGE, 3]);
    // teardown and reclaim
    call({ op: 'vcpu_load', cpu: 0, vm: 1 });
    expect(call({ op: 'vm_teardown_start', vm: 3 })).toBe(0);
    expect(call({ op: 'vm_reclaim', vm: 3, gfn: 1 })).toBe(0);
    expect(state()).toEqual([PS_OWNED, 1]);
    expect(call({ op: 'vm_teardown_finish', vm: 3 })).toBe(0);
  });
});
