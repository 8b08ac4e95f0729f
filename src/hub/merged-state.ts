/**
 * The campaign as merged so far: the fold of its merge records, block after block, and the merge
 * of the next block's result into a new record.
 * Contract: `mergeNext` makes the same decisions a local campaign's merge of that batch makes
 * (src/fuzz/campaign.ts `merge` and `onFailure`), in run order: coverage first, then a failing
 * run is a crash (first hit of its signature: kept and queued for minimization; later hits
 * counted, their traces kept while fewer than ORIGINALS_MAX are), else a run that added coverage
 * joins the corpus (content-addressed, never twice). Everything depends only on the records before
 * and the block's reports, never on which machine ran or merged what, or when: the first hit of
 * a signature is the one with the lowest run index, whoever found it first in time.
 * `syncThrough(a, b)` is what an engine must learn from records a..b-1 (protocol.ts Sync). A
 * campaign with a seed corpus starts from it (`seed`): its features are coverage and its traces
 * corpus before record 0, as a local campaign's are before batch 0; a new engine learns them
 * first (`initThrough`), once.
 */
import { INVARIANTS, signatureHash } from '../check/violation.js';
import { fileUnder } from '../fuzz/file-under.js';
import { Coverage, FEATURE_SPACE } from '../fuzz/coverage.js';
import { addressOf, type CorpusEntry } from '../fuzz/corpus.js';
import { HARNESS_FAULT_NOTE, ORIGINALS_MAX } from '../fuzz/crash-store.js';
import { WORKER_FAULT, type Sync } from '../fuzz/protocol.js';
import type { BlockResult, CrashEvent, MergeRecord, SeedCorpus } from './hub-messages.js';

/** The note of a signature that is never minimized (same words as a local campaign's). */
export function unminimizableNote(invariant: string): string | null {
  if (invariant === INVARIANTS.nondeterminism) return 'not minimized: the trace does not give the same outcomes twice';
  if (invariant === WORKER_FAULT) return HARNESS_FAULT_NOTE;
  return null;
}

export interface CrashTally {
  hash: string;
  count: number;
  firstRun: number;
  /** Originals kept (first hits included), at most ORIGINALS_MAX. */
  kept: number;
  note: string | null;
}

export class MergedState {
  /** Blocks merged: records 0..blocks-1 are folded in. */
  blocks = 0;
  readonly records: MergeRecord[] = [];
  private readonly coverage = new Coverage();
  private readonly corpusHashes = new Set<string>();
  readonly crashes = new Map<string, CrashTally>();
  runs = 0;
  ops = 0;
  hits = 0;
  corpus = 0;

  get coverageCount(): number {
    return this.coverage.count;
  }

  /** The campaign's seed corpus (hub-seeds.ts): what every engine starts from, before record 0. */
  private seeds: SeedCorpus = { entries: [], features: [] };

  /** Starts from the campaign's seed corpus (before any record is folded in). */
  seed(seeds: SeedCorpus): void {
    if (this.blocks !== 0) throw new Error('the seed corpus is applied before the merge records');
    this.seeds = seeds;
    this.coverage.merge(seeds.features);
    for (const e of seeds.entries) this.corpusHashes.add(e.hash);
    this.corpus += seeds.entries.length;
  }

  get seedEntries(): readonly CorpusEntry[] {
    return this.seeds.entries;
  }

  /** Folds the record of block `blocks` in. */
  apply(r: MergeRecord): void {
    if (r.block !== this.blocks) throw new Error(`merge record of block ${r.block} applied after ${this.blocks} blocks`);
    this.coverage.merge(r.features);
    for (const e of r.corpus) this.corpusHashes.add(e.hash);
    this.tally(r.crashes);
    this.runs += r.runs;
    this.ops += r.ops;
    this.corpus += r.corpus.length;
    this.records.push(r);
    this.blocks++;
  }

