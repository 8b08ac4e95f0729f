/**
 * EPT walks of committed memory, remembered until memory they read changes. A speed device only:
 * `eptWalk` (ept.ts) is a pure function of the entries it reads and of the EPT context, so the
 * result for (EPT root, MBEC, GPA page) stays exact while none of those entries is written.
 *
 * Why it pays: one guest access walks EPT for every guest table GPA, again for each guest A/D
 * update, and for the final GPA; exploring stale alternatives (explore.ts) replays the whole
 * access once per branch, often tens of times. All of those walks read the same committed
 * entries. Contract: `walk` returns exactly what `eptWalk(mem, root, pageGpa, ctx)` returns now.
 * Invalidation is coarse and simple: SpecMemory bumps its `generation` at the first write to any
 * frame a remembered walk read (absent frames included), and then everything is forgotten.
 * Walks through an access's own tentative writes (A/D bits not yet committed) never come from
 * here: callers check `reads` against their pending writes (access.ts `eptPageWalk`).
 */
import type { Entry } from './entry.js';
import { type EptContext, type EptWalk, type QwordReader, eptWalk } from './ept.js';
import type { SpecMemory } from './memory.js';

export interface MemoWalk {
  /** The walk of the page's first byte (leaf `hpa` is the page's; add the offset in the page). */
  walk: EptWalk;
  /** HPAs of every entry the walk read, in order. */
  reads: readonly number[];
}

/** Records the HPAs a walk reads, so the memo knows which frames to watch. */
class RecordingReader implements QwordReader {
  reads: number[] = [];
  constructor(private readonly mem: SpecMemory) {}
  readEntry(hpa: number): Entry {
    this.reads.push(hpa);
    return this.mem.readEntry(hpa);
  }
}

export class EptWalkMemo {
  /** Keyed by root * 2 + MBEC (the only context field that varies within one model), then GPA page. */
  private readonly byRoot = new Map<number, Map<number, MemoWalk>>();
  private generation: number;

  constructor(private readonly mem: SpecMemory) {
    this.generation = mem.generation;
  }

  /** The committed-memory EPT walk of GPA page `gpaPage` from the table at `root`. */
  walk(root: number, gpaPage: number, ctx: EptContext): MemoWalk {
    if (this.mem.generation !== this.generation) {
      this.byRoot.clear();
      this.generation = this.mem.generation;
    }
    const key = root * 2 + (ctx.mbec ? 1 : 0);
    let pages = this.byRoot.get(key);
    if (pages === undefined) this.byRoot.set(key, (pages = new Map()));
    let m = pages.get(gpaPage);
    if (m === undefined) {
      const reader = new RecordingReader(this.mem);
      m = { walk: eptWalk(reader, root, gpaPage * 4096, ctx), reads: reader.reads };
      for (const hpa of reader.reads) if (this.mem.inRam(hpa)) this.mem.watch(Math.floor(hpa / 4096));
      pages.set(gpaPage, m);
    }
    return m;
  }
}
