/**
 * The campaign loop: generate or mutate a trace, run it with all checks, keep it if it reached new
 * coverage, and turn each failure into a crash-store entry (minimized on first sighting).
 * Contract: for the same options (seed, runs, opsMax, features, bugs, swarm, shrink budget) and the
 * same starting corpus and crash directories, a runs-bounded campaign produces the same traces, the
 * same corpus files and byte-identical crash directories. Run i's randomness comes from the stream
 * `<seed>/run<i>`, so it does not depend on how much earlier runs consumed. A finding never stops
 * the campaign; only the run or time budget, the stop file or a stop request do.
 */
import * as fs from 'node:fs';
import type { MachineConfig } from '../hw/config.js';
import { normalizeConfig } from '../hw/config.js';
import { runWith, type Target } from '../check/runner.js';
import { signatureHash, signatureOf, formatSignature } from '../check/violation.js';
import { Rng } from '../gen/rng.js';
import type { Feature } from '../gen/features.js';
import { generateTrace, makeTrace } from '../gen/generate.js';
import { DEFAULT_WEIGHTS, formatWeights, restrictWeights, swarmWeights, type OpWeights } from '../gen/weights.js';
import { minimizeTrace } from '../shrink/trace.js';
import type { Signature, Trace } from '../trace/trace.js';
import { Corpus } from './corpus.js';
import { Coverage } from './coverage.js';
import { CrashStore } from './crash-store.js';
import { mutate } from './mutate.js';
import { Stats } from './stats.js';

export interface CampaignOptions {
  seed: string;
  /** Runs to execute; null = until another limit stops the campaign. */
  runs: number | null;
  durationMs: number | null;
  opsMax: number;
  features: ReadonlySet<Feature>;
  bugs: readonly string[];
  /** Random per-campaign op weights with some kinds off (default true). */
  swarm: boolean;
  corpusDir: string | null;
  crashesDir: string;
  outDir: string | null;
  stopFile: string | null;
  shrinkStepsMax: number;
  shrinkMsMax: number;
  /** Status line period (TTY) and plain-line period. */
  statusEveryMs: number;
  /** Base machine configuration (bugs are taken from `bugs`). */
  config?: MachineConfig;
}

export interface CampaignHooks {
  /** Plain lines (findings, periodic status when not a TTY). */
  log(line: string): void;
  /** Overwritable status line (TTY); when absent, status goes to `log`. */
  status?(line: string): void;
  /** Polled between runs: true stops the campaign cleanly (Ctrl-C). */
  shouldStop?(): boolean;
}

export interface CrashSummary {
  hash: string;
  signature: Signature;
  count: number;
  firstSeenRun: number;
  opsBefore: number | null;
  opsAfter: number | null;
  /** True when first seen in this campaign (not adopted from an earlier one). */
  fresh: boolean;
}

export type StopReason = 'runs' | 'duration' | 'stop-file' | 'signal';

export interface CampaignSummary {
  runs: number;
  ops: number;
  elapsedMs: number;
  coverage: number;
  corpus: number;
  crashes: CrashSummary[];
  stoppedBy: StopReason;
  /** Weights of the last swarm epoch. */
  weights: string;
}

/** Probability of mutating a corpus entry rather than generating afresh (once the corpus is non-empty). */
export const MUTATE_PROBABILITY = 0.5;
/** How often the synchronous loop yields to the event loop (signals, timers). */
/**
 * Swarm epoch: runs sharing one draw of op weights. Swarm testing wins by omitting kinds, but one
 * draw per campaign could leave a whole overnight campaign without writes; re-drawing every 32
 * runs visits many configurations while each still gets enough runs to build a corpus. Epoch 0
 * uses the balanced weights, so every campaign starts with every kind on.
 */
export const SWARM_EPOCH_RUNS = 32;
const YIELD_EVERY_MS = 50;
const STATS_FILE_EVERY_MS = 5000;

/** Options as recorded in crash descriptions: only those that decide what is generated. */
export function recordedOptions(o: CampaignOptions): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {
    ops_max: o.opsMax,
    features: [...o.features].sort().join(','),
    bugs: [...o.bugs].join(','),
    swarm: o.swarm,
    shrink_steps_max: o.shrinkStepsMax,
  };
  if (o.runs !== null) out.runs = o.runs;
  return out;
}

