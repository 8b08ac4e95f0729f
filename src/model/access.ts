/**
 * One guest access (`read` / `write` / `fetch`) executed by the reference model along one branch
 * of TLB choices. Contract: `AccessRun` follows docs/semantics.md "Guest access" steps 1-8 as
 * plain sequential code over committed memory plus this run's own tentative writes; it never
 * changes the model. Wherever a translation MAY come from a cached entry (ref §6), it asks
 * `choose` which alternative to take: 0 is always the fresh walk; alternatives are the cached
 * (then recently flushed) entries that allow the access and give a different result, and under
 * choices.staleDenial = 'sdm' also those that deny it (the run then ends with the fault that
 * entry gives, ref §6.3). Under choices.guestAccessedOnFault = 'sdm' a guest walk that faults
 * is one more branch point: 0 keeps the fault's writes as they are, alternative c sets A in the
 * first c entries the walk used whose A was 0, in walk order (semantics.md step 4). Under
 * choices.adUpdateMapping = 'sdm' a guest A/D update's translation may take a cached mapping too,
 * and once the run has written anything, every translation may also take a mapping the run
 * filled earlier in the same access (an earlier update may have rewritten the EPT entry that
 * mapping came from). Under choices.eptAccessedOnFault = 'sdm' an EPT walk that ends in an EPT
 * exit is a branch point too: alternative c sets EPT A in the first c entries it used whose A was
 * 0. The run records the branch points it met so that `explore` can enumerate the others.
 */
import type { MachineConfig } from '../hw/config.js';
import {
  EXIT_EPT_MISCONFIG, EXIT_EPT_VIOLATION, EXIT_SPP, PF_P, PF_PK, PF_RSVD, PF_U, PF_W, PTE_A, PTE_D, PTE_G,
  EPT_A, EPT_D, QUAL_ADV_USER, QUAL_ADV_WRITABLE, QUAL_ADV_XD, SPP_QUAL_MISS, SUBPAGE_SIZE,
} from '../hw/bits.js';
import { OK, type Outcome, sameOutcome } from '../hw/outcome.js';
import { type Entry, TWO32, bitOf, entryAddress, leafBase, levelIndex, levelSpan, mod } from './entry.js';
import {
  type EptContext, EptAccess, type EptRights, type EptWalk, type QwordReader, NO_RIGHTS, denyingLevel, eptAllows, eptIsLeaf,
  eptMisconfigured, eptPresent, eptWalk, isFinal, isWriteAccess, violationQual,
} from './ept.js';
import { type BranchPoint, type Explored, Mode, defaultChoice } from './explore.js';
import { type GuestPagingContext, guestIsLeaf, guestPresent, guestReservedRule } from './guest-paging.js';
import type { SpecMemory } from './memory.js';
import type { AccessStages } from './api.js';
import { type GuestAccess, type RightsRegs, type WalkRights, RIGHTS_DENIED_PK, RIGHTS_OK, checkRights, keyStageRule, ordinaryRule, otherRegisterDenies, rightsRule } from './rights.js';
import { NO_RULE, RULE, eptRuleAccess } from './rules.js';
import { sppWalk, subPageWritable } from './spp.js';
import type { PageWalkMemo } from './walk-memo.js';
import { type CombinedMapping, type GpaMapping, type VcpuTlb, sameGpaMapping, sameRights } from './tlb.js';

/** Any EPT violation at a final GPA: what `AccessRun.xoReportAt` asks step 7 to convert. */
const XO_PROBE: Outcome = Object.freeze({ kind: 'exit', reason: EXIT_EPT_VIOLATION, qual: 0, gpa: 0, gla: null });

/** One page-bounded piece of the access (semantics.md step 1). */
export interface Part {
  la: number;
  size: number;
  linearPage: number;
}

/** What an access needs from the vCPU's registers and VMCS (shared until they change). */
export interface AccessContext {
  /** The EPT access of a guest paging-structure read (a write too under EPT A/D). */
  tableAccess: EptAccess;
  config: MachineConfig;
  mem: SpecMemory;
  tlb: VcpuTlb;
  paging: boolean;
  cr3Table: number;
  eptRoot: number;
  ep4ta: number;
  eptAD: boolean;
  eptCtx: EptContext;
  guestCtx: GuestPagingContext;
  rights: RightsRegs;
  sppOn: boolean;
  spptp: number;
  pge: boolean;
  /** choices.staleDenial = 'sdm': a cached entry that denies the access may give its fault. */
  staleDenial: boolean;
  /** choices.guestAccessedOnFault = 'sdm': a faulting walk may leave A set in the entries it used. */
  accessedOnFault: boolean;
  /**
   * choices.adUpdateMapping = 'sdm': a guest A/D update, and any translation after a write of the
   * access, may use a cached guest-physical mapping, one filled earlier in the access included.
   */
  adUpdateCached: boolean;
  /** choices.eptAccessedOnFault = 'sdm': an EPT walk that exits may leave EPT A set in the entries it used. */
  eptAccessedOnFault: boolean;
  /** The model's memo of committed-memory EPT walks (walk-memo.ts). */
  eptWalks: PageWalkMemo<EptWalk>;
}

/** Everything an access needs that does not change between its branches. */
export interface AccessSetup {
  cx: AccessContext;
  kind: GuestAccess;
  /** The EPT access of the final GPA. */
  final: EptAccess;
  parts: Part[];
  /** The value a write stores, as 32-bit halves (bytes little-endian: byte n of lo, then of hi). */
  writeLo: number;
  writeHi: number;
  /** W | U | I of every #PF error code of this access (semantics.md step 2). */
  pfAccessBits: number;
  /**
   * Translation points already met by this access's runs, by GPA (null: not remembered). A
   * point reads only committed memory and the caches when the run has no pending write, so every
   * run of the access that meets the same one gets the same; explored runs replay the same
   * translations many times. The model turns this on from an access's second run on.
   */
  points: Map<number, TranslationPoint[]> | null;
}

/** One translation of a run before its choice (access.ts `translate`), and what it depends on. */
interface TranslationPoint {
  readonly part: Part;
  readonly access: EptAccess;
  readonly userAddr: boolean;
  /** The guest walk's U/S, R/W, XD bits (they go into an EPT violation's qualification), or -1. */
  readonly walkBits: number;
  /** A guest A/D update's translation (step 4): fresh, no cached alternatives, unless adUpdateCached. */
  readonly adUpdate: boolean;
  readonly page: number;
  readonly fresh: Fresh;
  /**
   * Cached, then recently flushed, mappings that allow the access and differ from `fresh`; under
   * staleDenial, after them, those that deny it (one per distinct rights).
   */
  readonly alts: readonly GpaMapping[];
  readonly flushedAlts: readonly GpaMapping[];
  /** Their branch point (null: none); shared by the runs, never changed. */
  readonly bp: BranchPoint | null;
  /** Cached mappings to the fresh HPA page with other rights (see Translated.also). */
  readonly also: GpaMapping[] | null;
}

/** A translation that succeeded: where the byte is and what a cache would hold. */
interface Translated {
  hpa: number;
  mapping: GpaMapping;
  /**
   * Cached mappings that would have given the same byte (so no branch of their own) but other
   * rights: a machine that used one caches a combined mapping with its rights, so the model
   * remembers those combined mappings too.
   */
  also?: GpaMapping[];
}

const NO_WRITES: number[] = [];
const NO_MAPPINGS: readonly GpaMapping[] = [];
const NO_COMBINED: readonly CombinedMapping[] = [];

