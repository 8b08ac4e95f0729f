/**
 * A guest VM as the hypervisor keeps it: per-VTL EPT views, the pKVM page records of the pages it
 * has been given, memslots, memory attributes, SPP vectors and VTL protections.
 * Contract: plain bookkeeping; the pKVM page state of a guest page lives in its view-0 EPT leaf
 * (bits 57:56) and is mirrored in `pages` (the invariant pkvm.state-coherence compares them).
 */
import type { EptTables } from './ept-tables.js';
import type { VmCache } from './memcache.js';

export interface PageRec {
  pfn: number;
  /** PS_OWNED / PS_SHARED_OWNED (protected VM) or PS_SHARED_BORROWED (np VM). */
  state: number;
  /** EPT rights granted by the share or donation (R 1, W 2, X 4). */
  prot: number;
  /** First gfn of the 2 MiB block shared as one (nr = 512), else -1. */
  block: number;
  /** Memslot whose fault shared the page (memslot delete/move unshares it), else -1. */
  fromSlot: number;
}

/**
 * Small per-gfn values (0..32767: VTL protection rights, packed page facts) in 2 MiB regions of 512 entries: a VSM boot
 * sets 10^5 of them one page at a time, so a lookup is one small-map probe (remembered for the
 * region last used) and an array read, and a store allocates only for a new region.
 * The Map-like surface (get, has, set, delete, size, keys) is what callers use.
 */
export class GfnRights {
  private readonly regions = new Map<number, Int16Array>();
  private count = 0;
  /** Direct-mapped cache of regions (they are never removed, so it needs no invalidation). */
  private readonly cacheKey = new Float64Array(64).fill(-1);
  private readonly cacheArr: Array<Int16Array | undefined> = new Array<Int16Array | undefined>(64).fill(undefined);

  private region(gfn: number, create: boolean): Int16Array | undefined {
    const r = Math.floor(gfn / 512);
    const slot = r & 63;
    if (this.cacheKey[slot] === r) return this.cacheArr[slot];
    let a = this.regions.get(r);
    if (a === undefined && create) {
      a = new Int16Array(512).fill(-1);
      this.regions.set(r, a);
    }
    if (a !== undefined) {
      this.cacheKey[slot] = r;
      this.cacheArr[slot] = a;
    }
    return a;
  }

  get size(): number {
    return this.count;
  }

  get(gfn: number): number | undefined {
    const a = this.region(gfn, false);
    if (a === undefined) return undefined;
    const v = a[gfn % 512];
    return v < 0 ? undefined : v;
  }

  has(gfn: number): boolean {
    return this.get(gfn) !== undefined;
  }

  set(gfn: number, value: number): this {
    const a = this.region(gfn, true)!;
    if (a[gfn % 512] < 0) this.count++;
    a[gfn % 512] = value;
    return this;
  }

  delete(gfn: number): boolean {
    const a = this.region(gfn, false);
    if (a === undefined || a[gfn % 512] < 0) return false;
    a[gfn % 512] = -1;
    this.count--;
    return true;
  }

  /** Gfns with a value, ascending. */
  keys(): number[] {
    const out: number[] = [];
    for (const r of [...this.regions.keys()].sort((x, y) => x - y)) {
      const a = this.regions.get(r)!;
      for (let i = 0; i < 512; i++) if (a[i] >= 0) out.push(r * 512 + i);
    }
    return out;
  }
}

/**
 * The page records of a VM (gfn → record), with a compact copy of the two facts the VSM hot path
 * needs (granted rights and memslot) kept in step by `set` and `delete`, so recomputing a leaf
 * reads two small arrays instead of a large map and a scattered record. Records' `prot` and
 * `fromSlot` never change in place (only `state` does, and the leaf carries the state), nor does
 * `pfn`, so a reverse index (host page → gfns) stays exact too.
 */
export class PageMap extends Map<number, PageRec> {
  private readonly facts = new GfnRights();
  /** Gfns whose record maps each host page, in the order they got it (the invariants' hot lookup). */
  private readonly byPfn = new Map<number, number[]>();

