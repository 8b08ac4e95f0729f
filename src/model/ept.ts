/**
 * EPT rules of the reference model: entry classification (present / misconfigured / table /
 * leaf), the plain top-down walk of one guest-physical address, the rights an access needs, and
 * the EPT-violation exit qualification. Contract: pure functions over entries read through a
 * `QwordReader`; no caching, no side effects (the caller applies A/D updates). Every rule cites
 * ref §1.2-§1.3 and §2.1 of x86-memory-protection.md and docs/semantics.md "EPT translation".
 */
import {
  EPT_MEMTYPE_INVALID, EPT_PS, EPT_R, EPT_SPP_HI, EPT_W, EPT_X, EPT_XU, EPT_D,
  QUAL_FETCH, QUAL_GLA_VALID, QUAL_PR, QUAL_PUX, QUAL_PW, QUAL_PX, QUAL_RD, QUAL_WR, QUAL_XLAT,
} from '../hw/bits.js';
import { type Entry, entryAddress, leafBase, levelIndex, levelSpan, mod, rsvdHi } from './entry.js';
import { NO_RULE, RULE } from './rules.js';

export interface QwordReader {
  readEntry(hpa: number): Entry;
}

/** The kinds of access that go through EPT. */
export const EptAccess = {
  /** Final-GPA data read (qualification XLAT = 1). */
  Read: 0,
  /** Final-GPA data write. */
  Write: 1,
  /** Final-GPA instruction fetch. */
  Fetch: 2,
  /** Guest paging-structure read with EPT A/D off. */
  TableRead: 3,
  /** Guest paging-structure access with EPT A/D on, or a guest A/D update: a read and a write. */
  TableWrite: 4,
} as const;
export type EptAccess = (typeof EptAccess)[keyof typeof EptAccess];

export function isFinal(a: EptAccess): boolean {
  return a <= EptAccess.Fetch;
}

/** Whether the access writes, for EPT permission and EPT dirty purposes. */
export function isWriteAccess(a: EptAccess): boolean {
  return a === EptAccess.Write || a === EptAccess.TableWrite;
}

export interface EptContext {
  maxPhyAddr: number;
  /** Secondary control "mode-based execute control for EPT" is on. */
  mbec: boolean;
  /** caps.eptExecOnly. */
  execOnly: boolean;
  /** caps.page1G. */
  page1G: boolean;
}

/** Rights ANDed over the levels of one walk (ref §1.3 "accumulated permissions"). */
export interface EptRights {
  r: boolean;
  w: boolean;
  /** Bit 2: X, or XS with MBEC. */
  xs: boolean;
  /** Bit 10: XU (only meaningful with MBEC). */
  xu: boolean;
}

export interface EptPathEntry {
  hpa: number;
  entry: Entry;
}

export type EptWalk =
  | { kind: 'leaf'; hpa: number; level: number; rights: EptRights; spp: boolean; leafD: boolean; path: EptPathEntry[] }
  /** `level`: the level of the not-present entry. */
  | { kind: 'not-present'; level: number }
  /** `rule`: the misconfiguration kind (src/model/rules.ts), `level` the entry's level. */
  | { kind: 'misconfig'; rule: number; level: number };

/** ref §1.2 "Present": bits 2:0 != 0, or MBEC = 1 and bit 10 = 1. */
export function eptPresent(e: Entry, mbec: boolean): boolean {
  return (e.lo & (EPT_R | EPT_W | EPT_X)) !== 0 || (mbec && (e.lo & EPT_XU) !== 0);
}

/** Whether a present entry at `level` is a leaf (PS at level 3 or 2, or level 1). */
export function eptIsLeaf(e: Entry, level: number): boolean {
  return level === 1 || (level !== 4 && (e.lo & EPT_PS) !== 0);
}

/** ref §1.3 misconfiguration conditions 1-4 for a present entry. */
export function eptMisconfigured(e: Entry, level: number, ctx: EptContext): boolean {
  return eptMisconfigRule(e, level, ctx) !== NO_RULE;
}