/** The fault a cached combined mapping that denies the access gives (choices.staleDenial = 'sdm'). */
interface StaleFault {
  outcome: Outcome;
  /** The rule that gave it (src/model/rules.ts). */
  rule: number;
  /** The GPA page an EPT exit drops (null for a #PF). */
  gpaPage: number | null;
}

const NO_FAULTS: readonly StaleFault[] = [];

/** The alternatives numbered `from`, `from + 1`, ... (`n` of them) at a branch point. */
function numbered(from: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(from + i);
  return out;
}

/** `walk`'s scratch: the entries it read, top-down, and their GPAs (at most 4; never shrunk). */
const WALK_GPAS: number[] = [0, 0, 0, 0];
const WALK_ENTRIES: Entry[] = [{ lo: 0, hi: 0 }, { lo: 0, hi: 0 }, { lo: 0, hi: 0 }, { lo: 0, hi: 0 }];
/** Under accessedOnFault: per entry read, the lengths of the EPT and SPPT read logs just after it. */
const WALK_MARKS: number[] = [0, 0, 0, 0, 0, 0, 0, 0];

/**
 * Where a run stood when step 4 began, and the read logs' lengths when step 5 began
 * (accessedOnFault: a final-GPA fault may undo step 4).
 */
interface Step4Start {
  writes: number;
  fills: number;
  finalEptReads: number;
  finalSppReads: number;
}

/** EPT A and D (bits 8, 9): an EPT walk's result does not depend on them. */
const EPT_AD_BITS = EPT_A | EPT_D;

/** Whether `hpa` is among `log[from, to)`. */
function readIn(log: readonly number[], from: number, to: number, hpa: number): boolean {
  for (let i = from; i < to; i++) if (log[i] === hpa) return true;
  return false;
}

/** The combined mapping a walk caches, with the EPT rights of guest-physical mapping `m`. */
function combinedMapping(hpaPage: number, gpaPage: number, walk: WalkRights, global: boolean, guestD: boolean, m: GpaMapping): CombinedMapping {
  return { hpaPage, gpaPage, walk, global, guestD, ept: m.rights, eptD: m.eptD, spp: m.spp, flushedBy: NO_RULE };
}

/** `rule`: the rule that decided (src/model/rules.ts): the fault's, or for a success the one that let it through (SPP, XO), else NO_RULE. */
type Fresh =
  | { ok: true; hpa: number; mapping: GpaMapping; adWrites: number[]; rule: number }
  | { ok: false; outcome: Outcome; rule: number };

export class AccessRun implements QwordReader, Explored {
  readonly taken: number[] = [];
  readonly branches: BranchPoint[] = [];
  usedCached = false;
  usedFlushed = false;
  /**
   * The run used a recently flushed mapping for more than the EPT permission of a guest A/D
   * update (a combined mapping, or a guest-physical one of a table read or the final GPA). A run
   * that used one only there gives exactly the outcome and memory of a walk that skips the EPT
   * write check of A/D updates (Bochs F7, docs/target-findings.md), so it is no evidence of a
   * stale translation (model.ts flushed runs).
   */
  usedFlushedBeyondAdUpdates = false;
  /**
   * Classification only (never a candidate): the run served a part through a cached combined
   * mapping whose guest rights deny the access under the current registers, as if they allowed it
   * (a target that judges a cached translation by other rights: the key register of the CPL, Bochs
   * F3/F5). Model.ts `deniedMatching` names such a run's denial when it gives what the target did.
   */
  usedDenied = false;
  /** The fault the first denying mapping this run used gives under the architecture (usedDenied). */
  deniedOutcome: Outcome | null = null;
  /** The rule that decided that fault (rights.ts rightsRule). */
  deniedRule = NO_RULE;
  flushedAvailable = false;
  /** Tentative aligned qword writes, flattened (hpa, lo, hi), in order; only addresses in RAM. */
  readonly writes: number[] = [];
  /** Data bytes written (hpa, byte), flattened; only addresses in RAM. */
  readonly dataWrites: number[] = [];
  readonly gpaFills: { page: number; m: GpaMapping }[] = [];
  readonly combFills: { page: number; m: CombinedMapping }[] = [];
  gpaDrop: number | null = null;
  combDrop: number | null = null;
  outcome: Outcome = OK;
  /** The rule that produced `outcome` (src/model/rules.ts; set with it). */
  rule = NO_RULE;
  /** The first rule that let a check of a successful part through (an exemption, SPP, XO), or NO_RULE. */
  private passRule = NO_RULE;
  /**
   * Stage rules of the first part whose walk reached the rights check (NO_RULE: none did): the
   * rights stage without keys (an ordinary denial, an exemption, or paging.rights.allow), the key stage, and whether the other key
   * register would have denied. A failure signature names the stage where the target diverged.
   * `stagesAt` gives them for the part on a given linear page (a split access's second part).
   */
  /** The walk rights the stages are computed from, on demand (only a disagreement reads them), per part. */
  private stageWalk: WalkRights | null = null;
  private stagePage = -1;
  private stageWalk2: WalkRights | null = null;
  private stagePage2 = -1;

  get rightsStage(): number {
    return this.stageWalk === null ? NO_RULE : ordinaryRule(this.s.kind, this.stageWalk, this.s.cx.rights);
  }

  get keyStage(): number {
    return this.stageWalk === null ? NO_RULE : keyStageRule(this.s.kind, this.stageWalk, this.s.cx.rights);
  }

  get keyOtherDenies(): boolean {
    return this.stageWalk !== null && otherRegisterDenies(this.s.kind, this.stageWalk, this.s.cx.rights);
  }

  /** The stage rules of the part on `linearPage`, or null when that part's walk never reached the rights check. */
  stagesAt(linearPage: number): AccessStages | null {
    const w = linearPage === this.stagePage ? this.stageWalk : linearPage === this.stagePage2 ? this.stageWalk2 : null;
    if (w === null) return null;
    const { kind, cx } = this.s;
    return { rightsStage: ordinaryRule(kind, w, cx.rights), keyStage: keyStageRule(kind, w, cx.rights), keyOtherDenies: otherRegisterDenies(kind, w, cx.rights) };
  }

  /**
   * A run with the same outcome and memory effects (model.ts keeps one of such twins) that got
   * further lends this one its stage records, so a disagreement is placed against the furthest
   * path that gives this outcome: a fresh walk's table read and a cached walk's A/D update may
   * exit at one GPA (src/check/progress.ts).
   */
  absorbProgress(o: AccessRun): void {
    if (this.stageWalk === null && o.stageWalk !== null) {
      this.stageWalk = o.stageWalk;
      this.stagePage = o.stagePage;
      this.stageWalk2 = o.stageWalk2;
      this.stagePage2 = o.stagePage2;
    }
    if (this.finalGpa0 < 0) this.finalGpa0 = o.finalGpa0;
    if (this.finalGpa1 < 0) this.finalGpa1 = o.finalGpa1;
    if (o.stopPart > this.stopPart) this.stopPart = o.stopPart;
  }

  /** Counts one recently flushed mapping used; the first one's flush rule names the run's. */
  private usedFlushedMapping(flushedBy: number | undefined): void {
    this.flushedUses++;
    if (this.flushRule === NO_RULE) this.flushRule = flushedBy ?? NO_RULE;
  }

  /** The index of the part the access was in when it stopped (0 or 1; a completed access: its last). */
  stopPart = 0;
  /** The final GPA of parts 0 and 1, once the part's guest walk ended in a leaf (-1: never got there). */
  private finalGpa0 = -1;
  private finalGpa1 = -1;

