/**
 * pKVM page-ownership hypercalls, x86 design (pkvm-and-vtl.md §1.1, §2.1, §2.4): host ↔ hyp
 * donation and sharing, host ↔ np-guest sharing, host → protected-guest donation, guest ↔ host
 * sharing, reclaim from a dying VM.
 * Contract: each call checks every precondition for the whole range (and the page pool for the
 * tables it needs) before it changes anything, so a failed call changes nothing (§3 I9); pages
 * leaving a protected guest are zeroed before the host can reach them (I6); every unmap is
 * flushed before the call returns (I10). Owner-id checks follow later pKVM work (§7 C7): the
 * RFC's missing check is the planted bug pkvm-hyp-donate-no-owner-check.
 */
import type { Hypervisor } from './hypervisor.js';
import type { Vm } from './vm.js';
import { MEMCACHE_MIN_PAGES } from './memcache.js';
import { loadedAnywhere, loadedVcpu, vmWriteProtect } from './kvm.js';
import {
  AGED_LO, E2BIG, EAGAIN, EBUSY, EFAULT, EHWPOISON, EINVAL, ENOENT, ENOMEM, EPERM, OWNER_HOST, OWNER_HYP, PIN_COUNT_MAX, PS_NOPAGE,
  PS_OWNED, PS_SHARED_BORROWED, PS_SHARED_OWNED, R, RWX, SPP_ALL_WRITABLE, W, X,
} from './consts.js';

const U64 = 2n ** 64n;
/** Pages the planted range-overflow bug walks past its (skipped) checks. */
const OVERFLOW_BATCH = 512;

/**
 * pfn_range_is_valid (§2.3): 1 <= nr and [pfn, pfn + nr) inside RAM, computed without overflow.
 * Returns the page count, or -EINVAL. Under pkvm-range-overflow the end wraps in 64 bits.
 */
function rangeCheck(hv: Hypervisor, pfn: number, nr: bigint): number {
  const limit = BigInt(hv.ramFrames);
  const p = BigInt(pfn);
  if (hv.bugs.rangeOverflow) {
    const end = (p + nr) % U64;
    if (nr === 0n || end > limit) return -EINVAL;
    return end < p ? -1 : Number(end - p); // -1: wrapped (the checks cover nothing)
  }
  if (nr === 0n || p >= limit || limit - p < nr) return -EINVAL;
  return Number(nr);
}

/**
 * check_range_allowed_memory (§2.3) for the host MMIO window: 0 when no page of the range is
 * MMIO; -EPERM when all are; a range straddling memory and MMIO is -EINVAL under arm64 (not one
 * kvm_mem_range) and -EPERM under x86-rfc (its first MMIO page fails the state check; the RFC
 * itself has no memory check, §7 B1, and eptfuzz follows arm64's refusal there).
 */
export function mmioCheck(hv: Hypervisor, pfn: number, n: number): number {
  if (hv.mmioEnd === hv.mmioFirst) return 0;
  let mmio = 0;
  for (let p = pfn; p < pfn + n; p++) if (hv.isMmio(p)) mmio++;
  if (mmio === 0) return 0;
  return mmio < n && hv.arm64 ? -EINVAL : -EPERM;
}

/** Distinct 2 MiB host leaves among `pfns` that would have to be split (one table page each). */
function hostSplitNeed(hv: Hypervisor, pfns: readonly number[]): number {
  let need = 0;
  const seen = new Set<number>();
  for (const p of pfns) {
    const n = hv.hostNeed(p);
    if (n > 0 && !seen.has(Math.floor(p / 512))) {
      seen.add(Math.floor(p / 512));
      need += n;
    }
  }
  return need;
}

function pagesOf(pfn: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(pfn + i);
  return out;
}

/** __pkvm_host_donate_hyp: H=O → H=NOPAGE owner hyp, host mapping removed and flushed. */
export function hostDonateHyp(hv: Hypervisor, pfn: number, nr: bigint): number {
  let n = rangeCheck(hv, pfn, nr);
  if (n === -EINVAL) return -EINVAL;
  const mmio = n < 0 ? 0 : mmioCheck(hv, pfn, n);
  if (mmio !== 0) return mmio;
  const checked = n < 0 ? [] : pagesOf(pfn, n);
  for (const p of checked) if (hv.hostState(p) !== PS_OWNED) return -EPERM;
  if (n < 0) n = Math.min(OVERFLOW_BATCH, hv.ramFrames - pfn); // planted: the walk runs on unchecked
  const pages = pagesOf(pfn, n);
  if (hostSplitNeed(hv, pages) > hv.pool.available) return -ENOMEM;
  for (const p of pages) {
    hv.setHost(p, PS_NOPAGE, OWNER_HYP);
    hv.hypDonated.add(p);
  }
  hv.flushAll();
  return 0;
}

