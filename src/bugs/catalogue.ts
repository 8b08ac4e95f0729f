/**
 * The planted-bug catalogue: known defect classes that a configuration can switch on.
 * Contract: names are stable (traces and crash directories record them); each entry says which
 * layer implements it and where the defect class comes from. A planted bug costs nothing when off:
 * the machine reads these flags once, at construction, into plain booleans.
 */

export interface PlantedBug {
  name: string;
  layer: 'hw' | 'hv';
  /** What goes wrong, and the real bug class it reproduces (source in ../shared/reference/). */
  doc: string;
}

export const CATALOGUE: readonly PlantedBug[] = [
  { name: 'canary', layer: 'hw', doc: 'A 2-byte write that crosses a 4 KiB boundary drops its last byte. Must always be found within a second: proves the pipeline catches failures (TigerBeetle canary).' },
  { name: 'pks-wd-ignores-cr0wp', layer: 'hw', doc: 'WD blocks supervisor writes even with CR0.WP = 0 (the SDM 4.6.1/4.6.2 confusion noted in the KVM PKS series).' },
  { name: 'pkey-reg-by-cpl', layer: 'hw', doc: 'PKRU/PKRS chosen by CPL instead of the page\'s U/S (fixed in Bochs commit 72d55ca09).' },
  { name: 'pk-on-fetch', layer: 'hw', doc: 'Protection keys applied to instruction fetches.' },
  { name: 'spp-subpage-cross', layer: 'hw', doc: 'A write spanning two sub-pages checks only the first (Bochs SPP issue #1).' },
  { name: 'spp-odd-bits-ignored', layer: 'hw', doc: 'Reserved odd bits of an SPPT leaf are not treated as a misconfiguration.' },
  { name: 'ept-gla-bits-wrong', layer: 'hw', doc: 'Qualification bits 7/8 computed from the wrong condition (KVM fix d0164c161923 "Fix check for valid GVA on an EPT violation").' },
  { name: 'ept-misconfig-priority', layer: 'hw', doc: 'A permission denial at an upper EPT level is reported before a misconfiguration below it.' },
  { name: 'invept-keeps-combined', layer: 'hw', doc: 'Single-context INVEPT leaves combined mappings in the TLB.' },
  { name: 'xo-pf-no-user-bit', layer: 'hw', doc: 'The XO #PF is injected without U/S for a CPL 3 access.' },
  { name: 'pkvm-hyp-donate-no-owner-check', layer: 'hv', doc: 'hyp_donate_host accepts a page whose host entry is NOPAGE with any owner (or SHARED_BORROWED): the x86 RFC\'s host_ack_donation gap (pkvm-and-vtl.md §7 C7, B10), so a guest\'s page reaches the host.' },
  { name: 'pkvm-share-hyp-shared-page', layer: 'hv', doc: 'host_share_guest accepts a page the host shared with the hypervisor (H=SO with no guest count): the overloaded SO state (§7 B9, C1).' },
  { name: 'pkvm-unshare-no-flush', layer: 'hv', doc: 'host_unshare_guest skips the TLB flush, so the guest still reaches the page through a stale translation (§7 B7).' },
  { name: 'pkvm-reclaim-no-zero', layer: 'hv', doc: 'Reclaiming a private page of a protected guest skips zeroing: its content leaks to the host (§7 B6, I6).' },
  { name: 'pkvm-range-overflow', layer: 'hv', doc: 'pfn + nr is checked in wrapping 64-bit arithmetic, so a wrapping range passes the checks and the transition runs on unchecked pages (§7 B2).' },
  { name: 'pkvm-enomem-half-done', layer: 'hv', doc: 'host_donate_guest changes the host entry before the guest map can fail with -ENOMEM (no memcache pre-check), leaving the page lost (§7 B3).' },
  { name: 'spp-lost-on-wrprotect', layer: 'hv', doc: 'Write-protection (dirty logging) or access tracking drops EPT bit 61 for good instead of saving it in a software bit and restoring it (KVM SPP series v5 7/9, v12 "free bit to store SPP bit").' },
  { name: 'spp-hugepage-not-split', layer: 'hv', doc: 'KVM_SUBPAGES_SET_ACCESS inside a 2 MiB EPT leaf leaves the huge leaf in place, so the page stays unprotected (ref §3.5).' },
  { name: 'memattr-partial-update', layer: 'hv', doc: 'KVM_SET_MEMORY_ATTRIBUTES stores entry by entry without reserving first and returns -ENOMEM with a prefix changed (§7 B13).' },
  { name: 'vtl-protect-no-flush', layer: 'hv', doc: 'HvCallModifyVtlProtectionMask returns before flushing the other vCPUs\' TLBs, so a lower VTL still uses the old rights (§5.2).' },
];

export const BUG_NAMES: ReadonlySet<string> = new Set(CATALOGUE.map((b) => b.name));