  /** The linear pages of the access's parts, in order (read only on a disagreement). */
  get partPages(): number[] {
    return this.s.parts.map((p) => p.linearPage);
  }

  /** The final GPA of part `i` (its walk reached a leaf, or paging is off), or null. */
  finalGpaOf(i: number): number | null {
    const g = i === 0 ? this.finalGpa0 : i === 1 ? this.finalGpa1 : -1;
    return g < 0 ? null : g;
  }

  /**
   * Classification only (src/check/xo-report.ts): the #PF step 7 would report for an EPT violation
   * of a final-GPA access (XLAT = 1) at `gpa` in the part where the access stopped, or null when
   * step 7 would leave it an exit (kvmXo off, a fetch, a GPA outside the XO alias).
   */
  xoReportAt(gpa: number): Outcome | null {
    const p = this.s.parts[this.stopPart];
    if (p === undefined) return null;
    const o = this.xoFault(p, gpa, XO_PROBE);
    return o === XO_PROBE ? null : o;
  }

  private reachedLeaf(p: Part, gpa: number): void {
    if (p === this.s.parts[0]) this.finalGpa0 = gpa;
    else this.finalGpa1 = gpa;
  }

  /** Records part `p`'s walk rights for its stage rules (the first two parts that reach the rights check). */
  private reachedRights(p: Part, w: WalkRights): void {
    if (this.stageWalk === null) {
      this.stageWalk = w;
      this.stagePage = p.linearPage;
    } else if (this.stageWalk2 === null && p.linearPage !== this.stagePage) {
      this.stageWalk2 = w;
      this.stagePage2 = p.linearPage;
    }
  }
  /** The rule of the invalidation that removed the first recently flushed mapping this run used (NO_RULE: none). */
  flushRule = NO_RULE;
  /** How many recently flushed mappings this run used (the fewest explain a target best: model.ts). */
  flushedUses = 0;
  /** tlb.cached.*: the run used a cached mapping that allows (NO_RULE: none). */
  private cachedRule = NO_RULE;
  /**
   * Under choices.guestAccessedOnFault = 'sdm' only (else null): the HPAs the run's EPT walks and
   * SPPT walks read, in order. A faulting walk's A updates may not change what the rest of the walk
   * read (see `accessedOnFault`).
   */
  private readonly eptReads: number[] | null;
  private readonly sppReads: number[] | null;
  /** True while an SPPT walk reads through `readEntry` (its reads go to `sppReads`). */
  private sppWalking = false;

  constructor(private readonly s: AccessSetup, private readonly choices: readonly number[], private readonly mode: Mode) {
    this.eptReads = s.cx.accessedOnFault ? [] : null;
    this.sppReads = s.cx.accessedOnFault ? [] : null;
  }

  // ---- tentative memory -------------------------------------------------------------------

  /** An EPT or SPPT entry, through this run's writes (logged under accessedOnFault). */
  readEntry(hpa: number): Entry {
    if (this.eptReads !== null) (this.sppWalking ? this.sppReads! : this.eptReads).push(hpa);
    return this.readGuest(hpa);
  }

  /** A guest paging entry (or any qword), through this run's writes; never logged. */
  private readGuest(hpa: number): Entry {
    const w = this.writes;
    for (let i = w.length - 3; i >= 0; i -= 3) if (w[i] === hpa) return { lo: w[i + 1], hi: w[i + 2] };
    return this.s.cx.mem.readEntry(hpa);
  }

  private writeEntry(hpa: number, lo: number, hi: number): void {
    if (this.s.cx.mem.inRam(hpa)) this.writes.push(hpa, lo >>> 0, hi >>> 0); // writes outside RAM are dropped
  }

  private readByte(hpa: number): number {
    const w = this.writes;
    for (let i = w.length - 3; i >= 0; i -= 3) {
      const off = hpa - w[i];
      if (off >= 0 && off < 8) return off < 4 ? (w[i + 1] >>> (8 * off)) & 0xff : (w[i + 2] >>> (8 * (off - 4))) & 0xff;
    }
    return this.s.cx.mem.readByte(hpa);
  }

  // ---- branch points ----------------------------------------------------------------------

  /** Registers a branch point and returns the alternative this run takes there (0 = fresh). */
  private choose(bp: BranchPoint): number {
    const pos = this.branches.length;
    this.branches.push(bp);
    const c = pos < this.choices.length ? this.choices[pos] : defaultChoice(bp, this.mode);
    this.taken.push(c);
    return c;
  }

  // ---- the access ---------------------------------------------------------------------------

  run(): this {
    this.walkParts();
    this.flushedAvailable = this.branches.some((b) => b.flushedAlts.length > 0);
    return this;
  }

  private walkParts(): void {
    const s = this.s;
    // One or two parts (step 1); the first fault ends the access.
    const first = s.cx.paging ? this.linearPart(s.parts[0]) : this.unpagedPart(s.parts[0]);
    if (first === null) return;
    this.stopPart = s.parts.length - 1;
    const second = s.parts.length === 1 ? first : s.cx.paging ? this.linearPart(s.parts[1]) : this.unpagedPart(s.parts[1]);
    if (second === null) return;
    this.rule = this.passRule !== NO_RULE ? this.passRule : this.cachedRule !== NO_RULE ? this.cachedRule
      : s.kind === 'read' ? RULE.accessRead : s.kind === 'write' ? RULE.accessWrite : RULE.accessFetch;
    const hpas = [first.hpa, second.hpa];
    // Every part translated: combined mappings may now be cached (semantics.md "TLBs").
    for (let i = 0; i < s.parts.length; i++) {
      const list = (i === 0 ? first : second).fill;
      if (list !== null) for (const m of list) this.combFills.push({ page: s.parts[i].linearPage, m });
    }
    // Step 8: data bytes, little-endian, byte-exact.
    if (s.kind === 'read') {
      let lo = 0;
      let hi = 0;
      let n = 0;
      for (let i = 0; i < s.parts.length; i++) {
        for (let j = 0; j < s.parts[i].size; j++, n++) {
          const b = this.readByte(hpas[i] + j);
          if (n < 4) lo = (lo | (b << (8 * n))) >>> 0;
          else hi = (hi | (b << (8 * (n - 4)))) >>> 0;
        }
      }
      // One BigInt conversion when the value fits a double exactly (hi < 2^21), else the halves.
      this.outcome = { kind: 'data', value: hi < 0x200000 ? BigInt(hi * TWO32 + lo) : (BigInt(hi) << 32n) | BigInt(lo) };
    } else if (s.kind === 'write') {
      let n = 0;
      for (let i = 0; i < s.parts.length; i++) {
        for (let j = 0; j < s.parts[i].size; j++, n++) {
          const hpa = hpas[i] + j;
          if (s.cx.mem.inRam(hpa)) this.dataWrites.push(hpa, (n < 4 ? s.writeLo >>> (8 * n) : s.writeHi >>> (8 * (n - 4))) & 0xff);
        }
      }
    }
  }

  /** CR0.PG = 0: the linear address is the guest-physical address. */
  private unpagedPart(p: Part): { hpa: number; fill: CombinedMapping[] | null } | null {
    this.reachedLeaf(p, p.la);
    const t = this.finalAccess(p, p.la, null);
    return t === null ? null : { hpa: t.hpa, fill: null };
  }

