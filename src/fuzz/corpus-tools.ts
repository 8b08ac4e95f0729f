/**
 * Corpus maintenance behind `eptfuzz corpus add|list|merge|minimize`: scanning a directory (each
 * trace's content address, size, origin and coverage features), adding checked traces, merging
 * directories by content address, and choosing a subset with the same coverage.
 * Contract: everything is keyed by the sha256 of a trace's canonical msgpack bytes, so the same
 * trace in any form (text, JSON, msgpack) is one entry, merges are idempotent and their result
 * does not depend on the order of the inputs' files; new files are written atomically as
 * `<hash>.msgpack`. Scans run every trace with all checks (the runner picks the mode's pair from
 * the given target), in sorted path order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkedSignature } from '../check/check-trace.js';
import { runWith, type Target } from '../check/runner.js';
import { loadTrace } from '../trace/load.js';
import type { Signature, Trace } from '../trace/trace.js';
import { writeFileAtomic } from './atomic.js';
import { addressOf, traceFiles } from './corpus.js';
import { FeatureSet } from './coverage.js';

export interface ScannedEntry {
  /** The file naming this trace: the first in sorted order, a text or JSON form before msgpack. */
  file: string;
  /** Other files with the same content (other forms, copies). */
  duplicates: string[];
  hash: string;
  trace: Trace;
  ops: number;
  /** Size of the file on disk. */
  bytes: number;
  /** `hand-written` (no provenance), or the generator stream and the parent it was mutated from. */
  origin: string;
  /** Coverage features the trace reaches (hv-mode traces included: src/fuzz/coverage.ts). */
  features: ReadonlySet<number>;
  /** The first violation, when the trace fails (a corpus entry should not). */
  failure: { signature: Signature; step: number } | null;
}

export interface Scan {
  entries: ScannedEntry[];
  unreadable: Array<{ file: string; reason: string }>;
}

export function originOf(trace: Trace): string {
  const p = trace.provenance;
  if (p === undefined) return 'hand-written';
  const parent = p.options.parent;
  return typeof parent === 'string' ? `seed ${p.seed} (mutated from ${parent.slice(0, 16)})` : `seed ${p.seed}`;
}

/** The coverage features of a trace and its first violation (either mode). */
export function measure(trace: Trace, target: Target): { features: Set<number>; failure: ScannedEntry['failure'] } {
  const set = new FeatureSet();
  const r = runWith(trace, target, { observer: set, stopAtFirst: true });
  return { features: set.features, failure: r.first === null ? null : { signature: checkedSignature(r.first), step: r.first.step } };
}

/** Called after each file with the files done and the total (progress display). */
export type OnProgress = (done: number, total: number) => void;

/** Every trace file under `dir`, deduplicated by content; `measureWith` null skips running them. */
export function scanCorpus(dir: string, measureWith: Target | null, onProgress?: OnProgress): Scan {
  const entries: ScannedEntry[] = [];
  const byHash = new Map<string, ScannedEntry>();
  const unreadable: Scan['unreadable'] = [];
  const files = fs.existsSync(dir) ? traceFiles(dir) : [];
  for (const [i, file] of files.entries()) {
    onProgress?.(i, files.length);
    let trace: Trace;
    try {
      trace = loadTrace(file);
    } catch (e) {
      unreadable.push({ file, reason: (e instanceof Error ? e.message : String(e)).split('\n')[0] });
      continue;
    }
    const { hash } = addressOf(trace);
    const known = byHash.get(hash);
    if (known !== undefined) {
      // A hand-written form (text, JSON) names the entry rather than its msgpack copy.
      if (known.file.endsWith('.msgpack') && !file.endsWith('.msgpack')) {
        known.duplicates.push(known.file);
        known.file = file;
        known.bytes = fs.statSync(file).size;
      } else {
        known.duplicates.push(file);
      }
      continue;
    }
    const m = measureWith === null ? { features: new Set<number>(), failure: null } : measure(trace, measureWith);
    const entry: ScannedEntry = {
      file, duplicates: [], hash, trace, ops: trace.ops.length, bytes: fs.statSync(file).size,
      origin: originOf(trace), features: m.features, failure: m.failure,
    };
    byHash.set(hash, entry);
    entries.push(entry);
  }
  onProgress?.(files.length, files.length);
  return { entries, unreadable };
}

