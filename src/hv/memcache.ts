/**
 * Per-vCPU memory caches (hv.memcache 'vm', docs/hypervisor.md "Memory caches"): the host donates
 * pages into the cache of one vCPU of a VM (hv_topup: upstream arm64 topup_hyp_memcache on
 * vcpu->arch.pkvm_memcache, then refill_memcache / admit_host_page, which donates each page to the
 * hypervisor before it is pushed on the cache); a share or donation to the VM takes the page-table
 * pages of its stage 2 from the cache of the vCPU it acts on (guest_s2_zalloc_page pops the loaded
 * vCPU's memcache), and the fault path of a np VM from the faulting vCPU's cache, which the host's
 * fault handler tops up first (`faultTopup`: KVM's pkvm_mem_abort / user_mem_abort calls
 * topup_hyp_memcache before it shares); the host may take unused pages back (hv_undonate:
 * __pkvm_hyp_donate_host); teardown gives every page of every vCPU's cache, used or not, back to
 * the host. eptfuzz's vCPU of a VM is the logical processor index it is loaded on.
 * Contract: `VmCache` is a frame source for EptTables (per vCPU a stack: the page pushed last is
 * popped first, as pop_hyp_memcache takes the list head; `cpu` selects the vCPU); a table page
 * given back goes to the cache of the vCPU it came from; the ops check the whole range before
 * they change anything, so a failed call changes nothing (pkvm-and-vtl.md §3 I9).
 */
import type { PhysMemory } from '../hw/memory.js';
import type { Hypervisor } from './hypervisor.js';
import type { Vm } from './vm.js';
import { EINVAL, ENOMEM, EPERM, OWNER_HOST, OWNER_HYP, PS_NOPAGE, PS_OWNED } from './consts.js';
import { mmioCheck } from './pkvm.js';

/**
 * kvm_mmu_cache_min_pages() for a 4-level stage 2: what __guest_check_pgtable_memcache demands
 * before a share or donation under the arm64 profile ("exact for the PAGE_SIZE leaf, conservative
 * by one for the block"), and what the host's fault handler tops a vCPU's cache up to.
 */
export const MEMCACHE_MIN_PAGES = 3;

export class VmCache {
  /** Per vCPU: free pages, pushed in order; the last one is popped first. */
  readonly free: number[][] = [];
  /** Pages of the VM's caches in use as table pages of its stage 2. */
  readonly inUse = new Set<number>();
  /** The vCPU each page in use came from (a table given back goes there). */
  private readonly origin = new Map<number, number>();
  /** The vCPU whose cache `alloc` pops (set around a share, donation or fault; -1: none). */
  cpu = -1;

  constructor(private readonly mem: PhysMemory, vcpus: number) {
    for (let i = 0; i < vcpus; i++) this.free.push([]);
  }

  /** Free pages of the selected vCPU's cache. */
  get available(): number {
    return this.cpu < 0 ? 0 : this.free[this.cpu].length;
  }

  /** Free pages of vCPU `cpu`'s cache. */
  availableOn(cpu: number): number {
    return this.free[cpu].length;
  }

  /** Free pages of every vCPU's cache. */
  get freeTotal(): number {
    let n = 0;
    for (const f of this.free) n += f.length;
    return n;
  }

  /** The vCPU whose cache holds `frame` free, or -1. */
  freeOn(frame: number): number {
    for (let c = 0; c < this.free.length; c++) if (this.free[c].includes(frame)) return c;
    return -1;
  }

  holds(frame: number): boolean {
    return this.inUse.has(frame) || this.freeOn(frame) >= 0;
  }

  /** A zeroed page for a table (guest_s2_zalloc_page zeroes what it pops), or -1. */
  alloc(): number {
    const f = this.allocFilled();
    if (f < 0) return -1;
    const base = f * 4096;
    for (let i = 0; i < 4096; i += 4) this.mem.write32(base + i, 0);
    return f;
  }

  /** `alloc` for a caller that writes every word itself. */
  allocFilled(): number {
    if (this.cpu < 0) return -1;
    const f = this.free[this.cpu].pop();
    if (f === undefined) return -1;
    this.inUse.add(f);
    this.origin.set(f, this.cpu);
    return f;
  }

  /** A table page no longer used goes back on the cache of the vCPU it came from. */
  release(frame: number): void {
    const c = this.origin.get(frame) ?? 0;
    this.inUse.delete(frame);
    this.origin.delete(frame);
    this.free[c].push(frame);
  }

  /** The vCPU a page in use came from (-1: not in use). */
  originOf(frame: number): number {
    return this.origin.get(frame) ?? -1;
  }

