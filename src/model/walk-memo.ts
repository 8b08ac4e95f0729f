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
 * Contract: `get` returns exactly what `compute(mem, root, pageGpa, mbec)` returns now. A
 * remembered walk keeps the entries it read (through the frames' records, so checking them costs
 * no lookup); it is used again only while every one of them still holds the same value (an
 * absent frame: while it is still absent), else it is walked anew. Checking entries, not frames,
 * keeps a walk valid when a neighbouring entry changes (an ept_set, an A/D bit set elsewhere). Walks through an access's own tentative writes (A/D bits not yet committed)
 * never come from here: callers check `reads` against their pending writes (access.ts
 * `eptPageWalk`).
 */
import type { Entry } from './entry.js';
import type { EntryReader, FrameRecord, SpecMemory } from './memory.js';

export interface Remembered<T> {
  /** The result for the page's first byte (callers add the offset in the page). */
  readonly value: T;
  /** HPAs of every entry the walk read, in order. */
  readonly reads: readonly number[];
  /**
   * Per entry read in RAM: its frame's record (undefined: the frame was absent, the entry 0),
   * and, flattened by three, the word index (the frame number if absent), low and high halves.
   */
  readonly records: readonly (FrameRecord | undefined)[];
  readonly entries: readonly number[];
}

/** Records the HPAs a walk reads. */
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

/** Bound on remembered pages per root; past it the root's walks are forgotten at once. */
const MAX_PAGES = 1 << 14;

export class PageWalkMemo<T> {
  /** Keyed by root * 2 + MBEC (the only context bit that varies within one model), then GPA page. */
  private readonly byRoot = new Map<number, Map<number, Remembered<T>>>();

  constructor(
    private readonly mem: SpecMemory,
    private readonly compute: (mem: EntryReader, root: number, pageGpa: number, mbec: boolean) => T,
  ) {}

  /** The walk of GPA page `gpaPage` from the table at `root`, over committed memory. */
  get(root: number, gpaPage: number, mbec: boolean): Remembered<T> {
    const key = root * 2 + (mbec ? 1 : 0);
    let pages = this.byRoot.get(key);
    if (pages === undefined) this.byRoot.set(key, (pages = new Map()));
    let m = pages.get(gpaPage);
    if (m === undefined || !this.unchanged(m)) {
      if (m === undefined && pages.size >= MAX_PAGES) pages.clear();
      m = this.walk(root, gpaPage, mbec);
      pages.set(gpaPage, m);
    }
    return m;
  }

  private walk(root: number, gpaPage: number, mbec: boolean): Remembered<T> {
    const reader = new RecordingReader(this.mem);
    const value = this.compute(reader, root, gpaPage * 4096, mbec);
    const records: (FrameRecord | undefined)[] = [];
    const entries: number[] = [];
    for (const hpa of reader.reads) {
      if (!this.mem.inRam(hpa)) continue; // all-ones, forever
      const frame = Math.floor(hpa / 4096);
      const r = this.mem.record(frame);
      records.push(r);
      if (r === undefined) entries.push(frame, 0, 0);
      else {
        const w = (hpa % 4096) >>> 2;
        entries.push(w, r.words[w], r.words[w + 1]);
      }
    }
    return { value, reads: reader.reads, records, entries };
  }

  /** Whether every entry the walk read still holds the value it read. */
  private unchanged(m: Remembered<T>): boolean {
    const e = m.entries;
    for (let i = 0; i < m.records.length; i++) {
      const r = m.records[i];
      if (r === undefined) {
        if (this.mem.record(e[3 * i]) !== undefined) return false;
      } else if (r.words[e[3 * i]] !== e[3 * i + 1] || r.words[e[3 * i] + 1] !== e[3 * i + 2]) return false;
    }
    return true;
  }
}
