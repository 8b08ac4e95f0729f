/**
 * EPT walks of committed memory, remembered until memory changes under them. A speed device
 * only: a walk (ept.ts `eptWalk`, path-ops.ts `eptDebugTranslate`) is a pure function of the
 * entries it reads and of the EPT context, so its result for (EPT root, MBEC, GPA page) stays
 * exact while none of those entries is written.
 *
 * Why it pays: one guest access walks EPT for every guest table GPA, again for each guest A/D
 * update, and for the final GPA; exploring stale alternatives (explore.ts) replays the whole
 * access once per branch; a `gpt_set` walks EPT for every guest table level. All of those read
 * the same committed entries, and so do the next ops until the EPT changes.
 *
 * Contract: `get` returns exactly what `compute(mem, root, pageGpa, mbec)` returns now.
 * Invalidation is coarse and simple: every remembered walk watches the frames it read (absent
 * frames too: a first write creates them); SpecMemory bumps its `generation` at the first write
 * to any watched frame, and then everything is forgotten. (Forgetting only the walks through the
 * written frame misses less but keeps more objects alive, and measured slower: garbage
 * collection.) Walks through an access's own tentative writes (A/D bits not yet committed) never
 * come from here: callers check `reads` against their pending writes (access.ts `eptPageWalk`).
 */
import type { Entry } from './entry.js';
import type { EntryReader, SpecMemory } from './memory.js';

export interface Remembered<T> {
  /** The result for the page's first byte (callers add the offset in the page). */
  readonly value: T;
  /** HPAs of every entry the walk read, in order. */
  readonly reads: readonly number[];
}

/** Records the HPAs a walk reads, so the memo knows which frames to watch. */
class RecordingReader implements EntryReader {
  readonly reads: number[] = [];
  constructor(private readonly mem: SpecMemory) {}
  inRam(hpa: number): boolean {
    return this.mem.inRam(hpa);
  }
  readEntry(hpa: number): Entry {
    this.reads.push(hpa);
    return this.mem.readEntry(hpa);
  }
}

export class PageWalkMemo<T> {
  /** Keyed by root * 2 + MBEC (the only context bit that varies within one model), then GPA page. */
  private readonly byRoot = new Map<number, Map<number, Remembered<T>>>();
  private generation: number;

  constructor(
    private readonly mem: SpecMemory,
    private readonly compute: (mem: EntryReader, root: number, pageGpa: number, mbec: boolean) => T,
  ) {
    this.generation = mem.generation;
  }

  /** The walk of GPA page `gpaPage` from the table at `root`, over committed memory. */
  get(root: number, gpaPage: number, mbec: boolean): Remembered<T> {
    if (this.mem.generation !== this.generation) {
      this.byRoot.clear();
      this.generation = this.mem.generation;
    }
    const key = root * 2 + (mbec ? 1 : 0);
    let pages = this.byRoot.get(key);
    if (pages === undefined) this.byRoot.set(key, (pages = new Map()));
    let m = pages.get(gpaPage);
    if (m === undefined) {
      const reader = new RecordingReader(this.mem);
      m = { value: this.compute(reader, root, gpaPage * 4096, mbec), reads: reader.reads };
      for (const hpa of reader.reads) if (this.mem.inRam(hpa)) this.mem.watch(Math.floor(hpa / 4096));
      pages.set(gpaPage, m);
    }
    return m;
  }
}