export async function runCampaign(o: CampaignOptions, target: Target, hooks: CampaignHooks): Promise<CampaignSummary> {
  const config = normalizeConfig({ ...(o.config ?? {}), bugs: [...o.bugs] });
  const root = new Rng(o.seed);
  const balanced = restrictWeights({ ...DEFAULT_WEIGHTS }, o.features);
  const weightsFor = (epoch: number): OpWeights => (o.swarm && epoch > 0 ? swarmWeights(root.derive(`swarm${epoch}`), o.features) : balanced);
  let epoch = 0;
  let weights = weightsFor(0);
  let genOpts = { opsMax: o.opsMax, features: o.features, weights, config };
  const stats = new Stats();
  const coverage = new Coverage();
  const corpus = new Corpus(o.corpusDir);
  const store = new CrashStore(o.crashesDir, o.seed, recordedOptions(o));
  const crashes = new Map<string, CrashSummary>();
  const loaded = corpus.load();
  const adopted = store.load();
  hooks.log(`seed ${o.seed}; swarm ${o.swarm ? `on (new weights every ${SWARM_EPOCH_RUNS} runs)` : 'off'}`);
  if (loaded > 0 || corpus.skipped > 0) hooks.log(`corpus: ${loaded} seed traces loaded${corpus.skipped > 0 ? `, ${corpus.skipped} unreadable skipped` : ''}`);
  if (adopted > 0) hooks.log(`crashes: ${adopted} known signatures in ${o.crashesDir}`);

  // Seed traces run first: their coverage is the starting point.
  for (const e of corpus.entries) {
    coverage.beginRun();
    runWith(e.trace, target, { observer: coverage });
  }
  stats.set('coverage', coverage.count);
  stats.set('corpus', corpus.size);

  let provenanceOptions = { ops_max: o.opsMax, features: [...o.features].sort().join(','), weights: formatWeights(weights) };
  let lastYield = Date.now();
  let lastStatus = lastYield;
  let lastStats = lastYield;
  let stoppedBy: StopReason = 'runs';
  let run = 0;
  for (;; run++) {
    if (o.runs !== null && run >= o.runs) { stoppedBy = 'runs'; break; }
    const now = Date.now();
    if (o.durationMs !== null && stats.elapsedMs() >= o.durationMs) { stoppedBy = 'duration'; break; }
    if (now - lastYield >= YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = Date.now();
      if (o.stopFile !== null && fs.existsSync(o.stopFile)) { stoppedBy = 'stop-file'; break; }
    }
    if (hooks.shouldStop?.() === true) { stoppedBy = 'signal'; break; }

    if (Math.floor(run / SWARM_EPOCH_RUNS) !== epoch) {
      epoch = Math.floor(run / SWARM_EPOCH_RUNS);
      weights = weightsFor(epoch);
      genOpts = { ...genOpts, weights };
      provenanceOptions = { ...provenanceOptions, weights: formatWeights(weights) };
    }
    const rng = root.derive(`run${run}`);
    let trace: Trace;
    if (corpus.size > 0 && rng.chance(MUTATE_PROBABILITY)) {
      const parent = corpus.pick(rng);
      const other = corpus.size > 1 ? corpus.pick(rng).trace.ops : null;
      const child = mutate(parent.trace.ops, other, rng, genOpts);
      trace = makeTrace(config, child.ops, { seed: rng.seed, options: { ...provenanceOptions, parent: parent.hash, mutations: child.applied.join(',') } });
      stats.add('mutated');
    } else {
      trace = generateTrace(rng, genOpts);
      trace.provenance = { seed: rng.seed, options: provenanceOptions };
      stats.add('generated');
    }

    coverage.beginRun();
    const result = runWith(trace, target, { observer: coverage, stopAtFirst: true });
    stats.add('runs');
    stats.add('ops', result.opsRun);
    const added = coverage.endRun();
    if (result.first !== null) {
      stats.add('crashes_total');
      const signature = signatureOf(result.first);
      const hash = signatureHash(signature);
      const seen = crashes.get(hash);
      if (seen !== undefined) {
        seen.count++;
        store.again(hash, trace);
      } else if (store.known(hash)) {
        store.again(hash, trace);
        const d = store.description(hash);
        crashes.set(hash, { hash, signature, count: d?.count ?? 1, firstSeenRun: d?.first_seen_run ?? run, opsBefore: d?.minimized?.ops_before ?? null, opsAfter: d?.minimized?.ops_after ?? null, fresh: false });
      } else {
        const m = minimizeTrace(trace, target, { stepsMax: o.shrinkStepsMax, msMax: o.shrinkMsMax }, signature);
        if (m !== null) stats.add('shrink_steps', m.report.steps);
        const repro = m?.trace ?? { ...trace, signature };
        store.create(hash, signature, run, repro, m?.report ?? null, trace);
        crashes.set(hash, { hash, signature, count: 1, firstSeenRun: run, opsBefore: trace.ops.length, opsAfter: repro.ops.length, fresh: true });
        stats.add('crashes_unique');
        hooks.log(`run ${run}: new failure ${formatSignature(signature)} (${hash}); minimized ${trace.ops.length} -> ${repro.ops.length} ops`);
      }
    } else if (added > 0) {
      corpus.add(trace);
      stats.set('corpus', corpus.size);
    }
    stats.set('coverage', coverage.count);

    const t = Date.now();
    if (t - lastStatus >= o.statusEveryMs) {
      lastStatus = t;
      (hooks.status ?? hooks.log)(stats.statusLine());
    }
    if (o.outDir !== null && t - lastStats >= STATS_FILE_EVERY_MS) {
      lastStats = t;
      stats.writeFiles(o.outDir);
    }
  }
  if (o.outDir !== null) stats.writeFiles(o.outDir);
  return {
    runs: stats.get('runs'),
    ops: stats.get('ops'),
    elapsedMs: stats.elapsedMs(),
    coverage: coverage.count,
    corpus: corpus.size,
    crashes: [...crashes.values()],
    stoppedBy,
    weights: formatWeights(weights),
  };
}
