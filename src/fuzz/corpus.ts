/**
 * The corpus: traces that reached new coverage, in memory and (optionally) in a directory of
 * content-addressed files `<sha256 of the msgpack bytes>.msgpack`.
 * Contract: loading reads every trace file (`*.msgpack`, `*.txt`, `*.json`, hand-written seeds
 * included) in name order, recursively (deterministic), skipping files that do not decode (they are
 * counted, not fatal); adding writes atomically and never duplicates a file. Entries are kept in
 * insertion order, at most CORPUS_ENTRIES_MAX in memory (oldest evicted, files stay).
 * Seed scheduling (`CorpusPool.pick`, the engines' mirror of the corpus): a rare-feature power
 * schedule. Each entry comes with every coverage feature its trace reaches (reported by the run
 * that found it, or got by running the trace once: a pure function of the trace); an entry's weight is RARITY_FLOOR plus, over its features, the sum of 1 / (entries in
 * the pool holding that feature), so an entry holding a feature few others hold is picked more
 * often, and one holding only what everyone holds is picked least. Weights are a pure function of
 * the pool's entries (the set, in insertion order for the cumulative sums), recomputed once after
 * each change and read by a binary search per pick: the engines of every worker and every hub
 * machine, fed the same entries in the same order, pick exactly the same entries for the same rng.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeMsgpack } from '../trace/msgpack.js';
import { loadTrace } from '../trace/load.js';
import type { Trace } from '../trace/trace.js';
import type { Rng } from '../gen/rng.js';
import { writeFileAtomic } from './atomic.js';

export interface CorpusEntry {
  hash: string;
  trace: Trace;
  /**
   * Every coverage feature the trace reaches, ascending, when the run that found it reported them
   * (a local campaign's syncs); absent elsewhere (loaded seeds, hub records): engines then run the
   * trace for them. A pure function of the trace either way.
   */
  features?: readonly number[];
}

/** In-memory entries kept: bounds memory in overnight campaigns (oldest evicted first, files stay). */
export const CORPUS_ENTRIES_MAX = 10_000;
/**
 * Weight every entry has besides its features' rarity: an entry with no known features (an
 * external target's engine, a trace that could not be run) stays pickable, and an entry holding
 * only very common features is not starved entirely.
 */
export const RARITY_FLOOR = 0.05;

export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The canonical bytes and content address of a trace. */
export function addressOf(trace: Trace): { hash: string; bytes: Uint8Array } {
  const bytes = encodeMsgpack(trace);
  return { hash: contentHash(bytes), bytes };
}

export const TRACE_EXTENSIONS: readonly string[] = ['.msgpack', '.txt', '.json'];

/** Trace files under `dir`, recursively, in sorted path order; hidden and temporary names skipped. */
export function traceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (fs.statSync(p).isDirectory()) out.push(...traceFiles(p));
    else if (TRACE_EXTENSIONS.some((e) => name.endsWith(e))) out.push(p);
  }
  return out;
}

/**
 * Entries in insertion order with the in-memory cap, each with its feature set; what the engine
 * mutates from, picked by the rare-feature schedule (module comment).
 */
export class CorpusPool {
  readonly entries: CorpusEntry[] = [];
  /** The features of entries[i], ascending, without duplicates. */
  private readonly featureSets: Array<readonly number[]> = [];
  /** Entries holding each feature (features no entry holds are deleted). */
  private readonly holders = new Map<number, number>();
  /** cumulative[i]: the weights of entries 0..i summed in order (valid when !dirty). */
  private cumulative = new Float64Array(64);
  private dirty = true;

  /** Adds an entry with the features its trace reaches (any order; duplicates ignored). */
  push(entry: CorpusEntry, features: readonly number[] = []): void {
    const set = [...new Set(features)].sort((a, b) => a - b);
    this.entries.push(entry);
    this.featureSets.push(set);
    for (const f of set) this.holders.set(f, (this.holders.get(f) ?? 0) + 1);
    if (this.entries.length > CORPUS_ENTRIES_MAX) {
      this.entries.shift();
      for (const f of this.featureSets.shift() ?? []) {
        const n = (this.holders.get(f) ?? 1) - 1;
        if (n === 0) this.holders.delete(f);
        else this.holders.set(f, n);
      }
    }
    this.dirty = true;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Entry i's weight: RARITY_FLOOR plus the sum of 1 / holders over its features. */
  weight(i: number): number {
    let w = RARITY_FLOOR;
    for (const f of this.featureSets[i]) w += 1 / (this.holders.get(f) ?? 1);
    return w;
  }

  private reweigh(): void {
    const n = this.entries.length;
    if (this.cumulative.length < n) this.cumulative = new Float64Array(Math.max(n, this.cumulative.length * 2));
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += this.weight(i);
      this.cumulative[i] = sum;
    }
    this.dirty = false;
  }

  /** A pick by weight: one rng draw, a binary search over the cumulative weights. */
  pick(rng: Rng): CorpusEntry {
    if (this.dirty) this.reweigh();
    const n = this.entries.length;
    const x = rng.float() * this.cumulative[n - 1];
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return this.entries[lo];
  }
}

export class Corpus {
  private readonly pool = new CorpusPool();
  private readonly hashes = new Set<string>();
  /** Files that failed to decode at load time. */
  skipped = 0;
  /** Traces the load's filter left out (e.g. hv-mode traces in a bare-mode campaign). */
  ignored = 0;
  /** The files of skipped entries, with the reason (first line). */
  readonly skippedFiles: Array<{ file: string; reason: string }> = [];

  constructor(readonly dir: string | null) {}

  get entries(): readonly CorpusEntry[] {
    return this.pool.entries;
  }

  /** Loads `dir`'s seed traces (none if the directory does not exist) that `accept` takes. */
  load(accept: (trace: Trace) => boolean = () => true): number {
    if (this.dir === null || !fs.existsSync(this.dir)) return 0;
    let loaded = 0;
    for (const file of traceFiles(this.dir)) {
      try {
        const trace = loadTrace(file);
        if (!accept(trace)) { this.ignored++; continue; }
        if (this.remember(addressOf(trace).hash, trace)) loaded++;
      } catch (e) {
        this.skipped++;
        this.skippedFiles.push({ file, reason: (e instanceof Error ? e.message : String(e)).split('\n')[0] });
      }
    }
    return loaded;
  }

  private remember(hash: string, trace: Trace): boolean {
    if (this.hashes.has(hash)) return false;
    this.hashes.add(hash);
    this.pool.push({ hash, trace });
    return true;
  }

  has(hash: string): boolean {
    return this.hashes.has(hash);
  }

  /** Adds a trace; returns its entry, or null if it was already there. */
  add(trace: Trace): CorpusEntry | null {
    const { hash, bytes } = addressOf(trace);
    if (!this.remember(hash, trace)) return null;
    if (this.dir !== null) {
      const file = path.join(this.dir, `${hash}.msgpack`);
      // Not fsynced: an entry lost to a power cut is found again; a stall per entry is not worth it.
      if (!fs.existsSync(file)) writeFileAtomic(file, bytes, { durable: false });
    }
    return { hash, trace };
  }

  get size(): number {
    return this.pool.size;
  }
}