  /**
   * IA-32e paging: a cached combined mapping, or the guest walk (steps 2-7). Alternatives are
   * numbered: cached mappings that allow, cached faults (staleDenial), recently flushed mappings
   * that allow, recently flushed faults.
   */
  private linearPart(p: Part): { hpa: number; fill: CombinedMapping[] | null } | null {
    const s = this.s;
    const tlb = s.cx.tlb;
    const list = tlb.comb.get(s.cx.ep4ta, p.linearPage);
    const flushedList = tlb.flushedComb.count > 0 ? tlb.flushedComb.get(s.cx.ep4ta, p.linearPage) : undefined;
    const cached = this.usableCombined(list);
    const flushed = this.usableCombined(flushedList);
    const cachedFaults = s.cx.staleDenial ? this.combinedFaults(list, p) : NO_FAULTS;
    const flushedFaults = s.cx.staleDenial ? this.combinedFaults(flushedList, p) : NO_FAULTS;
    // Under 'rewalk' a cached mapping that denies is never used; the flushed pass also tries it as
    // if it allowed (usedDenied). Under 'sdm' its fault is a candidate already. (When every cached
    // mapping allows, none denies: no second scan.)
    const denied = s.cx.staleDenial || list === undefined || cached.length === list.length ? NO_COMBINED : this.rightsDenied(list);
    const nCached = cached.length + cachedFaults.length;
    const nFlushed = flushed.length + flushedFaults.length;
    let bp: BranchPoint | null = null;
    if (nCached > 0 || nFlushed > 0 || denied.length > 0) {
      bp = { alts: numbered(1, nCached), flushedAlts: numbered(nCached + 1, nFlushed + denied.length) };
      const c = this.choose(bp);
      if (c > nCached + nFlushed && c <= nCached + nFlushed + denied.length) return this.servedDenied(p, denied[c - nCached - nFlushed - 1]);
      if (c > 0 && c <= nCached + nFlushed) {
        const isFlushed = c > nCached;
        if (isFlushed) this.usedFlushed = this.usedFlushedBeyondAdUpdates = true;
        else this.usedCached = true;
        const k = isFlushed ? c - nCached - 1 : c - 1;
        const allowing = isFlushed ? flushed : cached;
        if (isFlushed) this.usedFlushedMapping(k < allowing.length ? allowing[k].flushedBy : undefined);
        if (k >= allowing.length) return this.staleFault(p, (isFlushed ? flushedFaults : cachedFaults)[k - allowing.length]);
        if (this.cachedRule === NO_RULE) this.cachedRule = RULE.tlbCombined;
        // The exemption that let the cached walk rights through counts as for a fresh walk.
        const pass = rightsRule(s.kind, allowing[k].walk, s.cx.rights, RIGHTS_OK);
        if (pass !== NO_RULE && this.passRule === NO_RULE) this.passRule = pass;
        this.reachedRights(p, allowing[k].walk);
        if (allowing[k].gpaPage >= 0) this.reachedLeaf(p, allowing[k].gpaPage * 4096 + mod(p.la, 4096));
        return { hpa: allowing[k].hpaPage * 4096 + mod(p.la, 4096), fill: null };
      }
    }
    const writesBefore = this.writes.length;
    const r = this.walk(p);
    if (bp !== null && r !== null && this.writes.length === writesBefore) {
      // Worth exploring: only the alternatives whose result differs from this fresh walk's (a
      // clean walk, no A/D write, to the same HPA page gives the same; a fault always differs).
      const page = Math.floor(r.hpa / 4096);
      const alts = bp.alts.filter((i) => i > cached.length || cached[i - 1].hpaPage !== page);
      const flushedAlts = bp.flushedAlts.filter((i) => i - nCached > flushed.length || flushed[i - nCached - 1].hpaPage !== page);
      if (alts.length !== bp.alts.length || flushedAlts.length !== bp.flushedAlts.length) {
        bp.defaultsBeforeNarrowing = [defaultChoice(bp, Mode.Fresh), defaultChoice(bp, Mode.Cached), defaultChoice(bp, Mode.Flushed)];
        bp.alts = alts;
        bp.flushedAlts = flushedAlts;
      }
    }
    return r;
  }

  /** Ends the part with the fault a stale entry gives; like any fault it drops its pages' mappings. */
  private staleFault(p: Part, f: StaleFault): null {
    this.outcome = f.outcome;
    this.rule = f.rule;
    this.combDrop = p.linearPage;
    if (f.gpaPage !== null) this.gpaDrop = f.gpaPage;
    return null;
  }

  /**
   * choices.staleDenial = 'sdm' (semantics.md "TLBs"): the distinct faults the mappings of `list`
   * that deny this access give, computed from their bits as a fresh walk with those bits would
   * (ref §6.3; SDM Vol. 3A §4.10.4.3, Vol. 3C "Guidelines for Use of the INVEPT Instruction").
   */
  private combinedFaults(list: readonly CombinedMapping[] | undefined, p: Part): readonly StaleFault[] {
    let out: StaleFault[] | null = null;
    if (list === undefined) return NO_FAULTS;
    for (const m of list) {
      const f = this.combinedFault(m, p);
      if (f === null) continue;
      if (out !== null && out.some((g) => g.gpaPage === f.gpaPage && sameOutcome(g.outcome, f.outcome))) continue;
      (out ??= []).push(f);
    }
    return out ?? NO_FAULTS;
  }

  /** The fault a cached combined mapping gives for this access, or null when it allows or re-walks. */
  private combinedFault(m: CombinedMapping, p: Part): StaleFault | null {
    const s = this.s;
    // Step 3 over the cached walk rights: #PF with P = 1, PK when the key alone denies.
    const verdict = checkRights(s.kind, m.walk, s.cx.rights);
    if (verdict !== RIGHTS_OK) {
      return { outcome: { kind: 'pf', code: PF_P | (verdict === RIGHTS_DENIED_PK ? PF_PK : 0) | s.pfAccessBits, cr2: p.la }, gpaPage: null, rule: RULE.tlbDenyCombined };
    }
    if (eptAllows(s.final, m.ept, s.cx.eptCtx.mbec, m.walk.us)) return null; // allows, or a write that re-walks for D
    // An SPP-eligible write (ref §3.3) would consult the SPPT rather than fault: not modelled.
    if (s.kind === 'write' && s.cx.sppOn && m.spp && m.ept.r && !m.ept.w) return null;
    // Step 5: an EPT violation at the final GPA with the cached EPT rights (step 7 under kvmXo).
    const gpa = m.gpaPage * 4096 + mod(p.la, 4096);
    return { outcome: this.xoFault(p, gpa, this.violation(p, gpa, s.final, m.ept, m.walk)), gpaPage: m.gpaPage, rule: RULE.tlbDenyCombined };
  }

  /**
   * The cached mappings of `list` whose guest rights (keys included) deny this access under the
   * current registers while their EPT rights allow it (a write also needs guest and EPT D set, or
   * it would re-walk whatever the rights): the ones a target that judges rights otherwise could use.
   */
  private rightsDenied(list: readonly CombinedMapping[] | undefined): readonly CombinedMapping[] {
    let out: CombinedMapping[] | null = null;
    if (list === undefined) return NO_COMBINED;
    const s = this.s;
    for (const m of list) {
      if (checkRights(s.kind, m.walk, s.cx.rights) === RIGHTS_OK || !eptAllows(s.final, m.ept, s.cx.eptCtx.mbec, m.walk.us)) continue;
      if (s.kind === 'write' && !(m.guestD && (m.eptD || !s.cx.eptAD))) continue;
      (out ??= []).push(m);
    }
    return out ?? NO_COMBINED;
  }

