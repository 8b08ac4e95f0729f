/**
 * Aliased page-table states: the layouts the architecture allows and real guests and hypervisors
 * create, where one frame plays two parts. Built at the end of setup in a few percent of traces:
 * - `gpt-on-ept`: a guest paging-structure table is an EPT table frame (a guest non-leaf entry
 *   points at a GPA whose EPT leaf maps the EPT table), so the guest walk reads EPT entries as
 *   guest entries and its A/D updates land in EPT entries;
 * - `gpt-leaf-on-table`: a guest PTE maps a guest table or an EPT table, so a guest data write
 *   rewrites a table entry;
 * - `ept-leaf-on-table`: an EPT leaf maps an EPT or SPPT table frame to a GPA the guest reaches
 *   (an existing page's leaf rewritten, or a fresh page), so guest accesses read and write the
 *   hypervisor's own structures;
 * - `gpt-self`: a guest non-leaf entry points at the table holding it (a PML4 entry at the PML4:
 *   the recursive mapping) or at a table above it on the same path.
 * Contract: aliasing is a choice of operands of the ordinary ops (ept_set, gpt_set, and the
 * workload's accesses), never a new op. Whether a trace builds any is drawn from its own derived
 * stream (`<seed>/alias`), so a trace that builds none is op for op what it was before aliasing
 * existed; a trace that does builds one or two constructs, targets the tables and pages already in
 * play (the recent pages' own EPT, SPPT and guest tables, the entries on their paths), records them
 * in `World.aliases` and `World.guestTables`, and adds the aliasing linear address as a page the
 * workload accesses, with the offsets of the live entries in it (`GuestPage.hot`). Deterministic
 * in the rng; the machine is never consulted.
 */
