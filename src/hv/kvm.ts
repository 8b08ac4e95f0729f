/**
 * The KVM side of the VMM: VM lifecycle (create, two-phase teardown), memslots, loading a VM on a
 * logical processor, dirty-logging write protection and access tracking.
 * Contract: memslot changes unshare (and zap) the pages their faults shared and flush before
 * returning; write protection and aging rewrite leaves in place (bit 61 parked in a software bit)
 * and flush; teardown flushes every logical processor before any table page is reused.
 */
import type { Hypervisor } from './hypervisor.js';
import { EptTables } from './ept-tables.js';
import { Vm } from './vm.js';
import { dropPages, releasePins, returnToHost } from './pkvm.js';
import { VmCache, returnCache } from './memcache.js';
import {
  AGED_LO, EBUSY, EEXIST, EINVAL, ENOENT, ENOMEM, KVM_MEM_EXECONLY, KVM_MEM_FLAGS_KNOWN, MEMSLOTS_MAX,
  OWNER_HOST, SAVED_R_HI, SAVED_W_HI, SAVED_X_HI, SPP_HI, SPP_SAVED_HI, UX, VM_ID_MIN, W, WP_HI,
} from './consts.js';

export function vmCreate(hv: Hypervisor, id: number, type: 'np' | 'protected'): number {
  if (id < VM_ID_MIN) return -EINVAL;
  if (hv.vms.has(id)) return -EEXIST;
  if (hv.pool.available < hv.opts.vtls) return -ENOMEM;
  const views: EptTables[] = [];
  for (let v = 0; v < hv.opts.vtls; v++) {
    const t = EptTables.create(hv.machine.mem, hv.pool)!;
    t.staleWalkFree = hv.bugs.eptWalkerStalePte;
    views.push(t);
  }
  hv.vms.set(id, new Vm(id, type, views, new VmCache(hv.machine.mem, hv.config.vcpus)));
  hv.mutations++;
  return 0;
}

/**
 * The vCPU of VM `id` a host call acts on under memcache 'vm' (pkvm_get_loaded_hyp_vcpu): the
 * lowest logical processor it is loaded on (eptfuzz's host has no processor of its own); -1: none.
 */
export function loadedVcpu(hv: Hypervisor, id: number): number {
  return hv.ctx.findIndex((c) => c.vm === id);
}

export function loadedAnywhere(hv: Hypervisor, id: number): boolean {
  return hv.ctx.some((c) => c.vm === id);
}

/** __pkvm_start_teardown_vm: exists, not loaded on any cpu, not already dying. */
export function vmTeardownStart(hv: Hypervisor, id: number): number {
  const vm = hv.vms.get(id);
  if (vm === undefined || vm.dying || loadedAnywhere(hv, id)) return -EINVAL;
  vm.dying = true;
  hv.mutations++;
  return 0;
}

/** __pkvm_finalize_teardown_vm: dying; every page reclaimed (else -EBUSY); VMID flush, then tables freed. */
export function vmTeardownFinish(hv: Hypervisor, id: number): number {
  const vm = hv.vms.get(id);
  if (vm === undefined || !vm.dying) return -EINVAL;
  if (vm.pages.size > 0) return -EBUSY;
  hv.flushAll(); // before the tables (and the EP4TA tags) can be reused
  releasePins(hv, id); // the hypervisor's pins for this VM's state go with it (§2.1 "unpins host_kvm")
  // Planted hv-teardown-table-leak: only VTL 0's tables go back (the per-VTL views were added
  // after the teardown code was written).
  for (const t of hv.bugs.teardownTableLeak ? vm.views.slice(0, 1) : vm.views) t.destroy();
  for (const f of [...vm.spptFrames].sort((a, b) => a - b)) hv.pool.release(f);
  returnCache(hv, vm.cache); // memcache 'vm': used and unused cache pages go back to the host
  hv.vms.delete(id);
  hv.forgetContexts(id); // a new VM with this handle starts from the initial registers
  hv.mutations++;
  return 0;
}

/** Gfns of `vm` whose pages a fault in memslot `slot` shared. */
function slotPages(vm: Vm, slot: number): number[] {
  const out: number[] = [];
  for (const [g, r] of vm.pages) if (r.fromSlot === slot) out.push(g);
  return out.sort((a, b) => a - b);
}

function unshareSlot(hv: Hypervisor, vm: Vm, slot: number): void {
  const gfns = slotPages(vm, slot);
  if (gfns.length === 0) return;
  const recs = gfns.map((g) => vm.pages.get(g)!);
  dropPages(hv, vm, gfns);
  returnToHost(hv, recs);
}