/** __pkvm_hyp_donate_host: only pages the hyp holds by donation (owner hyp) go back, H=O. */
export function hypDonateHost(hv: Hypervisor, pfn: number, nr: bigint): number {
  let n = rangeCheck(hv, pfn, nr);
  if (n === -EINVAL) return -EINVAL;
  if (n < 0) n = 0;
  const pages = pagesOf(pfn, n);
  for (const p of pages) {
    const s = hv.hostState(p);
    const ok = hv.bugs.hypDonateNoOwnerCheck
      ? s === PS_NOPAGE || s === PS_SHARED_BORROWED // the x86 RFC's host_ack_donation (§2.4, §7 C7)
      : s === PS_NOPAGE && hv.hostOwner === OWNER_HYP && hv.hypDonated.has(p);
    if (!ok) return -EPERM;
  }
  for (const p of pages) {
    hv.setHost(p, PS_OWNED, 0);
    hv.hypDonated.delete(p);
  }
  return 0;
}

/** __pkvm_host_share_hyp: H=O → H=SO (hyp-shared). */
export function hostShareHyp(hv: Hypervisor, pfn: number): number {
  if (pfn >= hv.ramFrames || hv.isMmio(pfn) || hv.hostState(pfn) !== PS_OWNED) return -EPERM;
  if (hv.hostNeed(pfn) > hv.pool.available) return -ENOMEM;
  hv.setHost(pfn, PS_SHARED_OWNED, 0);
  hv.hypShared.add(pfn);
  return 0;
}

/** __pkvm_host_unshare_hyp: H=SO shared with hyp → H=O. */
export function hostUnshareHyp(hv: Hypervisor, pfn: number): number {
  if (pfn >= hv.ramFrames || hv.hostState(pfn) !== PS_SHARED_OWNED || !hv.hypShared.has(pfn)) return -EPERM;
  if (hv.pinCount(pfn) > 0) return -EBUSY; // the hypervisor still uses it (hyp_page_count)
  hv.setHost(pfn, PS_OWNED, 0);
  hv.hypShared.delete(pfn);
  return 0;
}

/** prot accepted by share_guest: a non-empty RWX subset the EPT can hold (W needs R; X-only needs the capability). */
function protValid(hv: Hypervisor, prot: number): boolean {
  if (prot === 0 || (prot & ~RWX) !== 0) return false;
  if ((prot & W) !== 0 && (prot & R) === 0) return false;
  if ((prot & R) === 0 && (prot & X) !== 0 && !hv.config.caps.eptExecOnly) return false;
  return true;
}

/**
 * Whether a host page may be shared to a np guest: H=O; under the arm64 profile also H=SO already
 * shared with np guests (count > 0: "only host to np-guest multi-sharing is tolerated",
 * __pkvm_host_share_guest); the x86 RFC has no count (§2.4), so a second share is -EPERM.
 */
export function shareable(hv: Hypervisor, p: number): boolean {
  if (hv.isMmio(p)) return false; // device memory: never shared into a guest (check_range_allowed_memory)
  const s = hv.hostState(p);
  if (s === PS_OWNED) return true;
  if (s !== PS_SHARED_OWNED) return false;
  if (hv.arm64 && hv.shareCount(p) > 0) return true;
  return hv.bugs.shareHypSharedPage && hv.hypShared.has(p) && hv.shareCount(p) === 0;
}

/**
 * Whether view 0 of `vm` may hold the 2 MiB block at `base` as one leaf: huge pages on, and no
 * page of the block needs its own rights (SPP vector, memory attribute, VTL protection of VTL 0).
 */
export function blockUniform(hv: Hypervisor, vm: Vm, base: number): boolean {
  if (!hv.opts.hugePages) return false;
  for (let g = base; g < base + 512; g++) {
    if (vm.sppEnabled && (vm.sppVectors.get(g) ?? SPP_ALL_WRITABLE) !== SPP_ALL_WRITABLE) return false;
    if ((vm.attrs.get(g) ?? 0) !== 0) return false;
    for (let s = 1; s < hv.opts.vtls; s++) if (vm.vtlProt[s]?.has(g)) return false;
  }
  return true;
}

/**
 * Shares host pages [pfn, pfn+nr) with `vm` at gfn (preconditions already checked). `cacheCpu`:
 * under memcache 'vm', the vCPU whose memory cache the view-0 tables come from (the loaded vCPU
 * for the hypercall, the faulting one on the fault path); -1: the pool.
 */
