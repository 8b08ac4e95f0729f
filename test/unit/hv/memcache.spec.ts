/**
 * Per-vCPU memory caches (hv.memcache 'vm', docs/hypervisor.md "Memory caches and np-guest calls"):
 * top-up, consumption by shares and donations (arm64: kvm_mmu_cache_min_pages; x86-rfc: the map's
 * own need) from the loaded vCPU's cache, undonation, teardown, the loaded-vCPU gate, the fault
 * path's automatic top-up, the arm64 np-guest calls, the conservation invariants, and the two
 * planted bugs of this area. Each run goes through the
 * hypervisor and the reference model (`clean`: they must agree, no invariant may fire).
 */
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../../src/hv/hypervisor.js';
import { checkHvInvariants } from '../../../src/check/hv/invariants.js';
import type { AnyOp } from '../../../src/trace/ops.js';
import type { PageView } from '../../../src/hw/outcome.js';
import { PS_OWNED } from '../../../src/hv/consts.js';
import { parseText } from '../../../src/trace/text.js';
import { clean, hvConfig, read, rets, run, write } from './helpers.js';

const arm64 = hvConfig({ hv: { pkvm: 'arm64', memcache: 'vm' } });
const x86 = hvConfig({ hv: { memcache: 'vm' } });
const np: AnyOp[] = [{ op: 'vm_create', vm: 2, type: 'np' }, { op: 'vcpu_load', cpu: 0, vm: 2 }];
const share = (pfn: number, gfn: number, prot = 7): AnyOp => ({ op: 'host_share_guest', vm: 2, pfn, gfn, nr: 1, prot });
const topup = (vm: number, pfn: number, nr: number, cpu = 0): AnyOp => ({ op: 'hv_topup', vm, cpu, pfn, nr });
const undonate = (vm: number, pfn: number, nr: number, cpu = 0): AnyOp => ({ op: 'hv_undonate', vm, cpu, pfn, nr });
const query = (vm: number, pfn: number, gfn = 0): AnyOp => ({ op: 'hv_query', vm, pfn, gfn });
const page = (o: unknown): PageView => (o as { page: PageView }).page;

describe('memory caches: top-up and consumption', () => {
  it('share_guest needs a loaded vCPU (-EINVAL), then a cache (-ENOMEM), then takes its three tables from it', () => {
    const outs = clean([
      { op: 'vm_create', vm: 2, type: 'np' }, share(0x10, 9), { op: 'vcpu_load', cpu: 0, vm: 2 }, share(0x10, 9),
      topup(2, 0x100, 4), query(2, 0x100, 9), share(0x10, 9), query(2, 0x103, 9),
    ], arm64);
    expect(rets(outs).slice(1, 6)).toEqual(['ret -22', 'ret 0', 'ret -12', 'ret 0', rets(outs)[5]]);
    expect(page(outs[5])).toMatchObject({ host: 'NOPAGE', owner: 0, hyp: 'O', cache: [4, 0], cacheTables: 0 });
    // The stack gives the page pushed last first: 0x103, 0x102, 0x101 become tables, 0x100 stays free.
    expect(rets(outs)[6]).toBe('ret 0');
    expect(page(outs[7])).toMatchObject({ hyp: 'O', cache: [1, 0], cacheTables: 3, guest: 'SB' });
  });

  it('arm64 refuses a share that needs no table when fewer than kvm_mmu_cache_min_pages are left; x86-rfc takes the exact need', () => {
    const ops: AnyOp[] = [...np, topup(2, 0x100, 4), share(0x10, 9), share(0x11, 10)];
    expect(rets(clean(ops, arm64)).slice(-1)).toEqual(['ret -12']);
    expect(rets(clean(ops, x86)).slice(-1)).toEqual(['ret 0']);
  });

  it('donate_guest takes its tables from the protected VM\'s cache, and only with its vCPU loaded', () => {
    const outs = clean([
      { op: 'vm_create', vm: 3, type: 'protected' }, topup(3, 0x110, 3, 1),
      { op: 'host_donate_guest', vm: 3, pfn: 0x20, gfn: 5 }, { op: 'vcpu_load', cpu: 1, vm: 3 },
      { op: 'host_donate_guest', vm: 3, pfn: 0x20, gfn: 5 }, query(3, 0x20, 5),
    ], arm64);
    expect(rets(outs).slice(2, 5)).toEqual(['ret -22', 'ret 0', 'ret 0']);
    expect(page(outs[5])).toMatchObject({ host: 'NOPAGE', owner: 3, guest: 'O', cache: [0, 0], cacheTables: 3 });
  });

  it('hv_topup checks the whole range first: a page the host does not own is -EPERM and nothing moves', () => {
    const outs = clean([...np, topup(2, 0x100, 2), topup(2, 0xff, 3), query(2, 0xff), { op: 'hv_topup', vm: 2, cpu: 0, pfn: 0x100000, nr: 1 }], arm64);
    expect(rets(outs).slice(2, 4)).toEqual(['ret 0', 'ret -1']);
    expect(page(outs[4])).toMatchObject({ host: 'O', owner: 1, cache: [2, 0] });
    expect(rets(outs)[5]).toBe('ret -22');
  });

  it('without per-VM caches (memcache pool) hv_topup and hv_undonate are -EINVAL', () => {
    expect(rets(clean([...np, topup(2, 0x100, 1), undonate(2, 0x100, 1)], hvConfig()))).toEqual(['ret 0', 'ret 0', 'ret -22', 'ret -22']);
  });
});

