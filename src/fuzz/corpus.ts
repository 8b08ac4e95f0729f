/**
 * The corpus: traces that reached new coverage, in memory and (optionally) in a directory of
 * content-addressed files `<sha256 of the msgpack bytes>.msgpack`.
 * Contract: loading reads every trace file (`*.msgpack`, `*.txt`, `*.json`, hand-written seeds
 * included) in name order, recursively (deterministic), skipping files that do not decode (they are
 * counted, not fatal); adding writes atomically and never duplicates a file. Entries are kept in
 * insertion order, at most CORPUS_ENTRIES_MAX in memory (oldest evicted, files stay); `pickEntry`
 * is deterministic in the rng, so a worker's mirror (`CorpusPool`) fed the same entries in the same
 * order picks exactly what the main thread's corpus would.
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
}

/** In-memory entries kept: bounds memory in overnight campaigns (oldest evicted first, files stay). */
export const CORPUS_ENTRIES_MAX = 10_000;
/** Half of the picks come from the newest entries (they carry the newest coverage). */
const RECENT_PICKS = 16;

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

/** A deterministic pick: half of the time among the newest entries, else uniform. */
export function pickEntry(entries: readonly CorpusEntry[], rng: Rng): CorpusEntry {
  const n = entries.length;
  const i = rng.chance(0.5) ? n - 1 - rng.int(Math.min(n, RECENT_PICKS)) : rng.int(n);
  return entries[i];
}

/** Entries in insertion order with the in-memory cap; what the engine mutates from. */
export class CorpusPool {
  readonly entries: CorpusEntry[] = [];

  push(entry: CorpusEntry): void {
    this.entries.push(entry);
    if (this.entries.length > CORPUS_ENTRIES_MAX) this.entries.shift();
  }

  get size(): number {
    return this.entries.length;
  }

  pick(rng: Rng): CorpusEntry {
    return pickEntry(this.entries, rng);
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

  pick(rng: Rng): CorpusEntry {
    return this.pool.pick(rng);
  }
}