function doShareGuest(hv: Hypervisor, vm: Vm, pfn: number, gfn: number, nr: number, prot: number, fromSlot: number, hypercall = false, cacheCpu = -1): number {
  const huge = nr === 512 && blockUniform(hv, vm, gfn);
  // Pages already SHARED_OWNED (arm64 multi-share) keep their state; a 4 KiB share of one inside
  // a 2 MiB host leaf splits that leaf now, so that giving the pages back (in any order) never
  // needs a table page: the host state lives in the host EPT leaf here (arm64 keeps it in the
  // vmemmap and never allocates on that path).
  const changing = pagesOf(pfn, nr).filter((p) => hv.hostState(p) !== PS_SHARED_OWNED || (nr === 1 && hv.hostNeed(p) > 0));
  // Exactly the table pages the share takes (docs/hypervisor.md "The page pool"): a 2 MiB host
  // leaf changes in place, else one page table per 2 MiB host leaf a changing page splits; the
  // view-0 tables its leaf (or leaves: 512 aligned pages share one page table) is missing.
  const need = (nr === 512 && hv.host.find(pfn * 4096) && hv.host.level === 2 ? 0 : hostSplitNeed(hv, changing))
    + vm.views[0].need(gfn * 4096, huge ? 2 : 1);
  // Planted pkvm-share-enomem-half-done: the hypercall checks only the host side's tables, so the
  // guest map can still run dry after the host state and count changed (§7 B3, the share half of
  // "check that the memcache has enough capacity before engaging on the share/donate path").
  const halfDone = hypercall && hv.bugs.shareEnomemHalfDone;
  // memcache 'vm': the guest's tables come from the vCPU's cache (host side: nothing, the host EPT
  // is page-granular): __guest_check_pgtable_memcache after every state check.
  const fromCache = cacheCpu >= 0 && hv.memcacheVm;
  if (fromCache) {
    if (!halfDone && cacheShort(hv, vm, cacheCpu, vm.views[0].need(gfn * 4096, huge ? 2 : 1))) return -ENOMEM;
  } else if (halfDone ? hostSplitNeed(hv, changing) > hv.pool.available : need > hv.pool.available) return -ENOMEM;
  if (!(nr === 512 && hv.setHostBlock(pfn, PS_SHARED_OWNED))) {
    for (const p of changing) hv.setHost(p, PS_SHARED_OWNED, 0);
  }
  for (let i = 0; i < nr; i++) {
    hv.shareCounts.set(pfn + i, hv.shareCount(pfn + i) + 1);
    vm.pages.set(gfn + i, { pfn: pfn + i, state: PS_SHARED_BORROWED, prot, block: nr === 512 ? gfn : -1, fromSlot });
    hv.touchGfn(vm, gfn + i);
  }
  hv.mutations++;
  vm.views[0].useCache = fromCache;
  vm.cache.cpu = fromCache ? cacheCpu : -1;
  try {
    if (huge) {
      if (!hv.mapLeaf(vm, 0, gfn * 4096, 2, vm.pages.get(gfn)!)) {
        if (halfDone) return -ENOMEM;
        throw new Error('hv: pool accounting for share_guest');
      }
    } else {
      for (let i = 0; i < nr; i++) {
        if (!hv.mapLeaf(vm, 0, (gfn + i) * 4096, 1, vm.pages.get(gfn + i)!)) {
          if (halfDone) return -ENOMEM;
          throw new Error('hv: pool accounting for share_guest');
        }
      }
    }
  } finally {
    vm.views[0].useCache = false;
    vm.cache.cpu = -1;
  }
  return 0;
}

/**
 * Whether vCPU `cpu`'s memory cache of `vm` is too short for a map needing `need` table pages:
 * under the arm64 profile fewer than kvm_mmu_cache_min_pages (__guest_check_pgtable_memcache),
 * under x86-rfc fewer than the map needs (the RFC states no minimum).
 */
function cacheShort(hv: Hypervisor, vm: Vm, cpu: number, need: number): boolean {
  const n = vm.cache.availableOn(cpu);
  return hv.arm64 ? n < MEMCACHE_MIN_PAGES : n < need;
}

