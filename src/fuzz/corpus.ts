/**
 * The corpus: traces that reached new coverage, in memory and (optionally) in a directory of
 * content-addressed files `<sha256 of the msgpack bytes>.msgpack`.
 * Contract: loading reads every trace file (`*.msgpack`, `*.txt`, `*.json`, hand-written seeds
 * included) in name order, recursively (deterministic), skipping files that do not decode (they are
 * counted, not fatal); adding writes atomically and never duplicates a
 * file. Entries are kept in insertion order; `pick` is deterministic in the rng.
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

export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const TRACE_EXTENSIONS = ['.msgpack', '.txt', '.json'];

/** Trace files under `dir`, recursively, in sorted path order; hidden and temporary names skipped. */
function traceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (fs.statSync(p).isDirectory()) out.push(...traceFiles(p));
    else if (TRACE_EXTENSIONS.some((e) => name.endsWith(e))) out.push(p);
  }
  return out;
}

export class Corpus {
  readonly entries: CorpusEntry[] = [];
  private readonly hashes = new Set<string>();
  /** Files that failed to decode at load time. */
  skipped = 0;

  constructor(readonly dir: string | null) {}

  /** Loads `dir`'s seed traces (none if the directory does not exist). */
  load(): number {
    if (this.dir === null || !fs.existsSync(this.dir)) return 0;
    let loaded = 0;
    for (const file of traceFiles(this.dir)) {
      try {
        const trace = loadTrace(file);
        if (this.remember(contentHash(encodeMsgpack(trace)), trace)) loaded++;
      } catch {
        this.skipped++;
      }
    }
    return loaded;
  }

  private remember(hash: string, trace: Trace): boolean {
    if (this.hashes.has(hash)) return false;
    this.hashes.add(hash);
    this.entries.push({ hash, trace });
    if (this.entries.length > CORPUS_ENTRIES_MAX) this.entries.shift();
    return true;
  }

  /** Adds a trace; returns its hash, or null if it was already there. */
  add(trace: Trace): string | null {
    const bytes = encodeMsgpack(trace);
    const hash = contentHash(bytes);
    if (!this.remember(hash, trace)) return null;
    if (this.dir !== null) {
      const file = path.join(this.dir, `${hash}.msgpack`);
      if (!fs.existsSync(file)) writeFileAtomic(file, bytes);
    }
    return hash;
  }

  get size(): number {
    return this.entries.length;
  }

  pick(rng: Rng): CorpusEntry {
    // Favour recent entries (they carry the newest coverage) half of the time.
    const n = this.entries.length;
    const i = rng.chance(0.5) ? n - 1 - rng.int(Math.min(n, 16)) : rng.int(n);
    return this.entries[i];
  }
}