import { EPT_MEMTYPE_SHIFT, EPT_MEMTYPE_WB, EPT_R, EPT_X, EPT_XU, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../hw/bits.js';
import {
  World, PAGE, LARGE_PAGE, EPT_ROOT_HPA, SPPT_ROOT_HPA, EPT_LEAF_RWX, GPT_NONLEAF, entry, tableKey,
  type AliasKind, type GuestPage,
} from './world.js';

/** Probability that a generated trace builds aliasing at all (its own stream, see the contract). */
export const ALIAS_TRACE_PROBABILITY = 0.06;
/** Constructs an aliasing trace builds: one to this many. */
export const ALIAS_CONSTRUCTS_MAX = 2;
/** Probability that an access to a page with live entries (`hot`) goes to one of them. */
export const HOT_PROBABILITY = 0.5;
/** In an aliasing trace, probability that a table rewrite's address is another table's frame. */
export const ALIAS_OPERAND_PROBABILITY = 0.1;

const KERNEL_HALF = 2 ** 47;
/** Low bits of entry-like values written into table frames: EPT and guest, leaf and non-leaf. */
const ENTRY_LOWS: readonly number[] = [0x007, 0x037, 0x0b7, 0x437, 0x001, 0x003, 0x005, 0x027, 0x067, 0x087, 0x0e7, 0x000];

/** Bytes one entry at `level` maps (1: 4 KiB .. 4: 512 GiB; 5: the whole 48-bit space). */
function span(level: number): number {
  return 2 ** (12 + 9 * (level - 1));
}

function index(addr: number, level: number): number {
  return Math.floor(addr / span(level)) % 512;
}

/** A table frame to alias: its host frame, the GPA the guest reaches it by (if it has one), an entry in play. */
interface Target {
  hpa: number;
  gpa: number | null;
  /** Index of an entry in play (on the path of the page the target was chosen by). */
  index: number;
  hot: number[];
}

/** Byte offsets of the entries in play in one table: `at(p)` is page p's entry index there, or -1. */
function hotEntries(w: World, at: (p: GuestPage) => number): number[] {
  const out: number[] = [];
  for (const p of w.pages) {
    const i = at(p);
    if (i >= 0 && !out.includes(8 * i)) out.push(8 * i);
  }
  return out;
}

function isAlias(w: World, p: GuestPage): boolean {
  return w.aliases.some((a) => a.la === p.la);
}

/** A page in play that is no alias itself (its paths are the ones setup built), preferring recent ones. */
function plainPage(w: World, small: boolean): GuestPage | null {
  const fits = (p: GuestPage): boolean => !isAlias(w, p) && (!small || !p.large);
  for (let tries = 0; tries < 4; tries++) {
    const p = w.pickPage();
    if (fits(p)) return p;
  }
  const all = w.pages.filter(fits);
  return all.length === 0 ? null : w.rng.pick(all);
}

/** An EPT table on the path of a page in play (root, PDPT, PD or PT). */
function eptTableTarget(w: World): Target {
  const q = plainPage(w, false) ?? w.pickPage();
  const low = q.large ? 2 : 1;
  const level = w.rng.chance(0.5) ? low : w.rng.range(low, 4);
  const hpa = w.eptTable(level, q.gpa) ?? EPT_ROOT_HPA;
  return { hpa, gpa: null, index: index(q.gpa, level), hot: hotEntries(w, (p) => (w.eptTable(level, p.gpa) === hpa ? index(p.gpa, level) : -1)) };
}

/** An SPPT table on the path of a sub-page-protected page (the SPPT root when there is none). */
function spptTableTarget(w: World): Target {
  const spp = w.pages.filter((p) => p.spp);
  if (spp.length === 0) return { hpa: SPPT_ROOT_HPA, gpa: null, index: 0, hot: [] };
  const q = w.rng.pick(spp);
  const level = w.rng.range(1, 4);
  const hpa = w.spptTable(level, q.gpa) ?? SPPT_ROOT_HPA;
  return { hpa, gpa: null, index: index(q.gpa, level), hot: hotEntries(w, (p) => (p.spp && w.spptTable(level, p.gpa) === hpa ? index(p.gpa, level) : -1)) };
}

/** A guest table on the path of a page in play; the guest reaches it by its own GPA. */
function guestTableTarget(w: World): Target {
  const q = plainPage(w, false) ?? w.pickPage();
  const level = w.rng.range(q.large ? 2 : 1, 4);
  const gpa = w.guestTable(level, q.la) ?? w.cr3;
  const hpa = w.guestTableHpa.get(gpa) ?? gpa;
  return { hpa, gpa, index: index(q.la, level), hot: hotEntries(w, (p) => (w.guestTable(level, p.la) === gpa ? index(p.la, level) : -1)) };
}

/**
 * A linear address whose guest entry at `level` is free, in the table that holds `near`'s entry
 * at that level (so the path above it exists); null if a few tries find none.
 */
function freeSlot(w: World, level: number, near: GuestPage): number | null {
  const base = level === 4 ? 0 : Math.floor(near.la / span(level + 1)) * span(level + 1);
  for (let tries = 0; tries < 8; tries++) {
    const la = base + w.rng.int(512) * span(level);
    if (!w.guestEntryUsed(level, la)) return la;
  }
  return null;
}

/** The EPT leaf of an alias GPA: RWX mostly, sometimes read/execute only. */
function aliasLeaf(w: World, hpa: number): bigint {
  return entry(hpa, w.rng.chance(0.9) ? EPT_LEAF_RWX : EPT_R | EPT_X | EPT_XU | (EPT_MEMTYPE_WB << EPT_MEMTYPE_SHIFT));
}

/** A fresh GPA whose EPT leaf maps `hpa`. */
function freshAlias(w: World, hpa: number): number {
  const gpa = w.allocDataGpa(false);
  w.mapEpt(gpa, 1, aliasLeaf(w, hpa));
  return gpa;
}

/** A guest PTE for `gpa` at `la`: present, writable, user in the user half, sometimes A / D. */
function guestLeaf(w: World, la: number, gpa: number): bigint {
  let lo = PTE_P | PTE_RW | (la < KERNEL_HALF ? PTE_US : 0);
  if (w.rng.chance(0.3)) lo |= PTE_A;
  if (w.rng.chance(0.2)) lo |= PTE_D | PTE_A;
  return entry(gpa, lo);
}

function record(w: World, kind: AliasKind, page: GuestPage): void {
  w.aliases.push({ kind, la: page.la, gpa: page.gpa, hpa: page.hpa });
  if (!w.pages.includes(page)) w.addPage(page);
  else w.touch(page);
}

/**
 * Where the guest walk goes after reading EPT entry `index` of the EPT table at `level` on the
 * path of `gpa` as a guest non-leaf entry: the entry's address (the next EPT table's frame, or for
 * a leaf the page's frame) taken as a GPA. Guest tables live in the guest-table block at low GPAs
 * and EPT tables at low HPAs, so this is often a guest table: then a page whose path uses that
 * table at level λ gives the indices that continue the walk (λ, λ - 1, ...). Null if none.
 */
function continuation(w: World, level: number, gpa: number): { page: GuestPage; level: number } | null {
  const next = level > 1 ? w.eptTable(level - 1, gpa) : undefined;
  if (next === undefined) return null;
  const found: { page: GuestPage; level: number }[] = [];
  for (const p of w.pages) {
    if (isAlias(w, p)) continue;
    for (let l = p.large ? 2 : 1; l <= 4; l++) if ((l === 4 ? w.cr3 : w.guestTable(l, p.la)) === next) found.push({ page: p, level: l });
  }
  return found.length === 0 ? null : w.rng.pick(found);
}

/** (a) A guest table at level 1..3 that is an EPT table frame, reached through an alias GPA. */
function gptOnEpt(w: World): boolean {
  const q = plainPage(w, false) ?? w.pickPage();
  const low = q.large ? 2 : 1;
  const level = w.rng.chance(0.5) ? low : w.rng.range(low, 4);
  const hpa = w.eptTable(level, q.gpa) ?? EPT_ROOT_HPA;
  const i = index(q.gpa, level);
  const m = w.rng.chance(0.45) ? 1 : w.rng.chance(0.7) ? 2 : 3;
  const near = plainPage(w, false);
  const slot = near === null ? null : freeSlot(w, m + 1, near);
  if (slot === null) return false;
  const gpa = freshAlias(w, hpa);
  // The walk reads the EPT table at guest level m with the index of q's entry; below it, the
  // indices continue along a guest path when that entry leads to a guest table.
  const on = m > 1 ? continuation(w, level, q.gpa) : null;
  let la = slot + i * span(m);
  for (let l = m - 1, c = on?.level ?? 0; l >= 1; l--, c--) la += (c >= 1 ? index(on!.page.la, c) : w.rng.int(512)) * span(l);
  w.mapGuestEntry(la, m + 1, entry(gpa, GPT_NONLEAF | (w.rng.chance(0.3) ? PTE_A : 0)));
  w.guestTables.set(tableKey(m, la), gpa);
  w.guestTableHpa.set(gpa, hpa);
  record(w, 'gpt-on-ept', { la, gpa, hpa, large: false, spp: false });
  return true;
}

/** (b) A guest PTE mapping a guest table or (through an alias GPA) an EPT table. */
function gptLeafOnTable(w: World): boolean {
  const t = w.features.has('ept') && w.rng.chance(0.4) ? eptTableTarget(w) : guestTableTarget(w);
  const near = plainPage(w, true);
  const la = near === null ? null : freeSlot(w, 1, near);
  if (la === null) return false;
  const gpa = t.gpa ?? freshAlias(w, t.hpa);
  w.mapGuestEntry(la, 1, guestLeaf(w, la, gpa));
  record(w, 'gpt-leaf-on-table', { la, gpa, hpa: t.hpa, large: false, spp: false, hot: t.hot });
  return true;
}

/** (c) An EPT leaf mapping an EPT or SPPT table: an existing page's leaf rewritten, or a fresh page. */
function eptLeafOnTable(w: World): boolean {
  const sppt = w.features.has('spp') && w.rng.chance(w.pages.some((p) => p.spp) ? 0.4 : 0.1);
  const t = sppt ? spptTableTarget(w) : eptTableTarget(w);
  const near = plainPage(w, true);
  if (near !== null && !near.spp && w.rng.chance(0.5)) {
    // The page keeps its linear address and GPA; its frame is now the table (and mostly its
    // guest PTE is made writable, so that guest writes reach the table).
    w.ops.push({ op: 'ept_set', cpu: w.cpu(), gpa: near.gpa, level: 1, entry: aliasLeaf(w, t.hpa) });
    if (w.rng.chance(0.7)) w.mapGuestEntry(near.la, 1, guestLeaf(w, near.la, near.gpa));
    near.hpa = t.hpa;
    near.hot = t.hot;
    record(w, 'ept-leaf-on-table', near);
    return true;
  }
  const la = near === null ? null : freeSlot(w, 1, near);
  if (la === null) return false;
  const gpa = freshAlias(w, t.hpa);
  w.mapGuestEntry(la, 1, guestLeaf(w, la, gpa));
  record(w, 'ept-leaf-on-table', { la, gpa, hpa: t.hpa, large: false, spp: false, hot: t.hot });
  return true;
}

/**
 * (d) A guest entry at level k pointing at the table holding it (self) or at a table above it on
 * the same path; the alias page's lower indices then walk the recursion (self only) and the rest
 * of a page's path, so it maps one of that page's tables as data.
 */
function gptSelf(w: World): boolean {
  const q = plainPage(w, true);
  if (q === null) return false;
  const path: number[] = [];
  for (let l = 1; l <= 4; l++) {
    const t = l === 4 ? w.cr3 : w.guestTable(l, q.la);
    if (t === undefined) return false;
    path[l] = t;
  }
  const k = w.rng.chance(0.6) ? 4 : w.rng.pick([3, 2]);
  const up = k === 4 || w.rng.chance(0.5) ? k : w.rng.range(k + 1, 4);
  const slot = freeSlot(w, k, q);
  if (slot === null) return false;
  const j = index(slot, k);
  w.mapGuestEntry(slot, k, entry(path[up], GPT_NONLEAF | (w.rng.chance(0.3) ? PTE_A : 0)));
  w.guestTables.set(tableKey(k - 1, slot), path[up]);
  // Levels below k: loop through the self entry a few times, then follow q's path down.
  let loops = up === k ? w.rng.int(k) : 0;
  let cur = up; // q's level whose table the walk reads next
  let la = slot;
  for (let l = k - 1; l >= 1; l--) {
    if (loops > 0) {
      loops--;
      la += j * span(l);
    } else {
      la += index(q.la, cur) * span(l);
      cur--;
    }
  }
  const gpa = path[cur];
  const hot = hotEntries(w, (p) => (w.guestTable(cur, p.la) === gpa ? index(p.la, cur) : -1));
  if (cur === k && !hot.includes(8 * j)) hot.push(8 * j);
  record(w, 'gpt-self', { la, gpa, hpa: w.guestTableHpa.get(gpa) ?? gpa, large: false, spp: false, hot });
  return true;
}

const BUILDERS: Readonly<Record<AliasKind, (w: World) => boolean>> = {
  'gpt-on-ept': gptOnEpt,
  'gpt-leaf-on-table': gptLeafOnTable,
  'ept-leaf-on-table': eptLeafOnTable,
  'gpt-self': gptSelf,
};

/** Appends aliasing constructs to setup, in the traces whose own stream says so. */
export function buildAliasing(w: World): void {
  if (!w.rng.derive('alias').chance(ALIAS_TRACE_PROBABILITY)) return;
  // Without the ept feature no EPT leaf is pointed at a table (guest-side aliasing only).
  const kinds = (Object.keys(BUILDERS) as AliasKind[]).filter((k) => w.features.has('ept') || k === 'gpt-leaf-on-table' || k === 'gpt-self');
  const n = 1 + w.rng.int(ALIAS_CONSTRUCTS_MAX);
  for (let i = 0; i < n; i++) BUILDERS[w.rng.pick(kinds)](w);
}

/** Host frames of every table (EPT, SPPT, guest), the SPPT root included. */
function tableHpas(w: World): number[] {
  return [...w.eptTables.values(), ...w.spptTables.values(), ...w.guestTableHpa.values()];
}

/**
 * In a trace that built aliasing, sometimes (ALIAS_OPERAND_PROBABILITY) the address an EPT leaf
 * rewrite at `level` should use: a table frame (2 MiB-aligned down for a 2 MiB leaf). Null
 * otherwise; draws nothing in a trace without aliasing.
 */
export function aliasEptLeafAddr(w: World, level: number): number | null {
  if (w.aliases.length === 0 || !w.rng.chance(ALIAS_OPERAND_PROBABILITY)) return null;
  const f = w.rng.pick(tableHpas(w));
  return level === 2 ? f - (f % LARGE_PAGE) : f;
}

/**
 * The same for a guest entry rewrite: a guest table's GPA or an alias GPA (2 MiB-aligned down for
 * a 2 MiB leaf), so rewrites point tables at tables (self and upward references included).
 */
export function aliasGuestAddr(w: World, level: number, leaf: boolean): number | null {
  if (w.aliases.length === 0 || !w.rng.chance(ALIAS_OPERAND_PROBABILITY)) return null;
  const g = w.rng.pick([...w.guestTables.values(), ...w.aliases.map((a) => a.gpa)]);
  return leaf && level === 2 ? g - (g % LARGE_PAGE) : g;
}

/** A value worth writing over a live table entry: a page's frame or GPA with real entry bits. */
export function entryLikeValue(w: World): bigint {
  const p = w.rng.pick(w.pages);
  const addr = w.rng.chance(0.5) ? p.hpa : p.gpa;
  return entry(addr - (addr % PAGE), w.rng.pick(ENTRY_LOWS));
}