  private tally(events: readonly CrashEvent[]): void {
    for (const c of events) {
      this.hits++;
      const t = this.crashes.get(c.hash);
      if (t === undefined) {
        this.crashes.set(c.hash, { hash: c.hash, count: 1, firstRun: c.run, kept: 1, note: c.note });
      } else {
        t.count++;
        if (c.trace !== null) t.kept++;
      }
    }
  }

  /**
   * The record of block `blocks` from its result (the state is not changed: `apply` it once it is
   * committed). Mirrors the local merge; see the module contract.
   */
  mergeNext(result: BlockResult): MergeRecord {
    const block = this.blocks;
    if (result.block !== block) throw new Error(`result of block ${result.block} merged after ${block} blocks`);
    // A scratch coverage on top of the merged one: the decisions need "new so far", including
    // earlier runs of this block.
    const seen = new Set<number>();
    const isNew = (f: number): boolean => !this.coverage.has(f) && !seen.has(f);
    const corpusSeen = new Set<string>();
    const counts = new Map<string, { count: number; kept: number }>();
    const rec: MergeRecord = { block, runs: 0, ops: 0, mutated: 0, stabilityChecked: 0, stabilityMismatches: 0, features: [], corpus: [], crashes: [] };
    for (const rep of result.reports) {
      rec.runs++;
      rec.ops += rep.ops;
      if (rep.mutated) rec.mutated++;
      if (rep.stable !== null) {
        rec.stabilityChecked++;
        if (!rep.stable) rec.stabilityMismatches++;
      }
      const added: number[] = [];
      for (const f of rep.fresh) {
        if (f >= 0 && f < FEATURE_SPACE && Number.isInteger(f) && isNew(f)) { seen.add(f); added.push(f); }
      }
      for (const f of added) rec.features.push(f);
      if (rep.failure !== null && rep.trace !== null) {
        const signature = fileUnder(rep.failure, (h) => this.crashes.has(h) || counts.has(h));
        const hash = signatureHash(signature);
        const before = this.crashes.get(hash);
        const local = counts.get(hash);
        if (before === undefined && local === undefined) {
          counts.set(hash, { count: 1, kept: 1 });
          rec.crashes.push({ run: rep.run, hash, signature, first: true, trace: rep.trace, note: unminimizableNote(signature.invariant), ...(rep.failure.rule !== undefined ? { rule: rep.failure.rule } : {}) });
        } else {
          const kept = (before?.kept ?? 0) + (local?.kept ?? 0);
          const keep = kept < ORIGINALS_MAX;
          counts.set(hash, { count: (local?.count ?? 0) + 1, kept: (local?.kept ?? 0) + (keep ? 1 : 0) });
          rec.crashes.push({ run: rep.run, hash, signature, first: false, trace: keep ? rep.trace : null, note: null });
        }
      } else if (added.length > 0 && rep.trace !== null) {
        const entry: CorpusEntry = { hash: addressOf(rep.trace).hash, trace: rep.trace };
        if (!this.corpusHashes.has(entry.hash) && !corpusSeen.has(entry.hash)) {
          corpusSeen.add(entry.hash);
          rec.corpus.push(entry);
        }
      }
    }
    return rec;
  }

  /** What a new engine starts from to run after records 0..b-1: the seed corpus, then those records (a local campaign's initial sync and syncs). */
  initThrough(b: number): Sync {
    const rest = this.syncThrough(0, b);
    return { corpus: [...this.seeds.entries, ...rest.corpus], features: [...this.seeds.features, ...rest.features] };
  }

  /** What an engine learns from records a..b-1, in order (the local campaign's syncs, concatenated). */
  syncThrough(a: number, b: number): Sync {
    const sync: Sync = { corpus: [], features: [] };
    for (let i = a; i < b; i++) {
      const r = this.records[i];
      for (const e of r.corpus) sync.corpus.push(e);
      for (const f of r.features) sync.features.push(f);
    }
    return sync;
  }
}