/** For each entry, how many of its features no other entry reaches. */
export function uniqueFeatureCounts(entries: readonly ScannedEntry[]): number[] {
  const owners = new Map<number, number>();
  for (const e of entries) for (const f of e.features) owners.set(f, (owners.get(f) ?? 0) + 1);
  return entries.map((e) => {
    let n = 0;
    for (const f of e.features) if (owners.get(f) === 1) n++;
    return n;
  });
}

/** Writes `trace` as `<dir>/<hash>.msgpack` unless that content is already there; returns the hash and whether it was new. */
export function addToCorpus(dir: string, trace: Trace, known?: ReadonlySet<string>): { hash: string; added: boolean; file: string } {
  const { hash, bytes } = addressOf(trace);
  const file = path.join(dir, `${hash}.msgpack`);
  if (known?.has(hash) === true || fs.existsSync(file)) return { hash, added: false, file };
  writeFileAtomic(file, bytes);
  return { hash, added: true, file };
}

export interface MergeResult {
  added: number;
  present: number;
  unreadable: Array<{ file: string; reason: string }>;
}

/** Copies every trace of `sources` into `dest` by content address (idempotent). */
export function mergeCorpora(dest: string, sources: readonly string[], onProgress?: OnProgress): MergeResult {
  fs.mkdirSync(dest, { recursive: true });
  const have = new Set(scanCorpus(dest, null).entries.map((e) => e.hash));
  const out: MergeResult = { added: 0, present: 0, unreadable: [] };
  // Progress over every source file (read and, when new, written).
  const total = sources.reduce((n, src) => n + (fs.existsSync(src) ? traceFiles(src).length : 0), 0);
  let before = 0;
  for (const src of sources) {
    const base = before;
    const scan = scanCorpus(src, null, onProgress === undefined ? undefined : (done) => onProgress(base + done, total));
    before += scan.entries.length + scan.unreadable.length + scan.entries.reduce((n, e) => n + e.duplicates.length, 0);
    out.unreadable.push(...scan.unreadable);
    for (const e of scan.entries) {
      if (have.has(e.hash)) { out.present++; continue; }
      addToCorpus(dest, e.trace);
      have.add(e.hash);
      out.added++;
    }
  }
  return out;
}

/**
 * A subset of `entries` reaching every feature any of them reaches (greedy set cover: the entry
 * adding most uncovered features first; ties to fewer ops, then the smaller hash, so the choice
 * is deterministic). `keep` entries are taken first whatever they add.
 */
export function coveringSubset(entries: readonly ScannedEntry[], keep: (e: ScannedEntry) => boolean = () => false): ScannedEntry[] {
  const covered = new Set<number>();
  const chosen: ScannedEntry[] = [];
  const rest: ScannedEntry[] = [];
  for (const e of entries) {
    if (keep(e)) {
      chosen.push(e);
      for (const f of e.features) covered.add(f);
    } else {
      rest.push(e);
    }
  }
  for (;;) {
    let best: ScannedEntry | null = null;
    let bestGain = 0;
    for (const e of rest) {
      let gain = 0;
      for (const f of e.features) if (!covered.has(f)) gain++;
      if (gain === 0) continue;
      if (best === null || gain > bestGain || (gain === bestGain && (e.ops < best.ops || (e.ops === best.ops && e.hash < best.hash)))) {
        best = e;
        bestGain = gain;
      }
    }
    if (best === null) break;
    chosen.push(best);
    for (const f of best.features) covered.add(f);
    rest.splice(rest.indexOf(best), 1);
  }
  return chosen;
}

/** The union of the entries' features. */
export function featureUnion(entries: readonly ScannedEntry[]): Set<number> {
  const all = new Set<number>();
  for (const e of entries) for (const f of e.features) all.add(f);
  return all;
}
