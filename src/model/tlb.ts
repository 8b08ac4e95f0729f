/**
 * What a vCPU MAY have cached (ref §6, docs/semantics.md "TLBs and invalidation"): every
 * translation a committed candidate produced since the last required invalidation of its page,
 * and, per page, what required invalidations removed ("recently flushed", up to a bound).
 * Contract: a superset of any machine's TLB: guest-physical mappings per (EP4TA, GPA page),
 * combined mappings per (EP4TA, linear page) (the VPID is the vCPU's own). Entries hold entry
 * bits, never decisions (so an entry may allow or, under choices.staleDenial = 'sdm', deny an
 * access, access.ts). Only required invalidations remove entries.
 */
import type { EptRights } from './ept.js';
import type { WalkRights } from './rights.js';
import { NO_RULE } from './rules.js';

/** A guest-physical mapping: GPA page -> HPA page with the walk's ANDed EPT rights. */
export interface GpaMapping {
  hpaPage: number;
  rights: EptRights;
  leafLevel: number;
  /** 4 KiB leaf with bit 61 (a write through it re-walks). */
  spp: boolean;
  /** EPT D of the leaf (true when EPT A/D was off at fill time). */
  eptD: boolean;
  /** Set when a required invalidation removes it: the rule of the op whose invalidation did (rules.ts). */
  flushedBy?: number;
}

/** A combined mapping: linear page -> HPA page with guest and EPT rights of the final GPA. */
export interface CombinedMapping {
  hpaPage: number;
  /**
   * The final GPA's page, for the EPT violation a stale entry gives under choices.staleDenial =
   * 'sdm' (-1 under 'rewalk', where it is never needed, so entries compare as they always did).
   */
  gpaPage: number;
  walk: WalkRights;
  global: boolean;
  guestD: boolean;
  ept: EptRights;
  eptD: boolean;
  spp: boolean;
  /** As GpaMapping.flushedBy. */
  flushedBy?: number;
}

/**
 * Values kept per page: a machine holds one, but the model cannot tell which (a machine that used
 * an older entry never refilled it), so it keeps every distinct value; the bound only stops a
 * pathological trace. Evicting would make the model narrower than the machine.
 */
const PER_PAGE_MAX = 32;
/** Bound on the recently-flushed record (it only classifies violations). */
const FLUSHED_PAGES_MAX = 4096;

export function sameGpaMapping(a: GpaMapping, b: GpaMapping): boolean {
  return a.hpaPage === b.hpaPage && sameRights(a.rights, b.rights) && a.leafLevel === b.leafLevel && a.spp === b.spp && a.eptD === b.eptD;
}

export function sameCombinedMapping(a: CombinedMapping, b: CombinedMapping): boolean {
  return a.hpaPage === b.hpaPage && a.gpaPage === b.gpaPage && a.walk.rw === b.walk.rw && a.walk.us === b.walk.us && a.walk.xd === b.walk.xd &&
    a.walk.pkey === b.walk.pkey && a.global === b.global && a.guestD === b.guestD && sameRights(a.ept, b.ept) &&
    a.eptD === b.eptD && a.spp === b.spp;
}

export function sameRights(a: EptRights, b: EptRights): boolean {
  return a.r === b.r && a.w === b.w && a.xs === b.xs && a.xu === b.xu;
}

/** Lists of values keyed by (EP4TA, page). */
export class PageStore<T> {
  private readonly byTag = new Map<number, Map<number, T[]>>();
  private pages = 0;

  get count(): number {
    return this.pages;
  }

  get(tag: number, page: number): readonly T[] | undefined {
    return this.byTag.get(tag)?.get(page);
  }

  add(tag: number, page: number, value: T, same: (a: T, b: T) => boolean): void {
    let m = this.byTag.get(tag);
    if (m === undefined) this.byTag.set(tag, (m = new Map()));
    const list = m.get(page);
    if (list === undefined) {
      m.set(page, [value]);
      this.pages++;
      return;
    }
    for (const v of list) if (same(v, value)) return;
    list.push(value);
    if (list.length > PER_PAGE_MAX) list.shift();
  }

  /** Replaces the values of one page. */
  set(tag: number, page: number, values: T[]): void {
    let m = this.byTag.get(tag);
    if (m === undefined) this.byTag.set(tag, (m = new Map()));
    if (!m.has(page)) this.pages++;
    m.set(page, values);
  }

