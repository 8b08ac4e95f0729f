/**
 * The hv reference model's state: plain maps, no bit packing, readable next to pkvm-and-vtl.md.
 * Contract: every mutation goes through `Journal`, so a step can be undone when the runner
 * commits a different candidate (another cached-translation variant of an access), and an access
 * that ends in -ENOMEM rolls back to its first allocating exit.
 */

export type HostState = 'O' | 'SO' | 'SB' | 'NOPAGE';
export type GuestState = 'O' | 'SO' | 'SB';

/** A page a guest holds (pKVM's view of the guest stage 2). */
export interface Page {
  pfn: number;
  state: GuestState;
  /** rights granted: r, w, x as bits 1, 2, 4 */
  prot: number;
  /** first gfn of a 2 MiB share, or -1 */
  block: number;
  /** memslot whose fault shared it, or -1 */
  slot: number;
}

/** What a VTL's EPT view currently has at a gfn (alias gfns included): the hypervisor's lazy map. */
export interface Mapping {
  /** one 2 MiB leaf from this (block-aligned) gfn */
  huge: boolean;
  /** write-protected for dirty logging: the next write fixes it */
  wp: boolean;
  /** access-tracked: the next access fixes it */
  aged: boolean;
  /**
   * Write protection or aging met this leaf while its page was SPP-protected: EPT bit 61 was
   * parked in a software bit and comes back with W or A (KVM SPP series v5 7/9). An SPP check on
   * such a leaf applies rule kvm.spp.parked-bit-restored.
   */
  sppParked?: boolean;
}

export interface Slot { gfn: number; pfn: number; pages: number; flags: number }

export interface ModelVm {
  type: 'np' | 'protected';
  dying: boolean;
  pages: Map<number, Page>;
  slots: Map<number, Slot>;
  attrs: Map<number, number>;
  spp: boolean;
  vectors: Map<number, number>;
  /** 2 MiB regions (gfn >> 9) whose SPPT leaf table exists */
  sppRegions: Set<number>;
  /** VTL protections by the VTL that set them (they bind every VTL below it): gfn → rights */
  prot: Map<number, Map<number, number>>;
  /** per VTL: gfn (alias included) → mapping */
  views: Array<Map<number, Mapping>>;
  /** gfns whose page was force-reclaimed: POISON (pkvm-and-vtl.md §2.1 row 15) */
  poisoned: Set<number>;
  /** hv.memcache 'vm': per vCPU (logical processor index), the free pages of its memory cache, pushed in order (the last is taken first); replaced, never changed in place */
  cache: ReadonlyArray<readonly number[]>;
  /** hv.memcache 'vm': view-0 page tables that are pages of a vCPU's cache: table key → the page and the vCPU it came from */
  cacheTables: Map<number, { pfn: number; cpu: number }>;
  /** per VTL view: every page table below its root that exists, by key (level * 2^40 + index; alias gfns included) */
  tables: Array<Set<number>>;
  /** SPPT tables above the leaf tables (level 3 and 2, keyed as `tables`); the leaf tables are `sppRegions` */
  sppTables: Set<number>;
}

/** An undo log over Maps, Sets, objects and frames. */
export class Journal {
  private readonly undo: Array<() => void> = [];

  mapSet<K, V>(m: Map<K, V>, k: K, v: V): void {
    const had = m.has(k);
    const old = m.get(k);
    this.undo.push(() => { if (had) m.set(k, old as V); else m.delete(k); });
    m.set(k, v);
  }

  mapDelete<K, V>(m: Map<K, V>, k: K): void {
    if (!m.has(k)) return;
    const old = m.get(k) as V;
    this.undo.push(() => m.set(k, old));
    m.delete(k);
  }

  setAdd<T>(s: Set<T>, v: T): void {
    if (s.has(v)) return;
    this.undo.push(() => s.delete(v));
    s.add(v);
  }

  setDelete<T>(s: Set<T>, v: T): void {
    if (!s.has(v)) return;
    this.undo.push(() => s.add(v));
    s.delete(v);
  }

  field<T extends object, K extends keyof T>(o: T, k: K, v: T[K]): void {
    const old = o[k];
    this.undo.push(() => { o[k] = old; });
    o[k] = v;
  }

  /** Sets one byte of `a` (memory frames: a rollback to any mark restores exactly that moment). */
  byte(a: Uint8Array, i: number, v: number): void {
    const old = a[i];
    this.undo.push(() => { a[i] = old; });
    a[i] = v;
  }

  /** A position to roll back to. */
  mark(): number {
    return this.undo.length;
  }

  /** Undoes everything after `mark` (0: since the journal was created), newest first. */
  rollback(mark = 0): void {
    for (let i = this.undo.length - 1; i >= mark; i--) this.undo[i]();
    this.undo.length = mark;
  }
}