  override set(gfn: number, rec: PageRec): this {
    // `facts` and `byPfn` are absent while Map's constructor runs (it may call set); the map starts empty.
    const old = this.byPfn === undefined ? undefined : super.get(gfn);
    super.set(gfn, rec);
    this.facts?.set(gfn, rec.prot | ((rec.fromSlot + 1) << 3));
    if (this.byPfn !== undefined && old?.pfn !== rec.pfn) {
      if (old !== undefined) this.unindex(gfn, old.pfn);
      const list = this.byPfn.get(rec.pfn);
      if (list === undefined) this.byPfn.set(rec.pfn, [gfn]);
      else list.push(gfn);
    }
    return this;
  }

  override delete(gfn: number): boolean {
    const old = super.get(gfn);
    if (old !== undefined) this.unindex(gfn, old.pfn);
    this.facts.delete(gfn);
    return super.delete(gfn);
  }

  override clear(): void {
    for (const g of this.keys()) this.facts.delete(g);
    this.byPfn.clear();
    super.clear();
  }

  /** The record's granted rights | (fromSlot + 1) << 3, or -1 when gfn has no record. */
  factsOf(gfn: number): number {
    return this.facts.get(gfn) ?? -1;
  }

  /** Gfns whose record maps host page `pfn` (records' pfn never changes in place). */
  gfnsOf(pfn: number): readonly number[] {
    return this.byPfn.get(pfn) ?? NO_GFNS;
  }

  private unindex(gfn: number, pfn: number): void {
    const list = this.byPfn.get(pfn);
    if (list === undefined) return;
    const i = list.indexOf(gfn);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPfn.delete(pfn);
  }
}

const NO_GFNS: readonly number[] = Object.freeze([]);

export interface Memslot {
  slot: number;
  gfn: number;
  pfn: number;
  pages: number;
  flags: number;
}

export class Vm {
  readonly id: number;
  readonly type: 'np' | 'protected';
  dying = false;
  /** EPT per VTL; view 0 holds the pKVM state of every page in `pages`. */
  readonly views: EptTables[];
  readonly pages = new PageMap();
  readonly slots = new Map<number, Memslot>();
  /** Memory attributes per gfn (absent = 0). */
  readonly attrs = new Map<number, number>();
  sppEnabled = false;
  /** SPPT root (host frame) once SPP is enabled, else -1. */
  spptRoot = -1;
  /** SPPT table frames (root included), for teardown. */
  readonly spptFrames = new Set<number>();
  /** SPP access maps per gfn (absent = all writable). */
  readonly sppVectors = new Map<number, number>();
  /** Gfns whose page was force-reclaimed (§2.1 row 15: the guest PTE became a POISONED annotation). */
  readonly poisoned = new Set<number>();
  /** VTL protections: index = the VTL that set them (they bind every lower VTL) → (gfn → rights mask). */
  readonly vtlProt: Array<GfnRights | undefined> = [];

  /** The VM's memory cache (hv.memcache 'vm'; always empty under 'pool'). */
  readonly cache: VmCache;

  constructor(id: number, type: 'np' | 'protected', views: EptTables[], cache: VmCache) {
    this.id = id;
    this.type = type;
    this.views = views;
    this.cache = cache;
    for (const t of views) t.cache = cache;
  }

  slotOf(gfn: number): Memslot | null {
    const last = this.lastSlot;
    if (last !== null && gfn >= last.gfn && gfn < last.gfn + last.pages && this.slots.get(last.slot) === last) return last;
    for (const s of this.slots.values()) {
      if (gfn >= s.gfn && gfn < s.gfn + s.pages) {
        this.lastSlot = s;
        return s;
      }
    }
    return null;
  }

  /** The memslot `slotOf` found last (checked against `slots` before it is trusted). */
  private lastSlot: Memslot | null = null;

  /** The protections VTL `setter` set for the VTLs below it. */
  protMap(setter: number, create: boolean): GfnRights | undefined {
    let m = this.vtlProt[setter];
    if (m === undefined && create) {
      m = new GfnRights();
      this.vtlProt[setter] = m;
    }
    return m;
  }
}