/** KVM_SET_USER_MEMORY_REGION: add, move (new gfn) or delete (pages = 0). */
export function memslotSet(hv: Hypervisor, id: number, slot: number, gfn: number, pfn: number, pages: number, flags: number): number {
  const vm = hv.vms.get(id);
  if (vm === undefined || vm.type !== 'np' || vm.dying) return -EINVAL;
  if (slot >= MEMSLOTS_MAX) return -EINVAL;
  if ((flags & ~KVM_MEM_FLAGS_KNOWN) !== 0) return -EINVAL;
  if ((flags & KVM_MEM_EXECONLY) !== 0 && !hv.config.caps.eptExecOnly) return -EINVAL;
  const old = vm.slots.get(slot);
  if (pages === 0) {
    if (old === undefined) return -EINVAL;
    unshareSlot(hv, vm, slot);
    vm.slots.delete(slot);
    hv.mutations++;
    hv.flushAll();
    return 0;
  }
  if (gfn + pages > hv.gfnLimit || pfn + pages > hv.ramFrames) return -EINVAL;
  if (old !== undefined) {
    if (old.pfn !== pfn || old.pages !== pages || old.flags !== flags) return -EINVAL; // only a move may change an existing slot
    if (old.gfn === gfn) return 0;
  }
  for (const s of vm.slots.values()) {
    if (s.slot !== slot && gfn < s.gfn + s.pages && s.gfn < gfn + pages) return -EEXIST;
  }
  for (let g = gfn; g < gfn + pages && g < gfn + 4096; g++) {
    const r = vm.pages.get(g);
    if (r !== undefined && r.fromSlot !== slot) return -EEXIST; // explicit shares are not slot memory
  }
  if (old !== undefined) {
    unshareSlot(hv, vm, slot);
    hv.flushAll();
  }
  vm.slots.set(slot, { slot, gfn, pfn, pages, flags });
  hv.mutations++;
  return 0;
}

/** Loads `vm` (1 = host) on `cpu`, at VTL 0. */
export function vcpuLoad(hv: Hypervisor, cpu: number, id: number): number {
  if (id !== OWNER_HOST) {
    const vm = hv.vms.get(id);
    if (vm === undefined) return -ENOENT;
    if (vm.dying) return -EINVAL;
  }
  hv.switchTo(cpu, id, 0);
  return 0;
}

/** Visits each leaf of the gfn range (and XO aliases) once in every view (a 2 MiB leaf once). */
function forLeaves(hv: Hypervisor, vm: Vm, gfn: number, pages: number, visit: (t: EptTables) => void): void {
  const bases = hv.aliasBit !== 0 ? [0, hv.aliasGfn] : [0];
  for (const t of vm.views) {
    for (const b of bases) {
      for (let g = gfn; g < gfn + pages; g++) {
        if (!t.find((g + b) * 4096)) continue;
        visit(t);
        if (t.level === 2) g = g - (g % 512) + 511;
      }
    }
  }
}

/**
 * Rewrites each leaf of the range with `next(lo, hi)` (null: leave it) and, if any changed,
 * flushes every view before returning: both callers only take rights away.
 */
function rewriteLeaves(hv: Hypervisor, id: number, gfn: number, pages: number, next: (lo: number, hi: number) => [number, number] | null): number {
  const vm = hv.vms.get(id);
  if (vm === undefined) return -EINVAL;
  let changed = false;
  forLeaves(hv, vm, gfn, pages, (t) => {
    const r = next(t.lo, t.hi);
    if (r === null) return;
    t.rewrite(r[0] >>> 0, r[1] >>> 0);
    changed = true;
  });
  if (changed) {
    hv.mutations++;
    hv.flushAll();
  }
  return 0;
}

/**
 * Write protection and access tracking move EPT bit 61 into its software bit (KVM SPP v5 7/9,
 * v12 "store SPP bit") so SPP comes back when the leaf is made writable or young again.
 */
function parkSpp(hv: Hypervisor, hi: number): number {
  if ((hi & SPP_HI) === 0) return hi;
  const cleared = hi & ~SPP_HI;
  return hv.bugs.sppLostOnWrprotect ? cleared : cleared | SPP_SAVED_HI; // planted: bit 61 dropped for good
}

/** Dirty-logging write protection of a gfn range: W cleared, bit 61 parked in SPP_SAVED. */
export function vmWriteProtect(hv: Hypervisor, id: number, gfn: number, pages: number): number {
  return rewriteLeaves(hv, id, gfn, pages, (lo, hi) => {
    if ((hi & WP_HI) !== 0) return null;
    let wlo = lo;
    let whi = hi | WP_HI;
    if ((wlo & AGED_LO) !== 0) whi &= ~SAVED_W_HI;
    else wlo &= ~W;
    return [wlo, parkSpp(hv, whi)];
  });
}

/** Access tracking: each leaf becomes not-present with its rights parked in SAVED_* (and bit 61 in SPP_SAVED). */
export function vmAge(hv: Hypervisor, id: number, gfn: number, pages: number): number {
  return rewriteLeaves(hv, id, gfn, pages, (lo, hi) => {
    if ((lo & AGED_LO) !== 0) return null;
    const r = lo & 7;
    const alo = (lo & ~(7 | UX)) | AGED_LO; // XU too: with MBEC it alone makes the leaf present
    const ahi = hi | ((r & 1) ? SAVED_R_HI : 0) | ((r & 2) ? SAVED_W_HI : 0) | ((r & 4) ? SAVED_X_HI : 0);
    return [alo, parkSpp(hv, ahi)];
  });
}