describe('memory caches are per vCPU', () => {
  it('a share takes from the cache of the vCPU the VM is loaded on, not from another vCPU\'s', () => {
    const outs = clean([...np, topup(2, 0x100, 4, 1), share(0x10, 9), topup(2, 0x104, 3, 0), share(0x10, 9), query(2, 0x10, 9)], arm64);
    expect(rets(outs).slice(2)).toEqual(['ret 0', 'ret -12', 'ret 0', 'ret 0', rets(outs)[6]]);
    // vCPU 0 gave its three pages to the tables; vCPU 1's four are untouched.
    expect(page(outs[6])).toMatchObject({ cache: [0, 4], cacheTables: 3, guest: 'SB' });
  });

  it('with the VM on two cpus the lowest one\'s cache is used; unloaded there, the other\'s', () => {
    const outs = clean([
      ...np, { op: 'vcpu_load', cpu: 1, vm: 2 }, topup(2, 0x100, 3, 1), share(0x10, 9),
      { op: 'vcpu_load', cpu: 0, vm: 1 }, share(0x10, 9), query(2, 0x10, 9),
    ], arm64);
    expect(rets(outs).slice(4, 7)).toEqual(['ret -12', 'ret 0', 'ret 0']);
    expect(page(outs[7])).toMatchObject({ cache: [0, 0], cacheTables: 3 });
  });

  it('donate_guest takes from its loaded vCPU\'s cache', () => {
    const pvm: AnyOp[] = [{ op: 'vm_create', vm: 3, type: 'protected' }, { op: 'vcpu_load', cpu: 1, vm: 3 }];
    const donate: AnyOp = { op: 'host_donate_guest', vm: 3, pfn: 0x20, gfn: 5 };
    expect(rets(clean([...pvm, topup(3, 0x110, 3, 0), donate], arm64)).slice(-1)).toEqual(['ret -12']);
    expect(rets(clean([...pvm, topup(3, 0x110, 3, 1), donate], arm64)).slice(-1)).toEqual(['ret 0']);
  });

  it('hv_undonate names the vCPU: another vCPU\'s free page is -EPERM; a cpu beyond the machine is refused', () => {
    const outs = clean([...np, topup(2, 0x100, 2, 0), topup(2, 0x102, 2, 1), undonate(2, 0x100, 1, 1), undonate(2, 0x102, 2, 1), query(2, 0x102)], arm64);
    expect(rets(outs).slice(4, 6)).toEqual(['ret -1', 'ret 0']);
    expect(page(outs[6])).toMatchObject({ host: 'O', owner: 1, cache: [2, 0] });
    // A trace cannot name cpu 2 on a 2-vCPU machine.
    expect(() => parseText('@schema 2\n@eptfuzz 0.1.0\n@machine {"mode":"hv","hv":{"memcache":"vm"}}\nhv_topup vm=2 cpu=2 pfn=0x100 nr=1\n')).toThrow(/cpu.*below the machine's vcpus \(2\)/);
  });

  it('teardown gives every vCPU\'s cache pages back to the host', () => {
    const outs = clean([
      ...np, topup(2, 0x100, 3, 0), topup(2, 0x103, 2, 1), share(0x10, 9), query(2, 0x104), { op: 'vcpu_load', cpu: 0, vm: 1 },
      { op: 'vm_teardown_start', vm: 2 }, { op: 'vm_reclaim', vm: 2, gfn: 9 }, { op: 'vm_teardown_finish', vm: 2 },
      query(1, 0x104), query(1, 0x101),
    ], arm64);
    expect(page(outs[5])).toMatchObject({ host: 'NOPAGE', owner: 0, hyp: 'O', cache: [0, 2], cacheTables: 3 });
    expect(page(outs[10])).toMatchObject({ host: 'O', owner: 1, hyp: 'NOPAGE' });
    expect(page(outs[11])).toMatchObject({ host: 'O', owner: 1, hyp: 'NOPAGE' });
  });

  it('pkvm.memcache-conservation and hv.pool-conservation see a page in two vCPUs\' caches, or a pool frame in one', () => {
    const hv = new Hypervisor(arm64);
    for (const op of [...np, topup(2, 0x100, 2, 0)]) hv.apply(op);
    expect(checkHvInvariants(hv, true)).toEqual([]);
    hv.vms.get(2)!.cache.free[1].push(0x100);
    expect(checkHvInvariants(hv, true).map((f) => f.coarse)).toContain('cache page held twice');
    hv.vms.get(2)!.cache.free[1].splice(0, 1, hv.pool.first);
    expect(checkHvInvariants(hv, true).map((f) => f.coarse)).toContain('pool frame in a memory cache');
  });

  it('an old trace whose hv_topup names no vCPU is refused with one line saying what to add', () => {
    const text = '@schema 2\n@eptfuzz 0.1.0\n@machine {"mode":"hv","hv":{"memcache":"vm"}}\nvm_create vm=2 type=np\nhv_topup vm=2 pfn=0x100 nr=4\n';
    expect(() => parseText(text)).toThrow(/^line 5: op 'hv_topup': missing field 'cpu' \(memory caches are per vCPU: .*cpu=N after vm=/);
  });
});

describe('memory caches: the fault path', () => {
  const slot: AnyOp = { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x200, pfn: 0x300, pages: 16, flags: 0 };
  const top = 0x1eff; // the highest RAM page (8192 frames, 256 in the pool)

  it('a memslot fault tops the faulting vCPU\'s cache up from the host\'s highest free pages and takes its tables there, not from the pool', () => {
    const outs = clean([...np, slot, query(2, 0x300, 0x200), read(0, 0x200008), query(2, top, 0x200), query(2, top - 2, 0x200)], arm64);
    const pool = page(outs[3]).pool;
    expect(rets(outs)[4]).toMatch(/^handled exits=\[48\]/);
    // Three pages pushed in ascending order: the PDPT (popped first) is the highest page.
    expect(page(outs[5])).toMatchObject({ host: 'NOPAGE', owner: 0, hyp: 'O', guest: 'SB', cache: [0, 0], cacheTables: 3, pool });
    expect(page(outs[6])).toMatchObject({ host: 'NOPAGE', owner: 0, hyp: 'O' });
  });

  it('a fault tops up only what is missing: a vCPU with enough pages takes none from the host', () => {
    const outs = clean([...np, slot, topup(2, 0x100, 4, 0), read(0, 0x200008), query(2, top, 0x200)], x86);
    expect(page(outs[5])).toMatchObject({ host: 'O', owner: 1, cache: [1, 0], cacheTables: 3 });
  });

  it('the faulting vCPU is the one topped up: a guest running on cpu 1 fills vCPU 1\'s cache', () => {
    const outs = clean([...np, slot, { op: 'vcpu_load', cpu: 1, vm: 2 }, topup(2, 0x100, 3, 0), read(1, 0x200008), query(2, top, 0x200)], arm64);
    expect(page(outs[6])).toMatchObject({ host: 'NOPAGE', owner: 0, cache: [3, 0], cacheTables: 3 });
  });

  it('the top-up\'s flush inside the fault does not hide the translation the access then caches (reclaim must flush it)', () => {
    clean([
      ...np, slot, { op: 'vcpu_load', cpu: 0, vm: 1 }, { op: 'vcpu_load', cpu: 1, vm: 2 }, read(1, 0x200008), { op: 'vcpu_load', cpu: 1, vm: 1 },
      { op: 'vm_teardown_start', vm: 2 }, { op: 'vm_reclaim', vm: 2, gfn: 0x200 }, { op: 'vm_teardown_finish', vm: 2 },
    ], arm64);
  });

  it('an access ending in -ENOMEM after the top-up (VTL 1\'s view finds no pool frame) takes the share back and keeps the top-up', () => {
    const small = hvConfig({ framesMax: 1024, hv: { poolFrames: 16, pkvm: 'arm64', memcache: 'vm' } }); // RAM 0x000..0x3ef
    const more: AnyOp[] = [4, 5, 6, 7].map((vm): AnyOp => ({ op: 'vm_create', vm, type: 'np' })); // two roots each
    const outs = clean([...np, slot, ...more, query(2, 0x300, 0x200), { op: 'vtl_call', cpu: 0 }, read(0, 0x200008), query(2, 0x3ef, 0x200), query(2, 0x300, 0x200)], small);
    expect(page(outs[7]).pool).toBeLessThan(3);
    expect(rets(outs)[9]).toBe('ret -12');
    expect(page(outs[10])).toMatchObject({ host: 'NOPAGE', owner: 0, hyp: 'O', guest: 'none', cache: [3, 0], cacheTables: 0, pool: page(outs[7]).pool });
    expect(page(outs[11])).toMatchObject({ host: 'O', owner: 1, shares: 0, guest: 'none' });
  });

  it('-ENOMEM only when the host has no page to give (memslot pages are not free host memory); nothing changes', () => {
    const small = hvConfig({ framesMax: 1024, hv: { poolFrames: 64, pkvm: 'arm64', memcache: 'vm' } }); // RAM 0x000..0x3bf
    const outs = clean([
      ...np, slot, topup(2, 0, 0x300, 1), topup(2, 0x310, 0xb0, 1), query(2, 0x300, 0x200), read(0, 0x200008), query(2, 0x300, 0x200),
      undonate(2, 0x3bd, 3, 1), read(0, 0x200008), query(2, 0x3bf, 0x200),
    ], small);
    expect(rets(outs)[6]).toBe('ret -12');
    expect(page(outs[7])).toEqual(page(outs[5]));
    expect(rets(outs)[9]).toMatch(/^handled exits=\[48\]/);
    expect(page(outs[10])).toMatchObject({ host: 'NOPAGE', owner: 0, hyp: 'O', guest: 'SB', cache: [0, 0x3b0 - 3], cacheTables: 3 });
  });
});

describe('memory caches: undonation and teardown', () => {
  it('hv_undonate gives back free pages only: a table page or another VM\'s page is -EPERM', () => {
    const outs = clean([
      ...np, { op: 'vm_create', vm: 4, type: 'np' }, topup(2, 0x100, 4), topup(4, 0x120, 1), share(0x10, 9),
      undonate(2, 0x103, 1), undonate(2, 0x120, 1), undonate(2, 0x100, 1), query(2, 0x100),
    ], arm64);
    expect(rets(outs).slice(6, 9)).toEqual(['ret -1', 'ret -1', 'ret 0']);
    expect(page(outs[9])).toMatchObject({ host: 'O', owner: 1, hyp: 'NOPAGE', cache: [0, 0], cacheTables: 3 });
  });

  it('teardown gives every cache page back to the host, the tables zeroed', () => {
    const outs = clean([
      ...np, topup(2, 0x100, 5), share(0x10, 9), write(0, 0x9000, 0x1234n), { op: 'vcpu_load', cpu: 0, vm: 1 },
      { op: 'vm_teardown_start', vm: 2 }, { op: 'vm_reclaim', vm: 2, gfn: 9 }, { op: 'vm_teardown_finish', vm: 2 },
      query(1, 0x104), query(1, 0x100), read(1, 0x104000), read(1, 0x104ff8),
    ], arm64);
    expect(page(outs[9])).toMatchObject({ host: 'O', owner: 1, hyp: 'NOPAGE' });
    expect(page(outs[10])).toMatchObject({ host: 'O', owner: 1, hyp: 'NOPAGE' });
    // 0x104 was the PDPT (popped first): its entry 0 pointed at the PD until the teardown zeroed it.
    expect(rets(outs).slice(11)).toEqual(['data 0x0', 'data 0x0']);
  });

  it('pkvm.memcache-conservation: a cache page the host got back behind the cache\'s back is found', () => {
    const hv = new Hypervisor(arm64);
    for (const op of [...np, topup(2, 0x100, 2)]) hv.apply(op);
    expect(checkHvInvariants(hv, true)).toEqual([]);
    hv.setHost(0x101, PS_OWNED, 0);
    expect(checkHvInvariants(hv, true).map((f) => f.coarse)).toContain("cache page not the hypervisor's");
  });
});

describe('np-guest calls by VM type (arm64 profile)', () => {
  it('relax_perms adds rights: a write refused under prot R completes after relax W; absent gfn -EAGAIN', () => {
    const outs = clean([
      ...np, topup(2, 0x100, 4), share(0x10, 9, 1), write(0, 0x9000, 1n),
      { op: 'host_relax_perms', vm: 2, gfn: 9, prot: 2 }, write(0, 0x9000, 1n),
      { op: 'host_relax_perms', vm: 2, gfn: 10, prot: 2 }, { op: 'host_relax_perms', vm: 2, gfn: 9, prot: 8 },
    ], arm64);
    expect(rets(outs).slice(4)).toEqual([rets(outs)[4], 'ret 0', 'ok', 'ret -11', 'ret -22']);
    expect(rets(outs)[4]).toMatch(/^hv_exit memory_fault/);
  });

  it('a protected VM, a VM with no loaded vCPU, and the x86-rfc profile are -EINVAL', () => {
    const pvm: AnyOp[] = [{ op: 'vm_create', vm: 3, type: 'protected' }, { op: 'vcpu_load', cpu: 1, vm: 3 }];
    const calls: AnyOp[] = [{ op: 'host_relax_perms', vm: 3, gfn: 1, prot: 7 }, { op: 'host_wrprotect', vm: 3, gfn: 1, nr: 1 }, { op: 'host_mkyoung', vm: 3, gfn: 1 }];
    expect(rets(clean([...pvm, ...calls], arm64)).slice(2)).toEqual(['ret -22', 'ret -22', 'ret -22']);
    const notLoaded: AnyOp[] = [{ op: 'vm_create', vm: 2, type: 'np' }, { op: 'host_relax_perms', vm: 2, gfn: 1, prot: 7 }, { op: 'host_mkyoung', vm: 2, gfn: 1 }, { op: 'host_wrprotect', vm: 2, gfn: 1, nr: 1 }];
    expect(rets(clean(notLoaded, arm64)).slice(1)).toEqual(['ret -22', 'ret -22', 'ret 0']);
    expect(rets(clean([...np, { op: 'host_wrprotect', vm: 2, gfn: 1, nr: 1 }], x86)).slice(2)).toEqual(['ret -22']);
  });

  it('wrprotect takes W until the next write; nr must be 1 or an aligned 512; mkyoung undoes aging', () => {
    const outs = clean([
      ...np, topup(2, 0x100, 4), share(0x10, 9), write(0, 0x9000, 1n),
      { op: 'host_wrprotect', vm: 2, gfn: 9, nr: 2 }, { op: 'host_wrprotect', vm: 2, gfn: 9, nr: 1 }, write(0, 0x9000, 2n),
      { op: 'vm_age', vm: 2, gfn: 9, pages: 1 }, { op: 'host_mkyoung', vm: 2, gfn: 9 }, read(0, 0x9000),
    ], arm64);
    expect(rets(outs).slice(5)).toEqual(['ret -22', 'ret 0', 'handled exits=[48] ok', 'ret 0', 'ret 0', 'data 0x2']);
  });
});

describe('planted bugs of the memory caches', () => {
  it('pkvm-memcache-donate-before-pop: a top-up failing at a later page leaves the earlier ones donated', () => {
    const ops: AnyOp[] = [...np, topup(2, 0x100, 2), topup(2, 0xff, 3)];
    expect(run(ops, arm64).violations).toEqual([]);
    const r = run(ops, { ...arm64, bugs: ['pkvm-memcache-donate-before-pop'] });
    expect(r.violations.map((v) => `${v.step} ${v.invariant}`)).toContain('3 hv.failed-call-no-change');
    expect(r.violations.map((v) => v.invariant)).toContain('pkvm.memcache-conservation');
  });

  it('pkvm-undonate-never-donated: a page given with host_donate_hyp comes back through hv_undonate', () => {
    const ops: AnyOp[] = [...np, topup(2, 0x100, 1), { op: 'host_donate_hyp', pfn: 0x30, nr: 1n }, undonate(2, 0x30, 1)];
    expect(rets(clean(ops, arm64)).slice(-1)).toEqual(['ret -1']);
    const r = run(ops, { ...arm64, bugs: ['pkvm-undonate-never-donated'] });
    expect(r.violations[0]).toMatchObject({ step: 4, invariant: 'fault.exit-reason' });
  });
});

describe('host MMIO window (hv.mmioPfn / mmioPages)', () => {
  const mmio = { mmioPfn: 0xe00, mmioPages: 512 };
  const ops: AnyOp[] = [
    ...np, topup(2, 0x100, 4),
    share(0xe00, 9), { op: 'host_donate_hyp', pfn: 0xdff, nr: 2n }, { op: 'host_share_hyp', pfn: 0xe00 },
    { op: 'host_share_ffa', pfn: 0xe00, nr: 1n }, { op: 'host_force_reclaim', pfn: 0xe05 }, topup(2, 0xdff, 2),
    { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x1000, pfn: 0xe00, pages: 512, flags: 0 }, read(0, 0x1000008),
    { op: 'vcpu_load', cpu: 1, vm: 1 }, write(1, 0xe00010, 0x55n), read(1, 0xe00010), query(1, 0xe00),
  ];
  it('arm64: transitions refuse device memory (-EPERM, a range straddling RAM -EINVAL, force reclaim -EFAULT); the host reaches it', () => {
    const outs = rets(clean(ops, hvConfig({ hv: { pkvm: 'arm64', memcache: 'vm', ...mmio } })));
    expect(outs.slice(3, 9)).toEqual(['ret -1', 'ret -22', 'ret -1', 'ret -1', 'ret -14', 'ret -22']);
    expect(outs[10]).toMatch(/^hv_exit memory_fault/); // a memslot over MMIO is never shared into the guest
    expect(outs.slice(12, 14)).toEqual(['handled exits=[48] ok', 'data 0x55']);
  });
  it('x86-rfc: every MMIO range -EPERM (no straddle rule), FF-A and force reclaim absent (-EINVAL)', () => {
    const outs = rets(clean(ops, hvConfig({ hv: { memcache: 'vm', ...mmio } })));
    expect(outs.slice(3, 9)).toEqual(['ret -1', 'ret -1', 'ret -1', 'ret -22', 'ret -22', 'ret -1']);
    expect(outs.slice(12, 14)).toEqual(['ok', 'data 0x55']); // the eager identity map covers it (UC) from boot
  });
  it('a window must be whole 2 MiB regions inside RAM', () => {
    expect(() => new Hypervisor(hvConfig({ hv: { mmioPfn: 0xe01, mmioPages: 512 } }))).toThrow(/multiples of 512/);
  });
});
