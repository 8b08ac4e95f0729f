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
import {
  E2BIG, EINVAL, ENOENT, ENOMEM, EPERM, OWNER_HYP, PS_NOPAGE, PS_OWNED, PS_SHARED_BORROWED,
  PS_SHARED_OWNED, R, RWX, SPP_ALL_WRITABLE, W, X,
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
  if (pfn >= hv.ramFrames || hv.hostState(pfn) !== PS_OWNED) return -EPERM;
  if (hv.hostNeed(pfn) > hv.pool.available) return -ENOMEM;
  hv.setHost(pfn, PS_SHARED_OWNED, 0);
  hv.hypShared.add(pfn);
  return 0;
}

/** __pkvm_host_unshare_hyp: H=SO shared with hyp → H=O. */
export function hostUnshareHyp(hv: Hypervisor, pfn: number): number {
  if (pfn >= hv.ramFrames || hv.hostState(pfn) !== PS_SHARED_OWNED || !hv.hypShared.has(pfn)) return -EPERM;
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

/** Whether a host page may be shared to a guest: H=O (x86: no multi-share count, §2.4). */
function shareable(hv: Hypervisor, p: number): boolean {
  const s = hv.hostState(p);
  if (s === PS_OWNED) return true;
  return hv.bugs.shareHypSharedPage && s === PS_SHARED_OWNED && hv.hypShared.has(p) && !hv.sharedTo.has(p);
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

/** Shares host pages [pfn, pfn+nr) with `vm` at gfn (preconditions already checked). */
function doShareGuest(hv: Hypervisor, vm: Vm, pfn: number, gfn: number, nr: number, prot: number, fromSlot: number): number {
  const huge = nr === 512 && blockUniform(hv, vm, gfn);
  const need = (nr === 512 && hv.host.find(pfn * 4096) && hv.host.level === 2 ? 0 : hostSplitNeed(hv, pagesOf(pfn, nr)))
    + vm.views[0].need(gfn * 4096, huge ? 2 : 1) + (huge ? 0 : Math.ceil(nr / 512));
  if (need > hv.pool.available) return -ENOMEM;
  if (!(nr === 512 && hv.setHostBlock(pfn, PS_SHARED_OWNED))) {
    for (let i = 0; i < nr; i++) hv.setHost(pfn + i, PS_SHARED_OWNED, 0);
  }
  for (let i = 0; i < nr; i++) {
    hv.sharedTo.set(pfn + i, vm.id);
    vm.pages.set(gfn + i, { pfn: pfn + i, state: PS_SHARED_BORROWED, prot, block: nr === 512 ? gfn : -1, fromSlot });
    hv.touchGfn(vm, gfn + i);
  }
  hv.mutations++;
  if (huge) {
    if (!hv.mapLeaf(vm, 0, gfn * 4096, 2, vm.pages.get(gfn)!)) throw new Error('hv: pool accounting for share_guest');
  } else {
    for (let i = 0; i < nr; i++) {
      if (!hv.mapLeaf(vm, 0, (gfn + i) * 4096, 1, vm.pages.get(gfn + i)!)) throw new Error('hv: pool accounting for share_guest');
    }
  }
  return 0;
}

/** __pkvm_host_share_guest(pfn, gfn, nr, prot) for a non-protected VM. */
export function hostShareGuest(hv: Hypervisor, vmId: number, pfn: number, gfn: number, nr: number, prot: number): number {
  const vm = hv.vms.get(vmId);
  if (vm === undefined || vm.type !== 'np' || vm.dying) return -EINVAL;
  if (!protValid(hv, prot)) return -EINVAL;
  if (nr !== 1 && nr !== 512) return -EINVAL;
  if (nr === 512 && (pfn % 512 !== 0 || gfn % 512 !== 0)) return -EINVAL;
  if (pfn + nr > hv.ramFrames) return -EINVAL;
  // The IPA range must be guest memory (not the XO alias half, not beyond the guest-physical
  // address space): -EINVAL as for a memslot there (KVM_SET_USER_MEMORY_REGION); arm64 pKVM's
  // stage-2 walker refuses an IPA beyond the VM's IPA size (-ERANGE, not in the harness's set).
  if (gfn + nr > hv.gfnLimit) return -EINVAL;
  for (let i = 0; i < nr; i++) if (vm.pages.has(gfn + i)) return -EPERM;
  for (let i = 0; i < nr; i++) if (!shareable(hv, pfn + i)) return -EPERM;
  return doShareGuest(hv, vm, pfn, gfn, nr, prot, -1);
}

/**
 * A np VM's EPT fault inside a memslot: the host's KVM shares the backing page (a 2 MiB block when
 * the slot, alignment, host states and per-page rights allow). 0, -EPERM or -ENOMEM.
 */
export function autoShare(hv: Hypervisor, vm: Vm, gfn: number, slotId: number): number {
  const slot = vm.slots.get(slotId)!;
  const pfn = slot.pfn + (gfn - slot.gfn);
  const base = gfn - (gfn % 512);
  const bpfn = slot.pfn + (base - slot.gfn);
  if (hv.opts.hugePages && base >= slot.gfn && base + 512 <= slot.gfn + slot.pages && bpfn % 512 === 0 && blockUniform(hv, vm, base)) {
    let all = true;
    for (let i = 0; i < 512 && all; i++) all = !vm.pages.has(base + i) && hv.hostState(bpfn + i) === PS_OWNED;
    if (all) return doShareGuest(hv, vm, bpfn, base, 512, RWX, slotId);
  }
  if (hv.hostState(pfn) !== PS_OWNED) return -EPERM;
  return doShareGuest(hv, vm, pfn, gfn, 1, RWX, slotId);
}

/** Removes page records [gfn, gfn+n) of `vm` and their leaves; host pages back to H=O. Flush is the caller's. */
export function dropPages(hv: Hypervisor, vm: Vm, gfns: readonly number[]): void {
  for (const g of gfns) {
    const rec = vm.pages.get(g);
    if (rec === undefined) continue;
    hv.unmapGfn(vm, g);
    vm.pages.delete(g);
    hv.sharedTo.delete(rec.pfn);
    hv.touchGfn(vm, g);
  }
  hv.mutations++;
}

/**
 * Host pages of dropped records back to H=O: a 2 MiB block shared as one goes back in place on its
 * 2 MiB host leaf, so returning pages never needs a table page.
 */
export function returnToHost(hv: Hypervisor, recs: ReadonlyArray<{ pfn: number; block: number }>): void {
  const done = new Set<number>();
  for (const r of recs) {
    if (r.block < 0 || r.pfn % 512 !== 0 || done.has(r.pfn)) continue;
    if (hv.setHostBlock(r.pfn, PS_OWNED)) for (let i = 0; i < 512; i++) done.add(r.pfn + i);
  }
  for (const r of recs) if (!done.has(r.pfn)) hv.setHost(r.pfn, PS_OWNED, 0);
}

/** __pkvm_host_unshare_guest(gfn, nr). */
export function hostUnshareGuest(hv: Hypervisor, vmId: number, gfn: number, nr: number): number {
  const vm = hv.vms.get(vmId);
  if (vm === undefined || vm.type !== 'np') return -EINVAL;
  if (nr !== 1 && nr !== 512) return -EINVAL;
  const rec = vm.pages.get(gfn);
  if (rec === undefined) return -ENOENT;
  if ((rec.block >= 0 ? 512 : 1) !== nr || (nr === 512 && rec.block !== gfn)) return -E2BIG;
  const gfns = pagesOf(gfn, nr);
  for (const g of gfns) {
    const r = vm.pages.get(g)!;
    if (r.state !== PS_SHARED_BORROWED) return -EPERM;
    if (hv.hostState(r.pfn) !== PS_SHARED_OWNED || hv.sharedTo.get(r.pfn) !== vm.id) return -EPERM;
  }
  const pfns = gfns.map((g) => vm.pages.get(g)!.pfn);
  dropPages(hv, vm, gfns);
  if (!(nr === 512 && hv.setHostBlock(pfns[0], PS_OWNED))) for (const p of pfns) hv.setHost(p, PS_OWNED, 0);
  if (!hv.bugs.unshareNoFlush) hv.flushAll();
  return 0;
}

/** __pkvm_host_donate_guest(pfn, gfn) to a protected VM: H=NOPAGE owner vm, G=O RWX. */
export function hostDonateGuest(hv: Hypervisor, vmId: number, pfn: number, gfn: number): number {
  const vm = hv.vms.get(vmId);
  if (vm === undefined || vm.type !== 'protected' || vm.dying) return -EINVAL;
  if (pfn >= hv.ramFrames || hv.hostState(pfn) !== PS_OWNED) return -EPERM;
  if (gfn >= hv.gfnLimit) return -EINVAL; // guest memory only, as share_guest
  if (vm.pages.has(gfn)) return -EPERM;
  const need = hv.hostNeed(pfn) + vm.views[0].need(gfn * 4096, 1);
  if (!hv.bugs.enomemHalfDone && need > hv.pool.available) return -ENOMEM;
  // Planted pkvm-enomem-half-done: the host side changes before the guest map can fail (§7 B3).
  if (!hv.setHost(pfn, PS_NOPAGE, vm.id)) return -ENOMEM;
  const rec = { pfn, state: PS_OWNED, prot: RWX, block: -1, fromSlot: -1 };
  vm.pages.set(gfn, rec);
  hv.touchGfn(vm, gfn);
  if (!hv.mapLeaf(vm, 0, gfn * 4096, 1, rec)) {
    vm.pages.delete(gfn);
    hv.flushAll();
    return -ENOMEM;
  }
  hv.flushAll();
  return 0;
}

/** Guest MEM_SHARE from a protected VM: G=O → SO, H=NOPAGE(owner vm) → SB (idmap back). */
export function guestShareHost(hv: Hypervisor, cpu: number, gfn: number): number {
  const vm = hv.vmOf(cpu);
  if (vm === null || vm.type !== 'protected') return -EINVAL;
  const rec = vm.pages.get(gfn);
  if (rec === undefined) return -ENOENT;
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
  if (rec === undefined) return -ENOENT;
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
  if (rec === undefined) return -ENOENT;
  const gfns = rec.block >= 0 ? pagesOf(rec.block, 512) : [gfn];
  const recs = gfns.map((g) => vm.pages.get(g)!);
  const need = hostSplitNeed(hv, recs.map((r) => r.pfn));
  if (need > hv.pool.available) return -ENOMEM;
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
  if (!(recs.length === 512 && hv.setHostBlock(recs[0].pfn, PS_OWNED))) for (const r of recs) hv.setHost(r.pfn, PS_OWNED, 0);
  return 0;
}