/** The misconfiguration rule (src/model/rules.ts) a present entry breaks, or NO_RULE (ref §1.3 conditions 1-4, in order). */
export function eptMisconfigRule(e: Entry, level: number, ctx: EptContext): number {
  const r = (e.lo & EPT_R) !== 0;
  // ref §1.3 (1) misconfiguration: W without R
  if ((e.lo & EPT_W) !== 0 && !r) return RULE.eptMiscWNoR;
  // ref §1.3 (2) execute-only (X, or XU with MBEC) without caps.eptExecOnly
  if (!r && !ctx.execOnly && ((e.lo & EPT_X) !== 0 || (ctx.mbec && (e.lo & EPT_XU) !== 0))) return RULE.eptMiscXo;
  // ref §1.3 (3) reserved: address bits [51 : MAXPHYADDR]
  if ((e.hi & rsvdHi(ctx.maxPhyAddr)) !== 0) return RULE.eptMiscAddr;
  if (level === 4) {
    // ref §1.3 (3) PML4E bits 7:3 reserved (incl. PS)
    return (e.lo & 0xf8) !== 0 ? RULE.eptMiscPml4 : NO_RULE;
  }
  if (level === 3 && (e.lo & EPT_PS) !== 0 && !ctx.page1G) return RULE.eptMisc1g; // ref §1.3 (3) 1 GiB unsupported
  if (!eptIsLeaf(e, level)) {
    // ref §1.3 (3) non-leaf PDPTE/PDE bits 6:3 reserved
    return (e.lo & 0x78) !== 0 ? RULE.eptMiscNonLeaf : NO_RULE;
  }
  // ref §1.3 (3) large-leaf alignment bits: 2 MiB 20:12, 1 GiB 29:12
  if (level === 2 && (e.lo & 0x1ff000) !== 0) return RULE.eptMiscAlign2m;
  if (level === 3 && (e.lo & 0x3ffff000) !== 0) return RULE.eptMiscAlign1g;
  // ref §1.3 (4) leaf memory type 2, 3 or 7
  const memtype = (e.lo >>> 3) & 7;
  return ((EPT_MEMTYPE_INVALID >>> memtype) & 1) !== 0 ? RULE.eptMiscMemtype : NO_RULE;
}

/**
 * Walks EPT for `gpa` from the table at `root`: per entry top-down, not present -> violation,
 * misconfigured -> misconfiguration, else descend (ref §1.3 "Priority (iterative walk)").
 */
export function eptWalk(mem: QwordReader, root: number, gpa: number, ctx: EptContext): EptWalk {
  let table = root;
  let r = true;
  let w = true;
  let xs = true;
  let xu = true;
  const path: EptPathEntry[] = [];
  for (let level = 4; level >= 1; level--) {
    const hpa = table + levelIndex(gpa, level) * 8;
    const e = mem.readEntry(hpa);
    if (!eptPresent(e, ctx.mbec)) return NOT_PRESENT[level];
    const misconfig = eptMisconfigRule(e, level, ctx);
    if (misconfig !== NO_RULE) return misconfigWalk(misconfig, level);
    r &&= (e.lo & EPT_R) !== 0;
    w &&= (e.lo & EPT_W) !== 0;
    xs &&= (e.lo & EPT_X) !== 0;
    xu &&= (e.lo & EPT_XU) !== 0;
    path.push({ hpa, entry: e });
    if (eptIsLeaf(e, level)) {
      const base = leafBase(e, level, ctx.maxPhyAddr);
      return {
        kind: 'leaf',
        hpa: base + mod(gpa, levelSpan(level)),
        level,
        rights: { r, w, xs, xu },
        // ref §3.1: bit 61 of a 4 KiB EPT PTE marks an SPP page
        spp: level === 1 && (e.hi & EPT_SPP_HI) !== 0,
        leafD: (e.lo & EPT_D) !== 0,
        path,
      };
    }
    table = entryAddress(e, ctx.maxPhyAddr);
  }
  throw new Error('unreachable: level 1 is always a leaf');
}