  /** Classification only: part `p` served through mapping `m` as if its denying rights allowed the access (usedDenied). */
  private servedDenied(p: Part, m: CombinedMapping): { hpa: number; fill: null } {
    const s = this.s;
    if (!this.usedDenied) {
      const verdict = checkRights(s.kind, m.walk, s.cx.rights);
      this.deniedOutcome = { kind: 'pf', code: PF_P | (verdict === RIGHTS_DENIED_PK ? PF_PK : 0) | s.pfAccessBits, cr2: p.la };
      this.deniedRule = rightsRule(s.kind, m.walk, s.cx.rights, verdict);
    }
    this.usedDenied = true;
    this.reachedRights(p, m.walk);
    if (m.gpaPage >= 0) this.reachedLeaf(p, m.gpaPage * 4096 + mod(p.la, 4096));
    return { hpa: m.hpaPage * 4096 + mod(p.la, 4096), fill: null };
  }

  /** The mappings of `list` (cached, or recently flushed) that allow this access now. */
  private usableCombined(list: readonly CombinedMapping[] | undefined): readonly CombinedMapping[] {
    let out: CombinedMapping[] | null = null;
    if (list !== undefined) for (const m of list) if (this.combinedAllows(m)) (out ??= []).push(m);
    return out ?? NO_COMBINED;
  }

  /** semantics.md "TLBs": a cached entry serves the access only if it allows it under current registers. */
  private combinedAllows(m: CombinedMapping): boolean {
    const s = this.s;
    if (checkRights(s.kind, m.walk, s.cx.rights) !== RIGHTS_OK) return false;
    if (!eptAllows(s.final, m.ept, s.cx.eptCtx.mbec, m.walk.us)) return false;
    // A write through an entry whose guest D or EPT D is 0 re-walks. (The SPP bit needs no rule of
    // its own: a cached entry serves a write only with EPT W = 1, where SPP is ignored, ref §3.3.)
    return s.kind !== 'write' || (m.guestD && (m.eptD || !s.cx.eptAD));
  }

  /** Steps 2-7 for one part. */
  private walk(p: Part): { hpa: number; fill: CombinedMapping[] } | null {
    const s = this.s;
    const M = s.cx.config.maxPhyAddr;
    const w: WalkRights = { rw: true, us: true, xd: false, pkey: 0 };
    // The entries read, top-down, and their GPAs: scratch arrays, used only inside this call
    // (nothing below re-enters `walk`).
    const gpas = WALK_GPAS;
    const entries = WALK_ENTRIES;
    let n = 0;
    let tableGpa = s.cx.cr3Table;
    let leafLevel = 0;
    // Step 2: levels 4 -> 1; each entry's GPA goes through EPT before the entry is read.
    for (let level = 4; level >= 1; level--) {
      const gpa = tableGpa + levelIndex(p.la, level) * 8;
      const t = this.translate(p, gpa, s.cx.tableAccess, false, null);
      if (t === null) return this.accessedOnFault(p, n, null);
      const e = this.readGuest(t.hpa);
      if (!guestPresent(e)) return this.walkFault(p, n, 0, RULE.pfNotPresent[level]);
      const rsvd = guestReservedRule(e, level, s.cx.guestCtx);
      if (rsvd !== NO_RULE) return this.walkFault(p, n, PF_P | PF_RSVD, rsvd);
      if (this.eptReads !== null) {
        WALK_MARKS[2 * n] = this.eptReads.length;
        WALK_MARKS[2 * n + 1] = this.sppReads!.length;
      }
      w.rw &&= (e.lo & 2) !== 0;
      w.us &&= (e.lo & 4) !== 0;
      w.xd ||= (e.hi & 0x80000000) !== 0;
      gpas[n] = gpa;
      entries[n] = e;
      n++;
      if (guestIsLeaf(e, level)) {
        leafLevel = level;
        break;
      }
      tableGpa = entryAddress(e, M);
    }
    const leaf = entries[n - 1];
    w.pkey = (leaf.hi >>> 27) & 0xf; // ref §4.3: key = bits 62:59 of the leaf
    const gpa = leafBase(leaf, leafLevel, M) + mod(p.la, levelSpan(leafLevel));
    this.reachedLeaf(p, gpa);
    // Step 3: rights over the whole walk; PK when the key alone would deny.
    const verdict = checkRights(s.kind, w, s.cx.rights);
    const decided = rightsRule(s.kind, w, s.cx.rights, verdict);
    this.reachedRights(p, w);
    if (verdict !== RIGHTS_OK) return this.walkFault(p, n, PF_P | (verdict === RIGHTS_DENIED_PK ? PF_PK : 0), decided); // the leaf was used too
    if (decided !== NO_RULE && this.passRule === NO_RULE) this.passRule = decided;
    // Step 4: A where 0 (levels 4 -> 1), D in the leaf for a write; each an EPT paging-structure write.
    const step4: Step4Start | null = this.eptReads === null ? null : { writes: this.writes.length, fills: this.gpaFills.length, finalEptReads: 0, finalSppReads: 0 };
    for (let i = 0; i < n; i++) {
      const e = entries[i];
      let bits = (e.lo & PTE_A) === 0 ? PTE_A : 0;
      if (i === n - 1 && s.kind === 'write' && (e.lo & PTE_D) === 0) bits |= PTE_D;
      if (bits === 0) continue;
      const t = this.translate(p, gpas[i], EptAccess.TableWrite, false, null, true);
      if (t === null) return null; // the A/D update's own EPT exit: the updates before it stay
      const cur = this.readGuest(t.hpa);
      this.writeEntry(t.hpa, cur.lo | bits, cur.hi);
    }
    // Step 5: the final GPA.
    if (step4 !== null) {
      step4.finalEptReads = this.eptReads!.length;
      step4.finalSppReads = this.sppReads!.length;
    }
    const t = this.finalAccess(p, gpa, w);
    if (t === null) return this.accessedOnFault(p, n, step4);
    const hpaPage = Math.floor(t.hpa / 4096);
    const global = (leaf.lo & PTE_G) !== 0 && s.cx.pge;
    const guestD = s.kind === 'write' || (leaf.lo & PTE_D) !== 0;
    const gpaPage = s.cx.staleDenial ? Math.floor(gpa / 4096) : -1;
    const fill = [combinedMapping(hpaPage, gpaPage, w, global, guestD, t.mapping)];
    if (t.also !== undefined) for (const m of t.also) fill.push(combinedMapping(hpaPage, gpaPage, w, global, guestD, m));
    return { hpa: t.hpa, fill };
  }

