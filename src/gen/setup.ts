/**
 * Setup: the ops that build a working guest on the built-in machine before the workload starts.
 * Contract: after setup, every vCPU has CR3 at a guest PML4 whose tables the EPT maps RWX (the
 * guest-table block at GPA 0, one 2 MiB EPT leaf; CR3 keeps its reset value 0), and the world's pages are mapped (guest and EPT) at 4 KiB or 2 MiB; SPP pages (when the SPP control is
 * on) have an SPPT path and an EPT leaf with bit 61 and W = 0. Everything is written with path ops
 * (ept_set, gpt_set, sppt_set), so a trace shows every entry it relies on.
 * Under the KVM XO design (config.kvmXo, feature xo) some 4 KiB pages are reached through their
 * execute-only alias: the guest PTE has the stolen bit (MAXPHYADDR − 1) and EPT maps the alias GPA
 * `--x` to the same frame, as the XO RFC's VMM does (docs/semantics.md step 7).
 * In a few percent of traces setup ends with aliasing constructs (src/gen/alias.ts): tables seen
 * through other tables or as data, with the same path ops.
 */
import {
  CR4_PAE, CR4_PGE, CR4_SMAP, CR4_SMEP, CR4_PKE, CR4_PKS, CTL2_EPT, CTL2_VPID, CTL2_MBEC, CTL2_SPP,
  EPT_R, EPT_X, EPT_XU, EPT_MEMTYPE_WB, EPT_MEMTYPE_SHIFT, EPT_PS, EPT_SPP_HI,
  PTE_P, PTE_RW, PTE_US, PTE_A, PTE_D, PTE_PS, PTE_XD_HI, PTE_PKEY_SHIFT_HI,
} from '../hw/bits.js';
import { World, PAGE, LARGE_PAGE, LA_BASES, EPT_LEAF_RWX, entry, type GuestPage } from './world.js';
import { buildAliasing } from './alias.js';

/** Bounds on what setup builds: enough pages for interactions, few enough to keep traces short. */
export const RUNS_4K_MAX = 5;
export const RUN_PAGES_MAX = 3;
export const LARGE_PAGES_MAX = 2;
export const SPP_PAGES_MAX = 2;
const LA_SPAN_4K_PAGES = 4096; // 4 KiB pages land in the first 16 MiB of a linear region
const LARGE_LA_OFFSET = 0x4000_0000; // 2 MiB pages start 1 GiB into a region: no PDE shared with 4 KiB pages

const KERNEL_HALF = 2 ** 47;
/** Probability that a 4 KiB page is reached through its XO alias (kvmXo configurations only). */
export const XO_ALIAS_PROBABILITY = 0.5;
/** The XO alias's EPT leaf: execute-only (X, and XU for MBEC), WB. */
const EPT_LEAF_XO = EPT_X | EPT_XU | (EPT_MEMTYPE_WB << EPT_MEMTYPE_SHIFT);

/** A random 4-bit protection key in the leaf's high half (pk feature only). */
function keyHi(w: World): number {
  return w.features.has('pk') && w.rng.chance(0.5) ? (w.rng.int(16) << PTE_PKEY_SHIFT_HI) : 0;
}

function guestLeafLo(w: World, la: number, large: boolean): number {
  let lo = PTE_P | PTE_RW;
  const user = la < KERNEL_HALF;
  if (user !== w.rng.chance(0.1)) lo |= PTE_US;
  if (w.rng.chance(0.2)) lo &= ~PTE_RW;
  if (w.rng.chance(0.3)) lo |= PTE_A;
  if (w.rng.chance(0.2)) lo |= PTE_D | PTE_A;
  if (large) lo |= PTE_PS;
  return lo;
}

function guestLeaf(w: World, la: number, gpa: number, large: boolean): bigint {
  const hi = keyHi(w) | (w.rng.chance(0.15) ? PTE_XD_HI : 0);
  return entry(gpa, guestLeafLo(w, la, large), hi);
}

function map4kRun(w: World, used: Set<number>): void {
  const region = w.rng.pick(LA_BASES);
  const pages = 1 + w.rng.int(RUN_PAGES_MAX);
  let start = w.rng.int(LA_SPAN_4K_PAGES - pages);
  for (let tries = 0; tries < 8 && used.has(region + start * PAGE); tries++) start = w.rng.int(LA_SPAN_4K_PAGES - pages);
  for (let k = 0; k < pages; k++) {
    const la = region + (start + k) * PAGE;
    if (used.has(la)) continue;
    used.add(la);
    const gpa = w.allocDataGpa(false);
    const hpa = w.allocData(PAGE);
    w.mapEpt(gpa, 1, entry(hpa, EPT_LEAF_RWX));
    // The rng is only drawn under kvmXo: other configurations generate exactly as before.
    const alias = w.config.kvmXo && w.features.has('xo') && w.rng.chance(XO_ALIAS_PROBABILITY) ? 2 ** (w.config.maxPhyAddr - 1) : 0;
    if (alias !== 0) w.mapEpt(alias + gpa, 1, entry(hpa, EPT_LEAF_XO));
    w.mapGuest(la, 1, guestLeaf(w, la, alias + gpa, false));
    w.addPage({ la, gpa, hpa, large: false, spp: false });
  }
}

