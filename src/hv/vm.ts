/**
 * A guest VM as the hypervisor keeps it: per-VTL EPT views, the pKVM page records of the pages it
 * has been given, memslots, memory attributes, SPP vectors and VTL protections.
 * Contract: plain bookkeeping; the pKVM page state of a guest page lives in its view-0 EPT leaf
 * (bits 57:56) and is mirrored in `pages` (the invariant pkvm.state-coherence compares them).
 */
import type { EptTables } from './ept-tables.js';

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
  readonly pages = new Map<number, PageRec>();
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
  /** VTL protections: index target * 16 + setter → (gfn → R/W/X mask). */
  readonly vtlProt: Array<Map<number, number> | undefined> = [];

  constructor(id: number, type: 'np' | 'protected', views: EptTables[]) {
    this.id = id;
    this.type = type;
    this.views = views;
  }

  slotOf(gfn: number): Memslot | null {
    for (const s of this.slots.values()) if (gfn >= s.gfn && gfn < s.gfn + s.pages) return s;
    return null;
  }

  protMap(target: number, setter: number, create: boolean): Map<number, number> | undefined {
    const i = target * 16 + setter;
    let m = this.vtlProt[i];
    if (m === undefined && create) {
      m = new Map();
      this.vtlProt[i] = m;
    }
    return m;
  }
}