  /**
   * Removes the values matching `pred` for one tag (or all with null) and one page (or all with
   * null); calls `removed` with each page's removed values.
   */
  remove(tag: number | null, page: number | null, pred: (v: T) => boolean, removed: (tag: number, page: number, values: T[]) => void): void {
    if (tag !== null) {
      const m = this.byTag.get(tag);
      if (m !== undefined) this.removeIn(tag, m, page, pred, removed);
      return;
    }
    for (const [t, m] of [...this.byTag]) this.removeIn(t, m, page, pred, removed);
  }

  private removeIn(tag: number, m: Map<number, T[]>, page: number | null, pred: (v: T) => boolean, removed: (tag: number, page: number, values: T[]) => void): void {
    if (page !== null) {
      const list = m.get(page);
      if (list !== undefined) this.removeFrom(tag, m, page, list, pred, removed);
    } else {
      for (const [p, list] of [...m]) this.removeFrom(tag, m, p, list, pred, removed);
    }
    if (m.size === 0) this.byTag.delete(tag);
  }

  private removeFrom(tag: number, m: Map<number, T[]>, page: number, list: T[], pred: (v: T) => boolean, removed: (tag: number, page: number, values: T[]) => void): void {
    const gone = list.filter(pred);
    if (gone.length === 0) return;
    if (gone.length === list.length) {
      m.delete(page);
      this.pages--;
    } else m.set(page, list.filter((v) => !pred(v)));
    removed(tag, page, gone);
  }

  clear(): void {
    this.byTag.clear();
    this.pages = 0;
  }
}

const ALWAYS = (): boolean => true;
const NON_GLOBAL = (c: CombinedMapping): boolean => !c.global;

/** One vCPU's may-be-cached translations and its recently flushed ones. */
export class VcpuTlb {
  readonly gpa = new PageStore<GpaMapping>();
  readonly comb = new PageStore<CombinedMapping>();
  readonly flushedGpa = new PageStore<GpaMapping>();
  readonly flushedComb = new PageStore<CombinedMapping>();
  /** The rule of the op being committed (src/model/rules.ts): a required invalidation records it as the flush's cause. */
  flushRule = NO_RULE;

  fillGpa(ep4ta: number, gpaPage: number, m: GpaMapping): void {
    this.gpa.add(ep4ta, gpaPage, m, sameGpaMapping);
  }

  fillCombined(ep4ta: number, linearPage: number, m: CombinedMapping): void {
    this.comb.add(ep4ta, linearPage, m, sameCombinedMapping);
  }

  /** Required invalidation of guest-physical mappings (null = every EP4TA / every page). */
  invalidateGpa(ep4ta: number | null, gpaPage: number | null): void {
    this.gpa.remove(ep4ta, gpaPage, ALWAYS, this.flushGpa);
  }

  /** Required invalidation of combined mappings (null = every EP4TA / every page). */
  invalidateCombined(ep4ta: number | null, linearPage: number | null, keepGlobal: boolean): void {
    this.comb.remove(ep4ta, linearPage, keepGlobal ? NON_GLOBAL : ALWAYS, this.flushComb);
  }

  // Bound once: invalidations are frequent (every EPT exit and #PF drops a page).
  private readonly flushGpa = (t: number, p: number, values: GpaMapping[]): void => this.recordFlushed(this.flushedGpa, t, p, values, sameGpaMapping);
  private readonly flushComb = (t: number, p: number, values: CombinedMapping[]): void => this.recordFlushed(this.flushedComb, t, p, values, sameCombinedMapping);

  /**
   * Records what a required invalidation removed, before what earlier ones removed from the page
   * (newest first, a value flushed again moving up with its latest flush): a machine that skipped
   * any of them may still hold that entry (a translation an earlier flush removed, whose page a
   * later flush found refilled otherwise, is as stale as the refill), and where two records
   * explain a target alike, the latest flush, the one it skipped last, names it.
   */
  private recordFlushed<T extends { flushedBy?: number }>(store: PageStore<T>, tag: number, page: number, values: T[], same: (a: T, b: T) => boolean): void {
    if (store.count >= FLUSHED_PAGES_MAX) store.clear();
    for (const v of values) v.flushedBy = this.flushRule;
    const older = store.get(tag, page);
    if (older === undefined) {
      store.set(tag, page, values);
      return;
    }
    const list = values.slice();
    for (const o of older) if (list.length < PER_PAGE_MAX && !list.some((v) => same(v, o))) list.push(o);
    store.set(tag, page, list);
  }
}