function mapLarge(w: World, used: Set<number>): void {
  const la = w.rng.pick(LA_BASES) + LARGE_LA_OFFSET + w.rng.int(64) * LARGE_PAGE;
  if (used.has(la)) return;
  used.add(la);
  const gpa = w.allocDataGpa(true);
  const hpa = w.allocData(LARGE_PAGE);
  w.mapEpt(gpa, 2, entry(hpa, EPT_LEAF_RWX | EPT_PS));
  w.mapGuest(la, 2, guestLeaf(w, la, gpa, true));
  w.addPage({ la, gpa, hpa, large: true, spp: false });
}

/** Random sub-page write permissions: even bits only (odd bits are reserved). */
export function spptLeaf(w: World): bigint {
  const even = 0x55555555;
  const lo = w.rng.chance(0.2) ? even : (w.rng.u32() & even) >>> 0;
  const hi = w.rng.chance(0.2) ? even : (w.rng.u32() & even) >>> 0;
  return entry(0, lo, hi);
}

function protectSubPages(w: World, p: GuestPage): void {
  w.mapSppt(p.gpa, spptLeaf(w));
  const lo = EPT_R | (w.rng.chance(0.5) ? EPT_X | EPT_XU : 0) | (EPT_MEMTYPE_WB << EPT_MEMTYPE_SHIFT);
  w.ops.push({ op: 'ept_set', cpu: w.cpu(), gpa: p.gpa, level: 1, entry: entry(p.hpa, lo, EPT_SPP_HI) });
  p.spp = true;
}

function setControls(w: World): void {
  const caps = w.config.caps;
  w.mbec = w.features.has('xo') && caps.mbec && w.rng.chance(0.5);
  w.sppOn = w.features.has('spp') && caps.spp && w.rng.chance(0.85);
  const ctls = CTL2_EPT | CTL2_VPID | (w.mbec ? CTL2_MBEC : 0) | (w.sppOn ? CTL2_SPP : 0);
  for (let cpu = 0; cpu < w.config.vcpus; cpu++) w.ops.push({ op: 'set_ctls2', cpu, value: ctls >>> 0 });
}

function setRegisters(w: World): void {
  const caps = w.config.caps;
  let cr4 = CR4_PAE;
  if (w.rng.chance(0.3)) cr4 |= CR4_PGE;
  if (caps.smep && w.rng.chance(0.3)) cr4 |= CR4_SMEP;
  if (caps.smap && w.rng.chance(0.3)) cr4 |= CR4_SMAP;
  if (w.features.has('pk') && caps.pku && w.rng.chance(0.5)) cr4 |= CR4_PKE;
  if (w.features.has('pk') && caps.pks && w.rng.chance(0.5)) cr4 |= CR4_PKS;
  if (cr4 !== CR4_PAE) {
    for (let cpu = 0; cpu < w.config.vcpus; cpu++) w.ops.push({ op: 'set_reg', cpu, reg: 'cr4', value: BigInt(cr4 >>> 0) });
  }
  // Under kvmXo, vCPU 0 sometimes starts in user mode: the XO #PF's U/S bit is then in play at once.
  if (w.config.kvmXo && w.features.has('xo') && w.rng.chance(0.3)) w.ops.push({ op: 'set_reg', cpu: 0, reg: 'cpl', value: 3n });
}

/** Appends the setup ops to `w.ops` and fills the world's pages. */
export function buildSetup(w: World): void {
  setControls(w);
  w.initGuestRoot();
  const used = new Set<number>();
  const runs = 1 + w.rng.int(RUNS_4K_MAX);
  for (let i = 0; i < runs; i++) map4kRun(w, used);
  const large = w.rng.int(LARGE_PAGES_MAX + 1);
  for (let i = 0; i < large; i++) mapLarge(w, used);
  if (w.sppOn) {
    const small = w.pages.filter((p) => !p.large);
    const n = Math.min(small.length, 1 + w.rng.int(SPP_PAGES_MAX));
    for (let i = 0; i < n; i++) {
      const p = w.rng.pick(small);
      if (!p.spp) protectSubPages(w, p);
    }
  }
  setRegisters(w);
  buildAliasing(w);
}
