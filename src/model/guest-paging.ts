/**
 * Guest 4-level paging entry rules of the reference model: presence, reserved bits, leaves and
 * the final guest-physical address. Contract: pure functions of one entry and the registers in
 * force (docs/semantics.md "Guest access" step 2; ref §4.1 RSVD; SDM 4.5 4-level paging).
 */
import { PTE_P, PTE_PS, PTE_XD_HI } from '../hw/bits.js';
import { type Entry, rsvdHi } from './entry.js';
import { NO_RULE, RULE } from './rules.js';

export interface GuestPagingContext {
  /** Host MAXPHYADDR: under kvmXo bit MAXPHYADDR-1 is the XO bit, an ordinary address bit here. */
  maxPhyAddr: number;
  nxe: boolean;
  page1G: boolean;
}

export function guestPresent(e: Entry): boolean {
  return (e.lo & PTE_P) !== 0;
}

/** A present entry is a leaf at level 1, or with PS at level 3 (1 GiB) or 2 (2 MiB). */
export function guestIsLeaf(e: Entry, level: number): boolean {
  return level === 1 || ((level === 2 || level === 3) && (e.lo & PTE_PS) !== 0);
}

/** semantics.md step 2: the reserved-bit conditions that raise #PF with P | RSVD. */
export function guestReserved(e: Entry, level: number, ctx: GuestPagingContext): boolean {
  return guestReservedRule(e, level, ctx) !== NO_RULE;
}

/**
 * The reserved-bit rule (src/model/rules.ts) a present entry breaks, or NO_RULE: address bits
 * [51 : MAXPHYADDR] at every level; XD (bit 63) when EFER.NXE = 0 (ref §4.2); PS in a PML4E; PS in a
 * PDPTE without 1 GiB pages; large-leaf alignment bits (1 GiB 29:13, 2 MiB 20:13).
 */
export function guestReservedRule(e: Entry, level: number, ctx: GuestPagingContext): number {
  if ((e.hi & rsvdHi(ctx.maxPhyAddr)) !== 0) return RULE.pfRsvdAddr[level];
  if (!ctx.nxe && (e.hi & PTE_XD_HI) !== 0) return RULE.pfRsvdXd[level];
  const ps = (e.lo & PTE_PS) !== 0;
  if (level === 4) return ps ? RULE.pfRsvdPsPml4 : NO_RULE;
  if (level === 3 && ps) {
    if (!ctx.page1G) return RULE.pfRsvdPs1g;
    return (e.lo & 0x3fffe000) !== 0 ? RULE.pfRsvdAlign1g : NO_RULE;
  }
  if (level === 2 && ps) return (e.lo & 0x1fe000) !== 0 ? RULE.pfRsvdAlign2m : NO_RULE;
  return NO_RULE;
}
