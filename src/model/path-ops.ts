/**
 * Debug walks of the path ops `ept_set`, `gpt_set` and `sppt_set` (docs/semantics.md "Path
 * ops"): no permission checks, no A/D updates, no TLB use, no misconfiguration checks. An upper
 * entry must be present and not a leaf; a table outside RAM, or (gpt_set) a guest table GPA that
 * the debug EPT walk cannot translate, is `noent`. Contract: pure; each function returns the HPA
 * of the entry to write, or null for `noent`.
 */
import { EPT_PS, PTE_P, PTE_PS, SPPT_VALID } from '../hw/bits.js';
import { entryAddress, leafBase, levelIndex, levelSpan, mod } from './entry.js';
import { eptPresent } from './ept.js';
import type { EntryReader } from './memory.js';

export interface PathContext {
  mem: EntryReader;
  maxPhyAddr: number;
  mbec: boolean;
  /** `eptDebugTranslate(this, root, gpa)`, when the caller remembers it (walk-memo.ts). */
  debugTranslate?: (root: number, gpa: number) => number | null;
}

/** HPA of the level-`level` EPT entry on the path of `gpa` from the table at `root`. */
export function eptEntryHpa(c: PathContext, root: number, gpa: number, level: number): number | null {
  let table = root;
  for (let l = 4; l > level; l--) {
    if (!c.mem.inRam(table)) return null;
    const e = c.mem.readEntry(table + levelIndex(gpa, l) * 8);
    const leaf = l !== 4 && (e.lo & EPT_PS) !== 0;
    if (!eptPresent(e, c.mbec) || leaf) return null;
    table = entryAddress(e, c.maxPhyAddr);
  }
  return c.mem.inRam(table) ? table + levelIndex(gpa, level) * 8 : null;
}

/** The debug EPT translation of `gpa` (leaf at any size), or null. */
export function eptDebugTranslate(c: PathContext, root: number, gpa: number): number | null {
  let table = root;
  for (let l = 4; l >= 1; l--) {
    if (!c.mem.inRam(table)) return null;
    const e = c.mem.readEntry(table + levelIndex(gpa, l) * 8);
    if (!eptPresent(e, c.mbec)) return null;
    if (l === 1 || (l !== 4 && (e.lo & EPT_PS) !== 0)) return leafBase(e, l, c.maxPhyAddr) + mod(gpa, levelSpan(l));
    table = entryAddress(e, c.maxPhyAddr);
  }
  return null;
}

/** HPA of the level-`level` guest paging entry on the path of `la` from the table at GPA `cr3Table`. */
export function guestEntryHpa(c: PathContext, eptRoot: number, cr3Table: number, la: number, level: number): number | null {
  let tableGpa = cr3Table;
  for (let l = 4; l >= level; l--) {
    const table = c.debugTranslate !== undefined ? c.debugTranslate(eptRoot, tableGpa) : eptDebugTranslate(c, eptRoot, tableGpa);
    if (table === null || !c.mem.inRam(table)) return null;
    const hpa = table + levelIndex(la, l) * 8;
    if (l === level) return hpa;
    const e = c.mem.readEntry(hpa);
    if ((e.lo & PTE_P) === 0 || (l !== 4 && (e.lo & PTE_PS) !== 0)) return null;
    tableGpa = entryAddress(e, c.maxPhyAddr);
  }
  return null;
}

/**
 * The debug guest translation of `la` (4-level paging from the table at GPA `cr3Table`, a leaf at
 * any size): the GPA it maps to, or null. Classification only (src/check/progress.ts): it names
 * the final GPA of a part no allowed path reached.
 */
export function guestDebugTranslate(c: PathContext, eptRoot: number, cr3Table: number, la: number): number | null {
  let tableGpa = cr3Table;
  for (let l = 4; l >= 1; l--) {
    const table = c.debugTranslate !== undefined ? c.debugTranslate(eptRoot, tableGpa) : eptDebugTranslate(c, eptRoot, tableGpa);
    if (table === null || !c.mem.inRam(table)) return null;
    const e = c.mem.readEntry(table + levelIndex(la, l) * 8);
    if ((e.lo & PTE_P) === 0) return null;
    if (l === 1 || (l !== 4 && (e.lo & PTE_PS) !== 0)) return leafBase(e, l, c.maxPhyAddr) + mod(la, levelSpan(l));
    tableGpa = entryAddress(e, c.maxPhyAddr);
  }
  return null;
}

/** HPA of the level-`level` SPPT entry on the path of `gpa` from the table at `root`. */
export function spptEntryHpa(c: PathContext, root: number, gpa: number, level: number): number | null {
  let table = root;
  for (let l = 4; l > level; l--) {
    if (!c.mem.inRam(table)) return null;
    const e = c.mem.readEntry(table + levelIndex(gpa, l) * 8);
    if ((e.lo & SPPT_VALID) === 0) return null;
    table = entryAddress(e, c.maxPhyAddr);
  }
  return c.mem.inRam(table) ? table + levelIndex(gpa, level) * 8 : null;
}