  /** Empties every list (teardown). */
  clear(): void {
    this.inUse.clear();
    this.origin.clear();
    for (const f of this.free) f.length = 0;
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

/** The vCPU index `cpu` of a live cache mode, or false (-EINVAL): eptfuzz's vCPUs are the logical processors. */
function vcpuOk(hv: Hypervisor, cpu: number): boolean {
  return Number.isInteger(cpu) && cpu >= 0 && cpu < hv.config.vcpus;
}

/**
 * Donates `pages` (checked) to the hypervisor and pushes them on vCPU `cpu`'s cache of `vm`, in
 * the order given; the host's mappings of them are gone (as host_donate_hyp), so every TLB is flushed.
 */
function admit(hv: Hypervisor, vm: Vm, cpu: number, pages: readonly number[]): void {
  for (const p of pages) hv.setHost(p, PS_NOPAGE, OWNER_HYP);
  for (const p of pages) vm.cache.free[cpu].push(p);
  hv.mutations++;
  hv.flushAll();
}

/**
 * hv_topup: -EINVAL without per-VM caches, for an unknown or dying VM, a vCPU index beyond the
 * machine's, or a bad range; -EPERM when a page is not host-owned (admit_host_page's
 * __pkvm_host_donate_hyp). Every page becomes the hypervisor's (H=NOPAGE, owner hyp) and is pushed
 * on vCPU `cpu`'s cache, in ascending order. The vCPU need not be loaded (the host fills
 * vcpu->arch.pkvm_memcache before the call that uses it).
 */
export function hvTopup(hv: Hypervisor, vmId: number, cpu: number, pfn: number, nr: number): number {
  const vm = hv.vms.get(vmId);
  if (!hv.memcacheVm || vm === undefined || vm.dying || !vcpuOk(hv, cpu)) return -EINVAL;
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
  }
  admit(hv, vm, cpu, pages);
  return 0;
}

/**
 * hv_undonate: the host takes back unused pages of one vCPU's cache. -EINVAL as hv_topup (a dying
 * VM may give pages back); -EPERM when a page is not a free page of that vCPU's cache (never
 * donated to it, another vCPU's, or in use as a table). The pages go back to the host (H=O),
 * unzeroed: the hypervisor never wrote them.
 */
export function hvUndonate(hv: Hypervisor, vmId: number, cpu: number, pfn: number, nr: number): number {
  const vm = hv.vms.get(vmId);
  if (!hv.memcacheVm || vm === undefined || !vcpuOk(hv, cpu)) return -EINVAL;
  const pages = ramRange(hv, pfn, nr);
  if (pages === null) return -EINVAL;
  const free = vm.cache.free[cpu];
  for (const p of pages) {
    // Planted pkvm-undonate-never-donated: any page the hypervisor holds passes (the x86 RFC's
    // host_ack_donation shape, intel-staging PR #49: a page never donated was undonated).
    const ok = hv.bugs.undonateNeverDonated ? hv.hostState(p) === PS_NOPAGE && hv.hostOwner === OWNER_HYP : free.includes(p);
    if (!ok) return -EPERM;
  }
  for (const p of pages) {
    const i = free.indexOf(p);
    if (i >= 0) free.splice(i, 1);
    hv.setHost(p, PS_OWNED, 0);
  }
  hv.mutations++;
  return 0;
}

/**
 * The pages the host's VMM gives an automatic top-up (docs/hypervisor.md "The fault path"): the
 * `n` highest-numbered RAM pages the host owns (H=O, not MMIO) that back no memslot of any VM
 * (guest memory is not free host memory), highest first; null when the host has fewer.
 */
export function hostSparePages(hv: Hypervisor, n: number): number[] | null {
  const out: number[] = [];
  for (let p = hv.ramFrames - 1; p >= 0 && out.length < n; p--) {
    if (hv.isMmio(p) || hv.hostState(p) !== PS_OWNED || hv.hostOwner !== OWNER_HOST) continue;
    let slotPage = false;
    for (const vm of hv.vms.values()) {
      for (const s of vm.slots.values()) if (p >= s.pfn && p < s.pfn + s.pages) slotPage = true;
      if (slotPage) break;
    }
    if (!slotPage) out.push(p);
  }
  return out.length === n ? out : null;
}

/**
 * The host's fault handler tops vCPU `cpu`'s cache of `vm` up to MEMCACHE_MIN_PAGES before it
 * shares a memslot page (KVM: topup_hyp_memcache(&vcpu->arch.pkvm_memcache,
 * kvm_mmu_cache_min_pages()) in the stage-2 abort path), with `hostSparePages` pushed in ascending
 * order, as hv_topup pushes. -ENOMEM (nothing changed) when the host has too few pages to give.
 */
export function faultTopup(hv: Hypervisor, vm: Vm, cpu: number): number {
  const short = MEMCACHE_MIN_PAGES - vm.cache.availableOn(cpu);
  if (short <= 0) return 0;
  const pages = hostSparePages(hv, short);
  if (pages === null) return -ENOMEM;
  admit(hv, vm, cpu, pages.reverse());
  return 0;
}

/**
 * Teardown: every page of every vCPU's cache of the VM goes back to the host; pages used as
 * tables are zeroed first (teardown_donated_memory clears what the hypervisor wrote).
 */
export function returnCache(hv: Hypervisor, cache: VmCache): void {
  const mem = hv.machine.mem;
  for (const f of [...cache.inUse].sort((a, b) => a - b)) {
    for (let i = 0; i < 4096; i += 4) mem.write32(f * 4096 + i, 0);
    hv.setHost(f, PS_OWNED, 0);
  }
  for (const f of cache.free.flat().sort((a, b) => a - b)) hv.setHost(f, PS_OWNED, 0);
  cache.clear();
}
