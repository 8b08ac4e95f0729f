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
];

export const BUG_NAMES: ReadonlySet<string> = new Set(CATALOGUE.map((b) => b.name));