  /**
   * choices.guestAccessedOnFault = 'sdm' (semantics.md step 4, "Guest A on a fault"): part `p`'s
   * walk used the first `n` entries of WALK_ENTRIES (their GPAs in WALK_GPAS) and then faulted (the
   * run's outcome). A branch point whose alternative c sets A, in walk order, in the first c of
   * those entries whose A the walk read as 0; 0 keeps the run as it is. Each A update is an EPT
   * paging-structure write of the entry's GPA through a fresh EPT walk, as in step 4 (its EPT A/D
   * and guest-physical mapping included). `step4` (a fault at the final GPA, after step 4): the
   * alternatives, the empty prefix among them, replace step 4's updates (A and D), which must not
   * have changed anything the final GPA's translation read (but EPT A/D bits of EPT entries).
   * Prefixes end at the first update whose EPT walk does not allow the write, or that would
   * change an EPT or SPPT entry the walk read after the entry it updates (aliased tables: a walk
   * that set A as it went would have read something else). Returns null (the part's result).
   */
  private accessedOnFault(p: Part, n: number, step4: Step4Start | null): null {
    const eptReads = this.eptReads;
    const sppReads = this.sppReads;
    if (eptReads === null || sppReads === null) return null;
    const eptEnd = eptReads.length;
    const sppEnd = sppReads.length;
    const w = this.writes;
    if (step4 !== null) {
      for (let i = step4.writes; i < w.length; i += 3) {
        const h = w[i];
        const before = this.valueBefore(i, h);
        const lo = (w[i + 1] ^ before.lo) >>> 0;
        const hi = (w[i + 2] ^ before.hi) >>> 0;
        if (lo === 0 && hi === 0) continue;
        if (readIn(sppReads, step4.finalSppReads, sppEnd, h)) return null;
        if (((lo & ~EPT_AD_BITS) !== 0 || hi !== 0) && readIn(eptReads, step4.finalEptReads, eptEnd, h)) return null;
      }
    }
    const w0 = step4 !== null ? step4.writes : w.length;
    const f0 = step4 !== null ? step4.fills : this.gpaFills.length;
    const tailWrites = w.slice(w0);
    const tailFills = this.gpaFills.slice(f0);
    w.length = w0;
    this.gpaFills.length = f0;
    // Per alternative: the lengths of writes and fills after it. After a final-GPA fault the empty
    // prefix is an alternative too (the run itself kept step 4's updates).
    const ends: number[] = step4 !== null ? [w0, f0] : [];
    for (let i = 0; i < n; i++) {
      if ((WALK_ENTRIES[i].lo & PTE_A) !== 0) continue;
      const gpa = WALK_GPAS[i];
      const f = this.fresh(p, gpa, EptAccess.TableWrite, false, null);
      if (!f.ok) break;
      const before = w.length;
      let clash = false;
      // EPT A/D (bits 8, 9) mean nothing to an EPT walk; an SPPT walk reads them as write bits.
      for (let k = 0; k < f.adWrites.length; k += 3) {
        w.push(f.adWrites[k], f.adWrites[k + 1], f.adWrites[k + 2]);
        if (readIn(sppReads, WALK_MARKS[2 * i + 1], sppEnd, f.adWrites[k])) clash = true;
      }
      const cur = this.readGuest(f.hpa);
      if ((cur.lo & PTE_A) === 0 && (readIn(eptReads, WALK_MARKS[2 * i], eptEnd, f.hpa) || readIn(sppReads, WALK_MARKS[2 * i + 1], sppEnd, f.hpa))) clash = true;
      if (clash) {
        w.length = before;
        break;
      }
      this.writeEntry(f.hpa, cur.lo | PTE_A, cur.hi);
      this.gpaFills.push({ page: Math.floor(gpa / 4096), m: f.mapping });
      ends.push(w.length, this.gpaFills.length);
    }
    const k = ends.length / 2;
    const c = k > 0 ? this.choose({ alts: numbered(1, k), flushedAlts: [] }) : 0;
    if (c > 0 && c <= k) {
      w.length = ends[2 * c - 2];
      this.gpaFills.length = ends[2 * c - 1];
    } else {
      w.length = w0;
      for (const x of tailWrites) w.push(x);
      this.gpaFills.length = f0;
      for (const x of tailFills) this.gpaFills.push(x);
    }
    return null;
  }

  /** The qword at `hpa` before the write at `writes[index]` (earlier writes of the run, else memory). */
  private valueBefore(index: number, hpa: number): Entry {
    const w = this.writes;
    for (let i = index - 3; i >= 0; i -= 3) if (w[i] === hpa) return { lo: w[i + 1], hi: w[i + 2] };
    return this.s.cx.mem.readEntry(hpa);
  }

  /** Steps 5-7: the final-GPA access, with the kvmXo #PF conversion. */
  private finalAccess(p: Part, gpa: number, w: WalkRights | null): Translated | null {
    const s = this.s;
    const t = this.translate(p, gpa, s.final, w !== null && w.us, w);
    if (t !== null) return t;
    const before = this.outcome;
    this.outcome = this.xoFault(p, gpa, before);
    if (this.outcome !== before) this.rule = RULE.xoKvmPf;
    return null;
  }

  /** Step 7: under kvmXo an EPT violation of a data access to the XO alias becomes the RFC's #PF. */
  private xoFault(p: Part, gpa: number, o: Outcome): Outcome {
    const s = this.s;
    if (s.cx.config.kvmXo && s.kind !== 'fetch' && o.kind === 'exit' && o.reason === EXIT_EPT_VIOLATION &&
        bitOf(gpa, s.cx.config.maxPhyAddr - 1)) {
      const code = PF_P | (s.kind === 'write' ? PF_W : 0) | (s.cx.rights.cpl === 3 ? PF_U : 0);
      return { kind: 'pf', code, cr2: p.la };
    }
    return o;
  }

  /** A #PF of part `p`'s walk after it used `n` entries (their A: `accessedOnFault`). */
  private walkFault(p: Part, n: number, bits: number, rule: number): null {
    this.pageFault(p, bits, rule);
    return this.accessedOnFault(p, n, null);
  }

  private pageFault(p: Part, bits: number, rule: number): null {
    this.outcome = { kind: 'pf', code: bits | this.s.pfAccessBits, cr2: p.la };
    this.rule = rule;
    this.combDrop = p.linearPage; // a #PF drops the combined mappings of its linear page
    return null;
  }

  // ---- EPT translation of one GPA, fresh or from a cached guest-physical mapping ------------

  /**
   * `adUpdate`: the translation of a guest A/D update, which walks EPT fresh (semantics.md step 4)
   * unless choices.adUpdateMapping = 'sdm'.
   */
  private translate(p: Part, gpa: number, access: EptAccess, userAddr: boolean, w: WalkRights | null, adUpdate = false): Translated | null {
    const pt = this.point(p, gpa, access, userAddr, w, adUpdate);
    if (pt.bp !== null) {
      const c = this.choose(pt.bp);
      const { alts, flushedAlts } = pt;
      let chosen: GpaMapping | null = null;
      if (c > 0 && c <= alts.length) {
        this.usedCached = true;
        chosen = alts[c - 1];
      } else if (c > alts.length && c <= alts.length + flushedAlts.length) {
        this.usedFlushed = true;
        if (!adUpdate) this.usedFlushedBeyondAdUpdates = true;
        chosen = flushedAlts[c - alts.length - 1];
        this.usedFlushedMapping(chosen.flushedBy);
      }
      if (chosen !== null) {
        if (!eptAllows(access, chosen.rights, this.s.cx.eptCtx.mbec, userAddr)) {
          // staleDenial: the cached mapping's EPT violation (ref §6.3), which drops its pages' mappings
          this.outcome = this.violation(p, gpa, access, chosen.rights, w);
          this.rule = RULE.tlbDenyGpa;
          this.gpaDrop = pt.page;
          this.combDrop = p.linearPage;
          return null;
        }
        if (this.cachedRule === NO_RULE && c <= alts.length) this.cachedRule = RULE.tlbGpa;
        return { hpa: chosen.hpaPage * 4096 + mod(gpa, 4096), mapping: chosen };
      }
    }
    const fresh = pt.fresh;
    if (!fresh.ok) {
      this.outcome = fresh.outcome;
      this.rule = fresh.rule;
      // an EPT exit drops the guest-physical mappings of its GPA page and the combined ones of its linear page
      this.gpaDrop = pt.page;
      this.combDrop = p.linearPage;
      if (this.s.cx.eptAccessedOnFault && this.s.cx.eptAD) this.eptAccessedOnExit(gpa);
      return null;
    }
    if (fresh.rule !== NO_RULE && this.passRule === NO_RULE) this.passRule = fresh.rule;
    for (const x of fresh.adWrites) this.writes.push(x);
    this.gpaFills.push({ page: pt.page, m: fresh.mapping });
    return pt.also !== null ? { hpa: fresh.hpa, mapping: fresh.mapping, also: pt.also } : fresh;
  }