/** __pkvm_host_share_guest(pfn, gfn, nr, prot) for a non-protected VM. */
export function hostShareGuest(hv: Hypervisor, vmId: number, pfn: number, gfn: number, nr: number, prot: number): number {
  const vm = hv.vms.get(vmId);
  if (vm === undefined || vm.type !== 'np' || vm.dying) return -EINVAL;
  // memcache 'vm': the call acts on the loaded vCPU of the VM (pkvm_get_loaded_hyp_vcpu), -EINVAL
  // without one, and takes its tables from that vCPU's memcache.
  const cpu = hv.memcacheVm ? loadedVcpu(hv, vmId) : -1;
  if (hv.memcacheVm && cpu < 0) return -EINVAL;
  if (!protValid(hv, prot)) return -EINVAL;
  if (nr !== 1 && nr !== 512) return -EINVAL;
  if (nr === 512 && (pfn % 512 !== 0 || gfn % 512 !== 0)) return -EINVAL;
  if (pfn + nr > hv.ramFrames) return -EINVAL;
  // The IPA range must be guest memory (not the XO alias half, not beyond the guest-physical
  // address space): -EINVAL as for a memslot there (KVM_SET_USER_MEMORY_REGION); arm64 pKVM's
  // stage-2 walker refuses an IPA beyond the VM's IPA size (-ERANGE, not in the harness's set).
  if (gfn + nr > hv.gfnLimit) return -EINVAL;
  const mmio = mmioCheck(hv, pfn, nr);
  if (mmio !== 0) return mmio;
  for (let i = 0; i < nr; i++) if (vm.pages.has(gfn + i) || vm.poisoned.has(gfn + i)) return -EPERM;
  for (let i = 0; i < nr; i++) if (!shareable(hv, pfn + i)) return -EPERM;
  return doShareGuest(hv, vm, pfn, gfn, nr, prot, -1, true, cpu);
}

/**
 * A np VM's EPT fault inside a memslot: the host's KVM shares the backing page (a 2 MiB block when
 * the slot, alignment, host states and per-page rights allow). 0, -EPERM or -ENOMEM.
 */
export function autoShare(hv: Hypervisor, vm: Vm, gfn: number, slotId: number, cacheCpu = -1): number {
  const slot = vm.slots.get(slotId)!;
  const pfn = slot.pfn + (gfn - slot.gfn);
  const base = gfn - (gfn % 512);
  const bpfn = slot.pfn + (base - slot.gfn);
  if (hv.opts.hugePages && base >= slot.gfn && base + 512 <= slot.gfn + slot.pages && bpfn % 512 === 0 && blockUniform(hv, vm, base)) {
    let all = true;
    for (let i = 0; i < 512 && all; i++) all = !vm.pages.has(base + i) && !vm.poisoned.has(base + i) && !hv.isMmio(bpfn + i) && hv.hostState(bpfn + i) === PS_OWNED;
    if (all) return doShareGuest(hv, vm, bpfn, base, 512, RWX, slotId, false, cacheCpu);
  }
  if (!shareable(hv, pfn)) return -EPERM;
  return doShareGuest(hv, vm, pfn, gfn, 1, RWX, slotId, false, cacheCpu);
}

/** Removes page records [gfn, gfn+n) of `vm` and their leaves; host pages back to H=O. Flush is the caller's. */
export function dropPages(hv: Hypervisor, vm: Vm, gfns: readonly number[]): void {
  for (const g of gfns) {
    const rec = vm.pages.get(g);
    if (rec === undefined) continue;
    hv.unmapGfn(vm, g);
    vm.pages.delete(g);
    if (rec.state === PS_SHARED_BORROWED) {
      const n = hv.shareCount(rec.pfn) - 1;
      if (n > 0) hv.shareCounts.set(rec.pfn, n);
      else hv.shareCounts.delete(rec.pfn);
    }
    hv.touchGfn(vm, g);
  }
  hv.mutations++;
}

/**
 * Host pages of dropped records back to H=O, unless other np-guest leaves still borrow them
 * (arm64 multi-share: the host state returns to OWNED with the last unshare). A 2 MiB block shared
 * as one goes back in place on its 2 MiB host leaf, so returning pages never needs a table page.
 */
export function returnToHost(hv: Hypervisor, recs: ReadonlyArray<{ pfn: number; block: number }>): void {
  const done = new Set<number>();
  for (const r of recs) if (hv.shareCount(r.pfn) > 0) done.add(r.pfn);
  for (const r of recs) {
    if (r.block < 0 || r.pfn % 512 !== 0 || done.has(r.pfn)) continue;
    let free = true;
    for (let i = 0; i < 512 && free; i++) free = hv.shareCount(r.pfn + i) === 0;
    if (free && hv.setHostBlock(r.pfn, PS_OWNED)) for (let i = 0; i < 512; i++) done.add(r.pfn + i);
  }
  for (const r of recs) if (!done.has(r.pfn)) hv.setHost(r.pfn, PS_OWNED, 0);
}

