/**
 * Per-VM memory caches (hv.memcache 'vm', docs/hypervisor.md "Memory caches"): the host donates
 * pages into a VM's cache (hv_topup: upstream arm64 topup_hyp_memcache, then refill_memcache /
 * admit_host_page, which donates each page to the hypervisor before it is pushed on the cache);
 * a share or donation to the VM takes the page-table pages of its stage 2 from there
 * (guest_s2_zalloc_page pops the memcache); the host may take unused pages back (hv_undonate:
 * __pkvm_hyp_donate_host); teardown gives every page of the cache, used or not, back to the host.
 * Contract: `VmCache` is a frame source for EptTables (a stack: the page pushed last is popped
 * first, as pop_hyp_memcache takes the list head); the ops check the whole range before they
 * change anything, so a failed call changes nothing (pkvm-and-vtl.md §3 I9).
 */
import type { PhysMemory } from '../hw/memory.js';
import type { Hypervisor } from './hypervisor.js';
import { EINVAL, EPERM, OWNER_HYP, PS_NOPAGE, PS_OWNED } from './consts.js';
import { mmioCheck } from './pkvm.js';

/**
 * kvm_mmu_cache_min_pages() for a 4-level stage 2: what __guest_check_pgtable_memcache demands
 * before a share or donation under the arm64 profile ("exact for the PAGE_SIZE leaf, conservative
 * by one for the block").
 */
export const MEMCACHE_MIN_PAGES = 3;

export class VmCache {
  /** Free pages, pushed in order; the last one is popped first. */
  readonly free: number[] = [];
  /** Pages of this cache in use as table pages of the VM's stage 2. */
  readonly inUse = new Set<number>();

  constructor(private readonly mem: PhysMemory) {}

  get available(): number {
    return this.free.length;
  }

  holds(frame: number): boolean {
    return this.inUse.has(frame) || this.free.includes(frame);
  }

  /** A zeroed page for a table (guest_s2_zalloc_page zeroes what it pops), or -1. */
  alloc(): number {
    const f = this.free.pop();
    if (f === undefined) return -1;
    const base = f * 4096;
    for (let i = 0; i < 4096; i += 4) this.mem.write32(base + i, 0);
    this.inUse.add(f);
    return f;
  }

  /** `alloc` for a caller that writes every word itself. */
  allocFilled(): number {
    const f = this.free.pop();
    if (f === undefined) return -1;
    this.inUse.add(f);
    return f;
  }

  /** A table page no longer used goes back on the cache (guest_s2_put_page keeps it for the VM). */
  release(frame: number): void {
    this.inUse.delete(frame);
    this.free.push(frame);
  }
}

function pagesOf(pfn: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(pfn + i);
  return out;
}

/** The pages [pfn, pfn + nr) when they are all RAM (pfn_range_is_valid), else null. */
function ramRange(hv: Hypervisor, pfn: number, nr: number): number[] | null {
  if (nr < 1 || pfn >= hv.ramFrames || hv.ramFrames - pfn < nr) return null;
  return pagesOf(pfn, nr);
}

/**
 * hv_topup: -EINVAL without per-VM caches, for an unknown or dying VM, or a bad range; -EPERM when
 * a page is not host-owned (admit_host_page's __pkvm_host_donate_hyp). Every page becomes the
 * hypervisor's (H=NOPAGE, owner hyp) and is pushed on the VM's cache, in ascending order.
 */
export function hvTopup(hv: Hypervisor, vmId: number, pfn: number, nr: number): number {
  const vm = hv.vms.get(vmId);
  if (!hv.memcacheVm || vm === undefined || vm.dying) return -EINVAL;
  const pages = ramRange(hv, pfn, nr);
  if (pages === null) return -EINVAL;
  const mmio = mmioCheck(hv, pfn, nr); // admit_host_page's __pkvm_host_donate_hyp
  if (mmio !== 0) return mmio;
  if (hv.bugs.memcacheDonateBeforePop) {
    // Planted pkvm-memcache-donate-before-pop: each page is donated to the hypervisor as the walk
    // reaches it, before it is checked and popped from the host's list; the pushes come after the
    // walk, so a page the walk fails on leaves the earlier ones donated and in no cache.
    for (const p of pages) {
      if (hv.hostState(p) !== PS_OWNED) return -EPERM;
      hv.setHost(p, PS_NOPAGE, OWNER_HYP);
    }
  } else {
    for (const p of pages) if (hv.hostState(p) !== PS_OWNED) return -EPERM;
    for (const p of pages) hv.setHost(p, PS_NOPAGE, OWNER_HYP);
  }
  for (const p of pages) vm.cache.free.push(p);
  hv.mutations++;
  hv.flushAll(); // the host's mappings of the pages are gone (as host_donate_hyp)
  return 0;
}

/**
 * hv_undonate: the host takes back unused pages of a VM's cache. -EINVAL as hv_topup (a dying VM
 * may give pages back); -EPERM when a page is not a free page of that cache (never donated to it,
 * or in use as a table). The pages go back to the host (H=O), unzeroed: the hypervisor never
 * wrote them.
 */
export function hvUndonate(hv: Hypervisor, vmId: number, pfn: number, nr: number): number {
  const vm = hv.vms.get(vmId);
  if (!hv.memcacheVm || vm === undefined) return -EINVAL;
  const pages = ramRange(hv, pfn, nr);
  if (pages === null) return -EINVAL;
  for (const p of pages) {
    // Planted pkvm-undonate-never-donated: any page the hypervisor holds passes (the x86 RFC's
    // host_ack_donation shape, intel-staging PR #49: a page never donated was undonated).
    const ok = hv.bugs.undonateNeverDonated ? hv.hostState(p) === PS_NOPAGE && hv.hostOwner === OWNER_HYP : vm.cache.free.includes(p);
    if (!ok) return -EPERM;
  }
  for (const p of pages) {
    const i = vm.cache.free.indexOf(p);
    if (i >= 0) vm.cache.free.splice(i, 1);
    hv.setHost(p, PS_OWNED, 0);
  }
  hv.mutations++;
  return 0;
}

/**
 * Teardown: every page of the VM's cache goes back to the host; pages used as tables are zeroed
 * first (teardown_donated_memory clears what the hypervisor wrote).
 */
export function returnCache(hv: Hypervisor, cache: VmCache): void {
  const mem = hv.machine.mem;
  for (const f of [...cache.inUse].sort((a, b) => a - b)) {
    for (let i = 0; i < 4096; i += 4) mem.write32(f * 4096 + i, 0);
    hv.setHost(f, PS_OWNED, 0);
  }
  for (const f of [...cache.free].sort((a, b) => a - b)) hv.setHost(f, PS_OWNED, 0);
  cache.inUse.clear();
  cache.free.length = 0;
}