  /**
   * Everything about translating `gpa` that does not depend on the choice: the fresh walk, the
   * alternatives and their branch point. Remembered across an explored access's runs (see
   * AccessSetup.points) while the run has no pending write, since then it reads only committed
   * memory and the caches, which no run changes.
   */
  private point(p: Part, gpa: number, access: EptAccess, userAddr: boolean, w: WalkRights | null, adUpdate: boolean): TranslationPoint {
    const memo = this.s.points;
    if (memo === null || this.writes.length > 0) return this.newPoint(p, gpa, access, userAddr, w, adUpdate);
    const walkBits = w === null ? -1 : (w.us ? 1 : 0) | (w.rw ? 2 : 0) | (w.xd ? 4 : 0);
    let list = memo.get(gpa);
    if (list === undefined) memo.set(gpa, (list = []));
    for (const x of list) {
      if (x.part === p && x.access === access && x.userAddr === userAddr && x.walkBits === walkBits && x.adUpdate === adUpdate) return x;
    }
    const pt = this.newPoint(p, gpa, access, userAddr, w, adUpdate);
    list.push(pt);
    return pt;
  }

  private newPoint(p: Part, gpa: number, access: EptAccess, userAddr: boolean, w: WalkRights | null, adUpdate: boolean): TranslationPoint {
    const s = this.s;
    const fresh = this.fresh(p, gpa, access, userAddr, w);
    const page = Math.floor(gpa / 4096);
    // A guest A/D update uses no cached mapping under adUpdateMapping = 'fresh' (semantics.md
    // step 4); a recently flushed one stays listed, since the flushed pass only classifies what a
    // machine did. Under 'sdm', once the run has written (a guest or EPT A/D update), the mappings
    // it filled earlier in this access may serve too: they were cached before that write.
    let cachedList = adUpdate && !s.cx.adUpdateCached ? undefined : s.cx.tlb.gpa.get(s.cx.ep4ta, page);
    if (s.cx.adUpdateCached && this.writes.length > 0) cachedList = this.withOwnFills(cachedList, page, fresh);
    const flushedList = s.cx.tlb.flushedGpa.count > 0 ? s.cx.tlb.flushedGpa.get(s.cx.ep4ta, page) : undefined;
    // Alternatives: entries that allow the access now and give another result than the fresh
    // walk (a clean fresh walk, one with no A/D write, to the same HPA page gives the same).
    const freshPage = fresh.ok && fresh.adWrites.length === 0 ? Math.floor(fresh.hpa / 4096) : -1;
    let alts = this.gpaAlternatives(cachedList, access, userAddr, freshPage);
    let flushedAlts = this.gpaAlternatives(flushedList, access, userAddr, freshPage);
    if (s.cx.staleDenial) {
      alts = this.withDenials(alts, cachedList, access, userAddr);
      flushedAlts = this.withDenials(flushedAlts, flushedList, access, userAddr);
    }
    const bp = alts.length > 0 || flushedAlts.length > 0 ? { alts: numbered(1, alts.length), flushedAlts: numbered(alts.length + 1, flushedAlts.length) } : null;
    let also: GpaMapping[] | null = null;
    if (fresh.ok && cachedList !== undefined && isFinal(access)) {
      for (const m of cachedList) {
        if (m.hpaPage === Math.floor(fresh.hpa / 4096) && !sameGpaMapping(m, fresh.mapping) && this.gpaAllows(m, access, userAddr)) (also ??= []).push(m);
      }
    }
    const walkBits = w === null ? -1 : (w.us ? 1 : 0) | (w.rw ? 2 : 0) | (w.xd ? 4 : 0);
    return { part: p, access, userAddr, walkBits, adUpdate, page, fresh, alts, flushedAlts, bp, also };
  }

  /**
   * choices.adUpdateMapping = 'sdm' (semantics.md step 4): `list` followed by the guest-physical
   * mappings of GPA page `page` this run filled earlier in the access, those a fresh walk would not
   * give again (ref §6.1: the processor "may enforce rights from cached entries instead of
   * memory"; SDM Vol. 3C "Guidelines for Use of the INVEPT Instruction": a changed EPT entry need
   * not be seen before INVEPT). Only a rewrite of an EPT entry by an earlier update of the access
   * (guest tables aliased onto EPT tables) makes them differ.
   */
  private withOwnFills(list: readonly GpaMapping[] | undefined, page: number, fresh: Fresh): readonly GpaMapping[] | undefined {
    let out: GpaMapping[] | null = null;
    for (const f of this.gpaFills) {
      if (f.page !== page || (fresh.ok && sameGpaMapping(f.m, fresh.mapping))) continue;
      const seen = out ?? list;
      if (seen !== undefined && seen.some((m) => sameGpaMapping(m, f.m))) continue;
      (out ??= list === undefined ? [] : [...list]).push(f.m);
    }
    return out ?? list;
  }

  /**
   * choices.eptAccessedOnFault = 'sdm' (semantics.md "EPT translation of one GPA"): the fresh EPT
   * walk of `gpa` ended in an exit (the run's outcome). A branch point whose alternative c sets EPT
   * A, in walk order, in the first c entries the walk used whose A is 0; 0 sets nothing (the
   * machine). Used: every entry above a not-present or misconfigured one, and every entry of a walk
   * that reached its leaf (a permission or SPP violation, an SPP exit: the rights came from them).
   * SDM Vol. 3C "Accessed and Dirty Flags for EPT": an entry used as part of guest-physical-address
   * translation gets A. Never D: nothing was written.
   */
  private eptAccessedOnExit(gpa: number): void {
    const cx = this.s.cx;
    const clear: number[] = [];
    let table = cx.eptRoot;
    for (let level = 4; level >= 1; level--) {
      const hpa = table + levelIndex(gpa, level) * 8;
      const e = this.readGuest(hpa);
      if (!eptPresent(e, cx.eptCtx.mbec) || eptMisconfigured(e, level, cx.eptCtx)) break;
      if ((e.lo & EPT_A) === 0 && cx.mem.inRam(hpa) && !clear.includes(hpa)) clear.push(hpa);
      if (eptIsLeaf(e, level)) break;
      table = entryAddress(e, cx.eptCtx.maxPhyAddr);
    }
    if (clear.length === 0) return;
    const c = this.choose({ alts: numbered(1, clear.length), flushedAlts: [] });
    for (let i = 0; i < c && i < clear.length; i++) {
      const cur = this.readGuest(clear[i]);
      this.writeEntry(clear[i], cur.lo | EPT_A, cur.hi);
    }
  }

  /** The mappings of `list` that allow the access and do not lead to HPA page `samePage`. */
  private gpaAlternatives(list: readonly GpaMapping[] | undefined, access: EptAccess, userAddr: boolean, samePage: number): readonly GpaMapping[] {
    let out: GpaMapping[] | null = null;
    if (list !== undefined) for (const m of list) if (m.hpaPage !== samePage && this.gpaAllows(m, access, userAddr)) (out ??= []).push(m);
    return out ?? NO_MAPPINGS;
  }