/** __pkvm_host_unshare_guest(gfn, nr). */
export function hostUnshareGuest(hv: Hypervisor, vmId: number, gfn: number, nr: number): number {
  const vm = hv.vms.get(vmId);
  if (vm === undefined || vm.type !== 'np') return -EINVAL;
  if (nr !== 1 && nr !== 512) return -EINVAL;
  const rec = vm.pages.get(gfn);
  // Nothing there: arm64 -ENOENT (__check_host_shared_guest); x86-rfc -EPERM (its guest state check).
  if (rec === undefined) return hv.arm64 ? -ENOENT : -EPERM;
  if ((rec.block >= 0 ? 512 : 1) !== nr || (nr === 512 && rec.block !== gfn)) return -E2BIG;
  const gfns = pagesOf(gfn, nr);
  for (const g of gfns) {
    const r = vm.pages.get(g)!;
    if (r.state !== PS_SHARED_BORROWED) return -EPERM;
    if (hv.hostState(r.pfn) !== PS_SHARED_OWNED) return -EPERM;
    if (hv.shareCount(r.pfn) === 0) return -EINVAL; // arm64 WARNs: an SB leaf over a page no guest count covers
  }
  const recs = gfns.map((g) => vm.pages.get(g)!).map((r) => ({ pfn: r.pfn, block: r.block }));
  dropPages(hv, vm, gfns);
  returnToHost(hv, recs);
  if (!hv.bugs.unshareNoFlush) hv.flushAll();
  return 0;
}

/** __pkvm_host_donate_guest(pfn, gfn) to a protected VM: H=NOPAGE owner vm, G=O RWX. */
export function hostDonateGuest(hv: Hypervisor, vmId: number, pfn: number, gfn: number): number {
  const vm = hv.vms.get(vmId);
  if (vm === undefined || vm.type !== 'protected' || vm.dying) return -EINVAL;
  const cpu = hv.memcacheVm ? loadedVcpu(hv, vmId) : -1; // the loaded vCPU's memcache, as share_guest
  if (hv.memcacheVm && cpu < 0) return -EINVAL;
  if (pfn >= hv.ramFrames || hv.isMmio(pfn) || hv.hostState(pfn) !== PS_OWNED) return -EPERM;
  if (gfn >= hv.gfnLimit) return -EINVAL; // guest memory only, as share_guest
  if (vm.pages.has(gfn) || vm.poisoned.has(gfn)) return -EPERM; // POISON is not NOPAGE (§2.3)
  const viewNeed = vm.views[0].need(gfn * 4096, 1);
  if (hv.memcacheVm) {
    if (!hv.bugs.enomemHalfDone && cacheShort(hv, vm, cpu, viewNeed)) return -ENOMEM;
  } else if (!hv.bugs.enomemHalfDone && hv.hostNeed(pfn) + viewNeed > hv.pool.available) return -ENOMEM;
  // Planted pkvm-enomem-half-done: the host side changes before the guest map can fail (§7 B3).
  if (!hv.setHost(pfn, PS_NOPAGE, vm.id)) return -ENOMEM;
  const rec = { pfn, state: PS_OWNED, prot: RWX, block: -1, fromSlot: -1 };
  vm.pages.set(gfn, rec);
  hv.touchGfn(vm, gfn);
  vm.views[0].useCache = hv.memcacheVm;
  vm.cache.cpu = cpu;
  const mapped = hv.mapLeaf(vm, 0, gfn * 4096, 1, rec);
  vm.views[0].useCache = false;
  vm.cache.cpu = -1;
  if (!mapped) {
    vm.pages.delete(gfn);
    hv.flushAll();
    return -ENOMEM;
  }
  hv.flushAll();
  return 0;
}

/** Guest MEM_SHARE from a protected VM: G=O → SO, H=NOPAGE(owner vm) → SB (idmap back). */
/** A guest MEM_SHARE / MEM_UNSHARE of a gfn with no valid page: poisoned -EHWPOISON; else arm64 -ENOENT, x86-rfc -EINVAL (§2.1 row 12, §2.4). */
function absentGuestPage(hv: Hypervisor, vm: Vm, gfn: number): number {
  if (vm.poisoned.has(gfn)) return -EHWPOISON;
  return hv.arm64 ? -ENOENT : -EINVAL;
}

export function guestShareHost(hv: Hypervisor, cpu: number, gfn: number): number {
  const vm = hv.vmOf(cpu);
  if (vm === null || vm.type !== 'protected') return -EINVAL;
  const rec = vm.pages.get(gfn);
  if (rec === undefined) return absentGuestPage(hv, vm, gfn);
  if (rec.state !== PS_OWNED) return -EPERM;
  if (hv.hostState(rec.pfn) !== PS_NOPAGE || hv.hostOwner !== vm.id) return -EPERM;
  if (hv.hostNeed(rec.pfn) > hv.pool.available) return -ENOMEM;
  hv.setHost(rec.pfn, PS_SHARED_BORROWED, 0);
  rec.state = PS_SHARED_OWNED;
  hv.mutations++;
  hv.refreshGfn(vm, gfn);
  hv.touchGfn(vm, gfn);
  return 0;
}