/** Shared walk results (walks are memoized and compared by kind: no allocation per fault). */
const NOT_PRESENT: readonly EptWalk[] = [0, 1, 2, 3, 4].map((level) => Object.freeze({ kind: 'not-present' as const, level }));
const MISCONFIGS = new Map<number, EptWalk>();

function misconfigWalk(rule: number, level: number): EptWalk {
  const key = rule * 8 + level;
  let w = MISCONFIGS.get(key);
  if (w === undefined) MISCONFIGS.set(key, (w = Object.freeze({ kind: 'misconfig' as const, rule, level })));
  return w;
}

/** EPT entry bits an access needs at every level (read R; write W; fetch X, or XU for a user fetch under MBEC; table write R and W). */
function neededBits(a: EptAccess, mbec: boolean, userAddr: boolean): number {
  switch (a) {
    case EptAccess.Read: case EptAccess.TableRead: return EPT_R;
    case EptAccess.Write: return EPT_W;
    case EptAccess.TableWrite: return EPT_R | EPT_W;
    case EptAccess.Fetch: return mbec && userAddr ? EPT_XU : EPT_X;
  }
}

/** The level (4..1) of the first entry of a leaf walk that lacks a right the denied access needs (the level that decided). */
export function denyingLevel(walk: EptWalk, a: EptAccess, mbec: boolean, userAddr: boolean): number {
  if (walk.kind !== 'leaf') return walk.level;
  const need = neededBits(a, mbec, userAddr);
  for (let i = 0; i < walk.path.length; i++) if ((walk.path[i].entry.lo & need) !== need) return 4 - i;
  return walk.level;
}

/**
 * Whether `rights` allow the access (semantics.md "EPT translation": read -> R, write -> W,
 * fetch -> X, or with MBEC XU for a user-mode linear address and XS otherwise; paging-structure
 * reads need R, paging-structure writes R and W).
 */
export function eptAllows(a: EptAccess, rights: EptRights, mbec: boolean, userAddr: boolean): boolean {
  switch (a) {
    case EptAccess.Read: case EptAccess.TableRead: return rights.r;
    case EptAccess.Write: return rights.w;
    case EptAccess.TableWrite: return rights.r && rights.w;
    case EptAccess.Fetch: return mbec && userAddr ? rights.xu : rights.xs;
  }
}

/** The rights bits of a not-present walk: all 0 (ref §2.1 notes, "the AND includes the non-present entry"). */
export const NO_RIGHTS: EptRights = Object.freeze({ r: false, w: false, xs: false, xu: false });

/**
 * Exit qualification bits 0-8 of an EPT violation (ref §2.1): access bits, the ANDed rights
 * (PUX only with MBEC), GLA valid (always: every access comes from a linear address), XLAT for
 * final-GPA accesses. Advanced bits 9-11 are added by the caller.
 */
export function violationQual(a: EptAccess, rights: EptRights, mbec: boolean): number {
  let q = QUAL_GLA_VALID;
  if (a === EptAccess.Read || a === EptAccess.TableRead) q |= QUAL_RD;
  else if (a === EptAccess.Write) q |= QUAL_WR;
  else if (a === EptAccess.Fetch) q |= QUAL_FETCH;
  else q |= QUAL_RD | QUAL_WR; // ref §2.1 notes: A/D updates and EPT-A/D table accesses report RD|WR
  if (rights.r) q |= QUAL_PR;
  if (rights.w) q |= QUAL_PW;
  if (rights.xs) q |= QUAL_PX;
  if (mbec && rights.xu) q |= QUAL_PUX;
  if (isFinal(a)) q |= QUAL_XLAT;
  return q;
}