  /**
   * choices.staleDenial = 'sdm' (semantics.md "TLBs"): `alts` followed by the mappings of
   * `list` whose EPT rights deny the access, one per distinct rights (the violation depends only
   * on them; ref §6.3, SDM Vol. 3C "Guidelines for Use of the INVEPT Instruction"). An
   * SPP-eligible write (ref §3.3) would consult the SPPT instead: not offered.
   */
  private withDenials(alts: readonly GpaMapping[], list: readonly GpaMapping[] | undefined, access: EptAccess, userAddr: boolean): readonly GpaMapping[] {
    if (list === undefined) return alts;
    const mbec = this.s.cx.eptCtx.mbec;
    let out: GpaMapping[] | null = null;
    for (const m of list) {
      if (eptAllows(access, m.rights, mbec, userAddr)) continue;
      if (access === EptAccess.Write && this.s.cx.sppOn && m.spp && m.rights.r && !m.rights.w) continue;
      if (out !== null && out.some((d) => !eptAllows(access, d.rights, mbec, userAddr) && sameRights(d.rights, m.rights))) continue;
      (out ??= [...alts]).push(m);
    }
    return out ?? alts;
  }

  /** A cached guest-physical mapping is used only if it allows the access (semantics.md "TLBs"). */
  private gpaAllows(m: GpaMapping, access: EptAccess, userAddr: boolean): boolean {
    if (!eptAllows(access, m.rights, this.s.cx.eptCtx.mbec, userAddr)) return false;
    return access !== EptAccess.Write || m.eptD || !this.s.cx.eptAD;
  }

  /** The EPT walk from memory (semantics.md "EPT translation of one GPA"), with SPP (step 6). */
  private fresh(p: Part, gpa: number, access: EptAccess, userAddr: boolean, w: WalkRights | null): Fresh {
    const s = this.s;
    const ctx = s.cx.eptCtx;
    const walk = this.eptPageWalk(gpa);
    // ref §2.2: misconfiguration: qualification 0, no linear address
    if (walk.kind === 'misconfig') return { ok: false, outcome: { kind: 'exit', reason: EXIT_EPT_MISCONFIG, qual: 0, gpa, gla: null }, rule: walk.rule };
    if (walk.kind === 'not-present') {
      return { ok: false, outcome: this.violation(p, gpa, access, NO_RIGHTS, w), rule: RULE.eptNotPresent[eptRuleAccess(access, ctx.mbec, userAddr)][walk.level] };
    }
    let passRule = NO_RULE;
    let allowed = eptAllows(access, walk.rights, ctx.mbec, userAddr);
    // ref §3.3 SPP eligibility: SPP on, a final-GPA write, a 4 KiB leaf with bit 61, ANDed R = 1 and W = 0
    if (!allowed && access === EptAccess.Write && s.cx.sppOn && walk.spp && walk.rights.r && !walk.rights.w) {
      this.sppWalking = true;
      const spp = sppWalk(this, s.cx.spptp, gpa, ctx.maxPhyAddr);
      this.sppWalking = false;
      if (spp.kind !== 'leaf') {
        // ref §3.4: exit 66, qualification bit 11 = 1 for a miss, 0 for a misconfiguration
        return { ok: false, outcome: { kind: 'exit', reason: EXIT_SPP, qual: spp.kind === 'miss' ? SPP_QUAL_MISS : 0, gpa, gla: p.la }, rule: spp.kind === 'miss' ? RULE.sppMiss : spp.rule };
      }
      // every 128-byte sub-page the part touches, in address order (semantics.md step 6)
      const pageBase = gpa - (gpa % 4096);
      const first = Math.floor((gpa % 4096) / SUBPAGE_SIZE);
      const last = Math.floor(((gpa % 4096) + p.size - 1) / SUBPAGE_SIZE);
      for (let sp = first; sp <= last; sp++) {
        if (!subPageWritable(spp.leaf, sp)) {
          const byte = Math.max(gpa, pageBase + sp * SUBPAGE_SIZE);
          return { ok: false, outcome: this.violation(p, byte, access, walk.rights, w), rule: RULE.sppDenied };
        }
      }
      allowed = true;
      passRule = RULE.sppAllowed;
    }
    if (!allowed) {
      // An execute-only page (X = 1, R = 0) denying a data access is the XO rule; else the level that lacked the right.
      const xo = isFinal(access) && access !== EptAccess.Fetch && walk.rights.xs && !walk.rights.r;
      const rule = xo ? RULE.xoNativeData : RULE.eptDeny[eptRuleAccess(access, ctx.mbec, userAddr)][denyingLevel(walk, access, ctx.mbec, userAddr)];
      return { ok: false, outcome: this.violation(p, gpa, access, walk.rights, w), rule };
    }
    if (access === EptAccess.Fetch && !walk.rights.r) passRule = RULE.xoNativeFetch;
    // EPT A/D on success: A in every entry used where 0, D in the leaf for a write access.
    let adWrites = NO_WRITES;
    const write = isWriteAccess(access);
    if (s.cx.eptAD) {
      for (let i = 0; i < walk.path.length; i++) {
        const { hpa, entry } = walk.path[i];
        let bits = (entry.lo & EPT_A) === 0 ? EPT_A : 0;
        if (i === walk.path.length - 1 && write && (entry.lo & EPT_D) === 0) bits |= EPT_D;
        if (bits === 0 || !s.cx.mem.inRam(hpa)) continue;
        if (adWrites === NO_WRITES) adWrites = [];
        adWrites.push(hpa, (entry.lo | bits) >>> 0, entry.hi >>> 0);
      }
    }
    const hpa = walk.hpa + mod(gpa, 4096); // the walk is of the page's first byte
    const mapping: GpaMapping = {
      hpaPage: Math.floor(hpa / 4096),
      rights: walk.rights,
      leafLevel: walk.level,
      spp: walk.spp,
      eptD: !s.cx.eptAD || walk.leafD || write,
      flushedBy: NO_RULE,
    };
    return { ok: true, hpa, mapping, adWrites, rule: passRule };
  }

  /**
   * The EPT walk of the page holding `gpa` (indices use only bits 12 and up, so the leaf HPA is
   * the page's; the caller adds the offset). From the memo of committed-memory walks unless this
   * run's own pending writes touch an entry that walk read; then through them, as always.
   */
  private eptPageWalk(gpa: number): EptWalk {
    const s = this.s;
    const page = Math.floor(gpa / 4096);
    const m = s.cx.eptWalks.get(s.cx.eptRoot, page, s.cx.eptCtx.mbec);
    const w = this.writes;
    if (w.length > 0) {
      for (const hpa of m.reads) {
        for (let i = 0; i < w.length; i += 3) if (w[i] === hpa) return eptWalk(this, s.cx.eptRoot, page * 4096, s.cx.eptCtx);
      }
    }
    if (this.eptReads !== null) for (const hpa of m.reads) this.eptReads.push(hpa);
    return m.value;
  }

  /** An EPT violation (exit 48) at `gpa` with the ANDed rights; advanced bits for final accesses. */
  private violation(p: Part, gpa: number, access: EptAccess, rights: EptRights, w: WalkRights | null): Outcome {
    const s = this.s;
    let qual = violationQual(access, rights, s.cx.eptCtx.mbec);
    // ref §2.1 bits 9-11: only with the capability, XLAT = 1 and paging on
    if (isFinal(access) && s.cx.config.caps.advExitInfo && w !== null) {
      if (w.us) qual |= QUAL_ADV_USER;
      if (w.rw) qual |= QUAL_ADV_WRITABLE;
      if (w.xd) qual |= QUAL_ADV_XD;
    }
    return { kind: 'exit', reason: EXIT_EPT_VIOLATION, qual, gpa, gla: p.la };
  }
}