/** Guest MEM_UNSHARE: G=SO → O, H=SB → NOPAGE(owner vm), host mapping removed and flushed. */
export function guestUnshareHost(hv: Hypervisor, cpu: number, gfn: number): number {
  const vm = hv.vmOf(cpu);
  if (vm === null || vm.type !== 'protected') return -EINVAL;
  const rec = vm.pages.get(gfn);
  if (rec === undefined) return absentGuestPage(hv, vm, gfn);
  if (rec.state !== PS_SHARED_OWNED || hv.hostState(rec.pfn) !== PS_SHARED_BORROWED) return -EPERM;
  hv.setHost(rec.pfn, PS_NOPAGE, vm.id);
  rec.state = PS_OWNED;
  hv.mutations++;
  hv.refreshGfn(vm, gfn);
  hv.touchGfn(vm, gfn);
  hv.flushAll();
  return 0;
}

/**
 * __pkvm_reclaim_dying_guest_page (§2.1 row 14): the page goes back to the host, zeroed first if
 * it was private (G=O). A page of a 2 MiB share goes back with its whole block.
 */
export function vmReclaim(hv: Hypervisor, vmId: number, gfn: number): number {
  const vm = hv.vms.get(vmId);
  if (vm === undefined || !vm.dying) return -EINVAL;
  const rec = vm.pages.get(gfn);
  // An already force-reclaimed gfn: 0 (-EHWPOISON squashed, "the page was forcefully reclaimed already", §7 C2).
  if (rec === undefined) return vm.poisoned.has(gfn) ? 0 : -ENOENT;
  const gfns = rec.block >= 0 ? pagesOf(rec.block, 512) : [gfn];
  const recs = gfns.map((g) => vm.pages.get(g)!);
  // The pages the host gets back (a page other np-guest leaves still borrow stays SHARED_OWNED);
  // a whole 2 MiB block on a 2 MiB host leaf goes back in place, needing no table page.
  const back = recs.filter((r) => r.state !== PS_SHARED_BORROWED || hv.shareCount(r.pfn) <= 1);
  const inPlace = back.length === 512 && hv.host.find(back[0].pfn * 4096) && hv.host.level === 2;
  if (!inPlace && hostSplitNeed(hv, back.map((r) => r.pfn)) > hv.pool.available) return -ENOMEM;
  dropPages(hv, vm, gfns);
  hv.flushAll(); // the guest loses the page before the host gets it
  for (const r of recs) {
    if (r.state !== PS_OWNED) continue;
    // §3 I6: a private page is zeroed before the host can reach it again.
    if (!hv.bugs.reclaimNoZero) {
      const mem = hv.machine.mem;
      for (let i = 0; i < 4096; i += 4) mem.write32(r.pfn * 4096 + i, 0);
    }
    hv.returnedPrivate.push(r.pfn);
  }
  if (!(back.length === 512 && hv.setHostBlock(back[0].pfn, PS_OWNED))) for (const r of back) hv.setHost(r.pfn, PS_OWNED, 0);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Pins, FF-A and force reclaim (§2.1 rows 5-8 and 15).

/** Whether `vmId` may hold pins: the hypervisor itself (1) or a live VM. */
function pinHolder(hv: Hypervisor, vmId: number): boolean {
  if (vmId === OWNER_HOST) return true;
  const vm = hv.vms.get(vmId);
  return vm !== undefined && !vm.dying;
}

function addPin(hv: Hypervisor, vmId: number, pfn: number, delta: number): void {
  const total = hv.pinCount(pfn) + delta;
  if (total > 0) hv.pins.set(pfn, total);
  else hv.pins.delete(pfn);
  let mine = hv.pinsBy.get(vmId);
  if (mine === undefined) {
    mine = new Map();
    hv.pinsBy.set(vmId, mine);
  }
  const n = (mine.get(pfn) ?? 0) + delta;
  if (n > 0) mine.set(pfn, n);
  else mine.delete(pfn);
  if (mine.size === 0) hv.pinsBy.delete(vmId);
  hv.mutations++;
  hv.touchedPfns.add(pfn);
}

/**
 * hyp_pin_shared_mem for `vmId`'s hypervisor state: every page of [pfn, pfn + nr) must be shared
 * with the hypervisor (H=SO, hyp SB), checked for the whole range before any refcount moves.
 * -EINVAL: bad range, or a holder that is not the hypervisor (1) or a live VM; -EPERM: a page not
 * shared with the hypervisor; -EBUSY: a refcount at its u16 limit (arm64 BUGs there).
 */
export function hypPin(hv: Hypervisor, vmId: number, pfn: number, nr: number): number {
  if (!pinHolder(hv, vmId)) return -EINVAL;
  const n = rangeCheck(hv, pfn, BigInt(nr));
  if (n < 0) return -EINVAL;
  const pages = pagesOf(pfn, n);
  const sharedWithHyp = (p: number): boolean => hv.hostState(p) === PS_SHARED_OWNED && hv.hypShared.has(p);
  if (hv.bugs.pinLeakOnError) {
    // Planted pkvm-pin-leak-on-error: each page is pinned as it passes its check, and a later
    // failure returns without dropping the pins already taken (the error path of commit
    // 73b9c1e5da84, §7 B4).
    for (const p of pages) {
      if (!sharedWithHyp(p)) return -EPERM;
      if (hv.pinCount(p) >= PIN_COUNT_MAX) return -EBUSY;
      addPin(hv, vmId, p, 1);
    }
    return 0;
  }
  for (const p of pages) if (!sharedWithHyp(p)) return -EPERM;
  for (const p of pages) if (hv.pinCount(p) >= PIN_COUNT_MAX) return -EBUSY;
  for (const p of pages) addPin(hv, vmId, p, 1);
  return 0;
}

/**
 * hyp_unpin_shared_mem: drops one pin of `vmId` on every page. arm64 checks nothing and BUGs on an
 * underflow (§7 C4); here an unpin of a page `vmId` has not pinned is -EINVAL and changes nothing.
 */
export function hypUnpin(hv: Hypervisor, vmId: number, pfn: number, nr: number): number {
  const n = rangeCheck(hv, pfn, BigInt(nr));
  if (n < 0) return -EINVAL;
  const mine = hv.pinsBy.get(vmId);
  const pages = pagesOf(pfn, n);
  for (const p of pages) if ((mine?.get(p) ?? 0) === 0) return -EINVAL;
  for (const p of pages) addPin(hv, vmId, p, -1);
  return 0;
}

/** Drops every pin `vmId` holds (teardown of its hypervisor state). */
export function releasePins(hv: Hypervisor, vmId: number): void {
  const mine = hv.pinsBy.get(vmId);
  if (mine === undefined) return;
  for (const [p, n] of [...mine].sort(([a], [b]) => a - b)) addPin(hv, vmId, p, -n);
}

/**
 * __pkvm_host_share_ffa (arm64 profile; x86-rfc has no FF-A proxy: -EINVAL): H=O → H=SO for every
 * page, recorded as shared with the secure world.
 */
export function hostShareFfa(hv: Hypervisor, pfn: number, nr: bigint): number {
  if (!hv.arm64) return -EINVAL;
  const n = rangeCheck(hv, pfn, nr);
  if (n < 0) return -EINVAL;
  const mmio = mmioCheck(hv, pfn, n);
  if (mmio !== 0) return mmio;
  const pages = pagesOf(pfn, n);
  for (const p of pages) if (hv.hostState(p) !== PS_OWNED) return -EPERM;
  if (hostSplitNeed(hv, pages) > hv.pool.available) return -ENOMEM;
  for (const p of pages) {
    hv.setHost(p, PS_SHARED_OWNED, 0);
    hv.ffaShared.add(p);
  }
  return 0;
}

/**
 * __pkvm_host_unshare_ffa: H=SO → H=O. Upstream checks only the host state and relies on the FF-A
 * proxy passing only ranges it shared (§7 C3); the harness runs the two as one, so a page that is
 * SHARED_OWNED for another reason (hyp share, np-guest share) is refused (-EPERM). The planted bug
 * pkvm-ffa-unshare-unchecked drops that cross-check.
 */
export function hostUnshareFfa(hv: Hypervisor, pfn: number, nr: bigint): number {
  if (!hv.arm64) return -EINVAL;
  const n = rangeCheck(hv, pfn, nr);
  if (n < 0) return -EINVAL;
  const pages = pagesOf(pfn, n);
  for (const p of pages) {
    if (hv.hostState(p) !== PS_SHARED_OWNED) return -EPERM;
    if (!hv.ffaShared.has(p) && !hv.bugs.ffaUnshareUnchecked) return -EPERM;
  }
  for (const p of pages) {
    hv.setHost(p, PS_OWNED, 0);
    hv.ffaShared.delete(p);
  }
  return 0;
}

/**
 * __pkvm_host_force_reclaim_page_guest (arm64 profile, §2.1 row 15): takes a private page back from
 * a protected guest, dying or live. Checks in the source's order: not memory -EFAULT; host state
 * O/SO/SB -EAGAIN; NOPAGE not owned by a guest -EPERM; guest gone -EAGAIN; guest state not O -EPERM.
 * The guest's gfn becomes POISON, the page is zeroed and goes back to the host (H=O).
 */
export function hostForceReclaim(hv: Hypervisor, pfn: number): number {
  if (!hv.arm64) return -EINVAL;
  if (pfn >= hv.config.framesMax || hv.isMmio(pfn)) return -EFAULT; // not memory (addr_is_memory)
  const hs = hv.hostState(pfn);
  if (hs !== PS_NOPAGE) return -EAGAIN;
  const owner = hv.hostOwner;
  if (owner < 2 || hv.pool.contains(pfn)) return -EPERM;
  const vm = hv.vms.get(owner);
  if (vm === undefined) return -EAGAIN;
  const gfn = vm.pages.gfnsOf(pfn)[0];
  const rec = gfn === undefined ? undefined : vm.pages.get(gfn);
  if (rec === undefined || rec.state !== PS_OWNED) return -EPERM;
  dropPages(hv, vm, [gfn]);
  vm.poisoned.add(gfn);
  hv.flushAll(); // the guest loses the page before the host gets it
  // hyp_poison_page: zeroed (and cleaned to PoC) before the host can reach it. Planted
  // pkvm-force-reclaim-no-zero: the zeroing fix reached vm_reclaim's path only.
  if (!hv.bugs.forceReclaimNoZero) {
    const mem = hv.machine.mem;
    for (let i = 0; i < 4096; i += 4) mem.write32(pfn * 4096 + i, 0);
  }
  hv.returnedPrivate.push(pfn);
  hv.setHost(pfn, PS_OWNED, 0);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Host calls on a np guest's stage 2 (§2.1 row 16): relax_perms, wrprotect, mkyoung (arm64 profile;
// the x86 RFC has no such hypercalls: -EINVAL). The VM-type gate lives in the hypercall handlers
// (§7 C6): a protected VM, like no VM, is -EINVAL there.

/** The np VM a handler accepts, or null (-EINVAL): arm64 profile, np, and with `loaded` a vCPU of it loaded. */
function npHandlerVm(hv: Hypervisor, vmId: number, loaded: boolean): Vm | null {
  if (!hv.arm64) return null;
  const vm = hv.vms.get(vmId);
  if (vm === undefined || vm.type !== 'np') return null;
  if (loaded && !loadedAnywhere(hv, vmId)) return null; // pkvm_get_loaded_hyp_vcpu() == NULL
  return vm;
}

/**
 * __pkvm_host_relax_perms_guest: adds `prot` to the rights of the page at gfn (never removes any;
 * no flush needed). -EINVAL: handler gate, prot beyond RWX, or a result the EPT cannot hold (W
 * without R, X-only without the capability: x86 EPT, unlike arm64, has no such leaf). -EAGAIN: no
 * valid leaf at gfn (the stage-2 walk with KVM_PGTABLE_WALK_HANDLE_FAULT). A page of a 2 MiB share
 * is one leaf: the whole block is relaxed.
 */
export function hostRelaxPerms(hv: Hypervisor, vmId: number, gfn: number, prot: number): number {
  const vm = npHandlerVm(hv, vmId, true);
  if (vm === null) return -EINVAL;
  if ((prot & ~RWX) !== 0) return -EINVAL;
  const rec = vm.pages.get(gfn);
  if (rec === undefined) return -EAGAIN;
  const next = rec.prot | prot;
  if (!protValid(hv, next)) return -EINVAL;
  if (next === rec.prot) return 0;
  const gfns = rec.block >= 0 ? pagesOf(rec.block, 512) : [gfn];
  for (const g of gfns) {
    const r = vm.pages.get(g)!;
    vm.pages.set(g, { ...r, prot: r.prot | prot });
  }
  hv.mutations++;
  for (const g of gfns) hv.refreshGfn(vm, g);
  return 0;
}

/**
 * __pkvm_host_wrprotect_guest(gfn, nr) by handle: nr 1, or 512 from an aligned gfn (else -EINVAL,
 * __guest_check_transition_size); W is taken away from every leaf of the range (as dirty logging:
 * the next guest write makes it writable again) and flushed; gfns without a leaf are skipped.
 */
export function hostWrprotect(hv: Hypervisor, vmId: number, gfn: number, nr: number): number {
  if (npHandlerVm(hv, vmId, false) === null) return -EINVAL;
  if (nr !== 1 && (nr !== 512 || gfn % 512 !== 0)) return -EINVAL;
  return vmWriteProtect(hv, vmId, gfn, nr);
}

/** __pkvm_host_mkyoung_guest(gfn): an access-tracked leaf at gfn is young again; always 0 past the handler. */
export function hostMkyoung(hv: Hypervisor, vmId: number, gfn: number): number {
  const vm = npHandlerVm(hv, vmId, true);
  if (vm === null) return -EINVAL;
  const rec = vm.pages.get(gfn);
  if (rec === undefined) return 0;
  for (let v = 0; v < vm.views.length; v++) {
    const t = vm.views[v];
    if (t.find(gfn * 4096) && (t.lo & AGED_LO) !== 0) {
      hv.youngFound(vm, v, gfn * 4096, rec);
      hv.touchGfn(vm, gfn);
    }
  }
  return 0;
}
