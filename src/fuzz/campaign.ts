/**
 * The campaign: the main thread's loop over the run space (protocol.ts). It hands batches of runs
 * to an executor (inline, or worker threads), merges their reports in run order, keeps what
 * reached new coverage, stores each new failure signature (minimized in the background) and
 * reports progress.
 * Contract: for the same options (seed, shard, runs, opsMax, features, bugs, swarm, oracle, shrink
 * budget) and the same starting corpus, crash and stats directories, a runs-bounded campaign
 * produces the same traces, the same corpus files and byte-identical crash directories, whatever
 * the number of workers (0 = inline). A finding never stops the campaign; only the run or time
 * budget, the stop file or a stop request do. The directories are locked for the campaign's
 * lifetime (lock.ts); a campaign resumed on the same --out continues the run index, counters and
 * coverage (state.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RULE_COVERAGE_FILE, RuleCoverage, readRuleCoverage } from './rule-coverage.js';
import { setImmediate as immediate } from 'node:timers/promises';
import type { MachineConfig } from '../hw/config.js';
import { configMode, normalizeConfig } from '../hw/config.js';
import { runWith, type Target } from '../check/runner.js';
import { TARGETS } from '../check/targets.js';
import { INVARIANTS, formatSignature, signatureHash } from '../check/violation.js';
import { fileUnder } from './file-under.js';
import { Rng } from '../gen/rng.js';
import type { Feature } from '../gen/features.js';
import { DEFAULT_WEIGHTS, formatWeights, restrictWeights, swarmWeights } from '../gen/weights.js';
import type { Signature, Trace } from '../trace/trace.js';
import { Corpus } from './corpus.js';
import { Coverage } from './coverage.js';
import { CrashStore, HARNESS_FAULT_NOTE } from './crash-store.js';
import { STABILITY_EVERY_DEFAULT, SWARM_EPOCH_RUNS } from './engine.js';
import { InlineExecutor, RUN_TIMEOUT_MS_DEFAULT, WorkerPool, type Executor } from './executor.js';
import { TargetExecutor } from './target-executor.js';
import type { ExternalTarget } from '../target/external.js';
import { MinimizeStopped, minimizeOnTarget } from '../target/minimize.js';
import type { MinimizeResult } from '../shrink/trace.js';
import { acquireLocks } from './lock.js';
import { MinimizeJob } from './minimize-job.js';
import { BATCH_RUNS, SYNC_LAG_BATCHES, WORKER_FAULT, type EngineConfig, type OracleName, type RunReport, type Sync } from './protocol.js';
import { canonicalJson, loadCoverage, loadState, resumeMismatch, ResumeMismatchError, saveCoverage, saveState } from './state.js';
import { Stats } from './stats.js';

export { MUTATE_PROBABILITY, SWARM_EPOCH_RUNS } from './engine.js';

export interface Shard {
  /** 0-based index of this shard. */
  index: number;
  count: number;
}

export interface CampaignOptions {
  seed: string;
  /** Runs to execute in this session; null = until another limit stops the campaign. */
  runs: number | null;
  durationMs: number | null;
  opsMax: number;
  features: ReadonlySet<Feature>;
  bugs: readonly string[];
  /** Random op weights with some kinds off, re-drawn every SWARM_EPOCH_RUNS runs (default true). */
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
  /** Worker threads; 0 (the default here) runs every trace on the calling thread. */
  workers?: number;
  /** This campaign's shard of the run space (many machines); null = the whole space. */
  shard?: Shard | null;
  /** The oracle by name (workers resolve it); must name `target` when workers > 0. Default model. */
  oracle?: OracleName;
  /** Determinism self-check period in runs (0 = off). */
  stabilityEvery?: number;
  /**
   * Per-run time limit on worker threads, ms (0 = off; default RUN_TIMEOUT_MS_DEFAULT): a run over
   * it is stopped and recorded as a harness fault. The inline executor cannot interrupt a run.
   * Not recorded in crash descriptions: it changes nothing unless a run hangs.
   */
  runTimeoutMs?: number;
  /**
   * Run on an external target (src/target/): traces are fitted to it and run there in batches,
   * `workers` target processes at once; failures are minimized on it too. Absent: the built-in
   * machine. The base configuration must be the target's (`config`).
   */
  external?: ExternalTarget;
  /**
   * Runs per batch and the batches between a batch and the merge it sees (protocol.ts; defaults
   * BATCH_RUNS and SYNC_LAG_BATCHES). A hub campaign cuts its blocks the same way (src/hub/), so a
   * local campaign with its values writes the same files; recorded in crash descriptions when not
   * the defaults.
   */
  batchRuns?: number;
  syncLagBatches?: number;
}

export interface CampaignHooks {
  /** Plain lines (findings, periodic status when not a TTY). */
  log(line: string): void;
  /** Overwritable status line (TTY); when absent, status goes to `log`. */
  status?(line: string): void;
  /** Polled between batches: true stops the campaign cleanly (Ctrl-C). */
  shouldStop?(): boolean;
  /** Width of the terminal the status line goes to (it is fitted to it); absent: not fitted. */
  columns?(): number;
}

export interface CrashSummary {
  hash: string;
  signature: Signature;
  count: number;
  firstSeenRun: number;
  opsBefore: number | null;
  /** null while (or when) not minimized. */
  opsAfter: number | null;
  /** True when first seen in this campaign (not adopted from an earlier one). */
  fresh: boolean;
}

export type StopReason = 'runs' | 'duration' | 'stop-file' | 'signal';

export interface CampaignSummary {
  /** Runs and ops of this session. */
  runs: number;
  ops: number;
  elapsedMs: number;
  /** CPU time of the process (all threads) during this session. */
  cpuMs: number;
  /** Runs of the whole campaign, earlier sessions included. */
  runsTotal: number;
  coverage: number;
  corpus: number;
  crashes: CrashSummary[];
  stoppedBy: StopReason;
  /** Weights of the last swarm epoch. */
  weights: string;
  stabilityPct: number;
  stabilityChecked: number;
  workers: number;
  /** Minimizations left unfinished (a signal stopped the campaign); resumed next time. */
  minimizePending: number;
}

const STATS_FILE_EVERY_MS = 5000;
/** Minimization slice: short enough that worker results are merged promptly. */
const SLICE_MS = 20;

/** Options as recorded in crash descriptions: only those that decide what is generated. */
export function recordedOptions(o: CampaignOptions): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {
    ops_max: o.opsMax,
    features: [...o.features].sort().join(','),
    bugs: [...o.bugs].join(','),
    swarm: o.swarm,
    shrink_steps_max: o.shrinkStepsMax,
    oracle: o.oracle ?? 'model',
  };
  if (o.runs !== null) out.runs = o.runs;
  if (o.shard != null) out.shard = formatShard(o.shard);
  if (o.batchRuns !== undefined && o.batchRuns !== BATCH_RUNS) out.block_runs = o.batchRuns;
  if (o.syncLagBatches !== undefined && o.syncLagBatches !== SYNC_LAG_BATCHES) out.sync_lag = o.syncLagBatches;
  // Recorded only for hv campaigns: bare descriptions stay byte-identical to earlier ones.
  if (o.config !== undefined && configMode(o.config) === 'hv') out.mode = 'hv';
  return out;
}

export function formatShard(s: Shard): string {
  return `${s.index}/${s.count}`;
}

/** The root of a campaign's run streams: the seed, or a shard's own sub-stream of it. */
export function streamRoot(seed: string, shard: Shard | null | undefined): string {
  return shard == null || shard.count === 1 ? seed : `${seed}/shard${shard.index}of${shard.count}`;
}

export async function runCampaign(o: CampaignOptions, target: Target, hooks: CampaignHooks): Promise<CampaignSummary> {
  const workers = o.workers ?? 0;
  const oracle = o.oracle ?? 'model';
  if (workers > 0 && o.external === undefined && TARGETS[oracle] !== target) throw new Error('a campaign with worker threads needs a named oracle target');
  const dirs = [{ dir: o.crashesDir, role: 'crash' }];
  if (o.corpusDir !== null) dirs.push({ dir: o.corpusDir, role: 'corpus' });
  if (o.outDir !== null) dirs.push({ dir: o.outDir, role: 'stats' });
  const locks = acquireLocks(dirs);
  try {
    return await new Campaign(o, target, hooks, workers, oracle).run();
  } finally {
    locks.release();
  }
}

class Campaign {
  private readonly config: MachineConfig;
  private readonly root: string;
  private readonly stats = new Stats();
  private readonly coverage = new Coverage();
  /** Rule coverage summed over the merged runs (OUT/rule-coverage.json). */
  private readonly ruleCoverage: RuleCoverage;
  private readonly corpus: Corpus;
  private readonly store: CrashStore;
  private readonly crashes = new Map<string, CrashSummary>();
  private readonly jobs: MinimizeJob[] = [];
  private startRun = 0;
  private nextRun = 0;
  /** External-target minimizations, chained (see startMinimize). */
  private externalJobs: Promise<void> = Promise.resolve();
  private externalPending = 0;
  private stopNow = false;

  constructor(
    private readonly o: CampaignOptions,
    private readonly target: Target,
    private readonly hooks: CampaignHooks,
    private readonly workers: number,
    private readonly oracle: OracleName,
  ) {
    this.config = normalizeConfig({ ...(o.config ?? {}), bugs: [...o.bugs] });
    this.root = streamRoot(o.seed, o.shard);
    this.corpus = new Corpus(o.corpusDir);
    this.store = new CrashStore(o.crashesDir, o.seed, recordedOptions(o));
    this.ruleCoverage = new RuleCoverage(configMode(this.config));
  }

  private log(line: string): void {
    this.hooks.log(line);
  }

  /** Loads the corpus, the crash store and (resume) the state; runs the corpus for coverage. */
  private prepare(): Sync {
    const o = this.o;
    const shardText = o.shard == null ? null : formatShard(o.shard);
    this.stats.labels.set('seed', o.seed);
    if (shardText !== null) this.stats.labels.set('shard', shardText);
    this.stats.labels.set('workers', String(this.workers));
    // Where this campaign's crashes are, for `eptfuzz report OUT` (absolute: the report may run elsewhere).
    this.stats.labels.set('crashes_dir', path.resolve(o.crashesDir));
    const state = o.outDir === null ? null : loadState(o.outDir);
    if (state !== null && o.outDir !== null) {
      const why = resumeMismatch(o.outDir, state, this.conditions());
      if (why !== null) throw new ResumeMismatchError(why);
    }
    if (state !== null) {
      this.stats.restore(state.counters, state.elapsed_ms);
      this.startRun = state.next_run;
      const other = state.seed !== o.seed || state.shard !== shardText;
      this.log(`resuming from ${o.outDir}: run ${state.next_run}, ${this.stats.get('crashes_unique')} signatures found so far${other ? ` (note: that campaign had seed ${state.seed}${state.shard === null ? '' : ` shard ${state.shard}`})` : ''}`);
    }
    this.nextRun = this.startRun;
    const mode = configMode(this.config);
    const generation = mode === 'hv' ? 'hv mode (the hypervisor workload of src/gen/hv)' : `swarm ${o.swarm ? `on (new weights every ${SWARM_EPOCH_RUNS} runs)` : 'off'}`;
    this.log(`seed ${o.seed}${shardText === null ? '' : `, shard ${shardText}`}; ${this.workers === 0 ? 'inline' : `${this.workers} worker${this.workers === 1 ? '' : 's'}`}; ${generation}`);
    // A campaign mutates traces of its own mode (a bare machine cannot run hv ops, and a hv
    // campaign's mutations use the hv generator's makers).
    const loaded = this.corpus.load((t) => configMode(t.machine) === mode);
    if (loaded > 0 || this.corpus.skipped > 0 || this.corpus.ignored > 0) {
      this.log(`corpus: ${loaded} traces loaded${this.corpus.skipped > 0 ? `, ${this.corpus.skipped} unreadable skipped` : ''}${this.corpus.ignored > 0 ? `, ${this.corpus.ignored} ${mode === 'hv' ? 'bare' : 'hv'}-mode traces left out` : ''}`);
    }
    const adopted = this.store.load();
    if (adopted > 0) this.log(`crashes: ${adopted} known signatures in ${o.crashesDir}`);

    // Coverage: what earlier sessions reached, plus what the corpus reaches now.
    const saved = o.outDir === null ? null : loadCoverage(o.outDir);
    if (saved !== null) this.coverage.merge(saved);
    if (o.outDir !== null && saved !== null && fs.existsSync(path.join(o.outDir, RULE_COVERAGE_FILE))) {
      try {
        this.ruleCoverage.addFile(readRuleCoverage(o.outDir));
      } catch (e) {
        this.log(`rule coverage: ${(e as Error).message}; starting it afresh`);
      }
    }
    if (o.external === undefined) {
      for (const e of this.corpus.entries) {
        this.coverage.beginRun();
        runWith(e.trace, this.target, { observer: this.coverage });
      }
    }
    this.stats.set('coverage', this.coverage.count);
    this.stats.set('corpus', this.corpus.size);

    // Signatures whose minimization an earlier session did not finish.
    for (const hash of this.store.pending()) {
      const d = this.store.description(hash);
      const original = this.store.original(hash);
      if (d === undefined || original === null) continue;
      this.startMinimize(hash, d.signature, original);
    }
    const unfinished = this.jobs.length + this.externalPending;
    if (unfinished > 0) this.log(`crashes: ${unfinished} signature(s) left unminimized by an earlier campaign; minimizing them in the background`);
    this.stats.set('minimize_pending', this.jobs.length);
    return { corpus: this.corpus.entries.slice(), features: this.coverage.features() };
  }

  private engineConfig(): EngineConfig {
    return {
      root: this.root,
      opsMax: this.o.opsMax,
      features: [...this.o.features].sort(),
      swarm: this.o.swarm,
      config: this.config,
      oracle: this.oracle,
      stabilityEvery: this.o.stabilityEvery ?? STABILITY_EVERY_DEFAULT,
    };
  }

  private onFailure(rep: RunReport, trace: Trace): void {
    const failure = rep.failure;
    if (failure === null) return;
    this.stats.add('crashes_total');
    const signature = fileUnder(failure, (h) => this.crashes.has(h) || this.store.known(h));
    const hash = signatureHash(signature);
    const seen = this.crashes.get(hash);
    if (seen !== undefined) {
      seen.count++;
      this.store.again(hash, trace);
      return;
    }
    if (this.store.known(hash)) {
      this.store.again(hash, trace);
      const d = this.store.description(hash);
      this.crashes.set(hash, { hash, signature, count: d?.count ?? 1, firstSeenRun: d?.first_seen_run ?? rep.run, opsBefore: d?.minimized?.ops_before ?? null, opsAfter: d?.minimized?.ops_after ?? null, fresh: false });
      return;
    }
    // A nondeterministic trace cannot be shrunk (its failure does not come back on demand), and a
    // harness fault is not a check failing (running it here could fault the main thread).
    const unminimizable = signature.invariant === INVARIANTS.nondeterminism ? 'not minimized: the trace does not give the same outcomes twice'
      : signature.invariant === WORKER_FAULT ? HARNESS_FAULT_NOTE : undefined;
    // A trace the target died or hung on is minimized on the target like any failure (it is a finding in the target).
    this.store.create(hash, signature, rep.run, trace, null, unminimizable, rep.failure?.rule);
    this.crashes.set(hash, { hash, signature, count: 1, firstSeenRun: rep.run, opsBefore: trace.ops.length, opsAfter: null, fresh: true });
    this.stats.add('crashes_unique');
    this.stats.found(rep.run);
    if (unminimizable === undefined) this.startMinimize(hash, signature, trace);
    this.log(`run ${rep.run}: new failure ${formatSignature(signature)} (${hash}), ${trace.ops.length} ops${unminimizable === undefined ? '; minimizing in the background' : ''}`);
  }

  /** Merges one batch's reports in run order; returns what the engines must learn from it. */
  private merge(reports: readonly RunReport[]): Sync {
    const sync: Sync = { corpus: [], features: [] };
    for (const rep of reports) {
      this.stats.add('runs');
      this.stats.add('ops', rep.ops);
      this.stats.add(rep.mutated ? 'mutated' : 'generated');
      if (rep.stable !== null) {
        this.stats.add('stability_checked');
        if (!rep.stable) this.stats.add('stability_mismatches');
      }
      this.ruleCoverage.add(rep.rules);
      if (rep.failure !== null) this.ruleCoverage.addFinding(rep.failure.signature.invariant);
      const added = this.coverage.merge(rep.fresh);
      for (const f of added) sync.features.push(f);
      if (rep.failure !== null && rep.trace !== null) {
        this.onFailure(rep, rep.trace);
      } else if (added.length > 0 && rep.trace !== null) {
        const entry = this.corpus.add(rep.trace);
        if (entry !== null) {
          sync.corpus.push(rep.features !== undefined ? { ...entry, features: rep.features } : entry);
          this.stats.found(rep.run);
        }
      }
      this.nextRun = rep.run + 1;
    }
    this.stats.set('coverage', this.coverage.count);
    this.stats.set('corpus', this.corpus.size);
    return sync;
  }

  /**
   * Queues the minimization of a new signature: a sliced job on this thread for the built-in
   * machine, or a chained job on the external target (one at a time, concurrent with batches).
   */
  private startMinimize(hash: string, signature: Signature, trace: Trace): void {
    const o = this.o;
    if (o.external === undefined) {
      this.jobs.push(new MinimizeJob(hash, signature, trace, this.target, { stepsMax: o.shrinkStepsMax, msMax: o.shrinkMsMax }));
      this.stats.set('minimize_pending', this.jobs.length);
      return;
    }
    const external = o.external;
    this.externalPending++;
    this.stats.set('minimize_pending', this.externalPending);
    // A stop request ends a job in flight with the best trace so far and skips the queued ones
    // (they stay pending in the store: a resumed campaign minimizes them; nothing found is lost).
    const shouldStop = (): boolean => this.stopNow || this.hooks.shouldStop?.() === true;
    this.externalJobs = this.externalJobs.then(async () => {
      if (shouldStop()) return;
      let result: MinimizeResult | null = null;
      try {
        result = await minimizeOnTarget(external, trace, signature, { stepsMax: o.shrinkStepsMax, msMax: o.shrinkMsMax, shouldStop });
      } catch (e) {
        if (e instanceof MinimizeStopped) {
          this.log(`minimizing ${hash} stopped: it stays pending (a resumed campaign minimizes it)`);
          return;
        }
        this.log(`minimizing ${hash} on ${external.profile.name} failed: ${(e as Error).message.split('\n')[0]}`);
      }
      this.externalPending--;
      this.finishJob(hash, result);
    });
  }

  /** Runs background minimization for about `ms`; returns whether work remains. */
  private minimizeSlice(ms: number): boolean {
    const job = this.jobs[0];
    if (job === undefined) return false;
    if (job.slice(ms)) {
      this.jobs.shift();
      this.finishJob(job.hash, job.result ?? null);
    }
    return this.jobs.length > 0;
  }

  private finishJob(hash: string, m: MinimizeResult | null): void {
    const c = this.crashes.get(hash);
    if (m !== null) {
      this.stats.add('shrink_steps', m.report.steps);
      this.store.finish(hash, m);
      if (c !== undefined) { c.opsBefore = m.report.opsBefore; c.opsAfter = m.report.opsAfter; }
      const limit = m.report.timedOut ? ' (time limit reached)' : m.report.stepsExhausted ? ' (step limit reached)' : '';
      this.log(`minimized ${hash}: ${m.report.opsBefore} -> ${m.report.opsAfter} ops in ${m.report.steps} steps${limit}`);
    } else {
      this.store.finish(hash, null, 'not minimized: the failure did not reproduce with the same signature');
      this.log(`minimized ${hash}: the failure did not reproduce with its signature; the original stays the repro`);
    }
    this.stats.set('minimize_pending', this.jobs.length + this.externalPending);
  }

  /** Waits for the oldest batch, minimizing in slices meanwhile. */
  private async awaitBatch(executor: Executor): Promise<RunReport[]> {
    let settled = false;
    const p = executor.next();
    p.then(() => { settled = true; }, () => { settled = true; });
    while (!settled && this.jobs.length > 0) {
      this.minimizeSlice(SLICE_MS);
      await immediate();
    }
    return p;
  }

  /** What this campaign's coverage and counters are reached with (checked on resume). */
  private conditions(): { mode: 'bare' | 'hv'; bugs: string[]; machine: string; corpus: boolean } {
    return { mode: configMode(this.config), bugs: [...this.config.bugs].sort(), machine: canonicalJson(this.config), corpus: this.o.corpusDir !== null };
  }

  private checkpoint(): void {
    this.store.flush();
    const dir = this.o.outDir;
    if (dir === null) return;
    this.stats.writeFiles(dir);
    saveCoverage(dir, this.coverage.features());
    this.ruleCoverage.save(dir);
    saveState(dir, {
      version: 1,
      seed: this.o.seed,
      shard: this.o.shard == null ? null : formatShard(this.o.shard),
      next_run: this.nextRun,
      elapsed_ms: Math.round(this.stats.totalElapsedMs()),
      counters: this.stats.persisted(),
      ...this.conditions(),
    });
  }

  /**
   * Time left by the budget: the duration's remainder, or the runs left at this session's run
   * rate, whichever ends first; null for an open-ended campaign or before any rate is known.
   */
  private leftMs(endRun: number): number | null {
    const o = this.o;
    const byDuration = o.durationMs === null ? null : Math.max(0, o.durationMs - this.stats.elapsedMs());
    const rate = this.stats.runsPerSecond();
    const byRuns = Number.isFinite(endRun) && rate > 0 ? (Math.max(0, endRun - this.nextRun) / rate) * 1000 : null;
    if (byDuration === null) return byRuns;
    return byRuns === null ? byDuration : Math.min(byDuration, byRuns);
  }

  private stopReason(): StopReason | null {
    const o = this.o;
    if (o.durationMs !== null && this.stats.elapsedMs() >= o.durationMs) return 'duration';
    if (o.stopFile !== null && fs.existsSync(o.stopFile)) return 'stop-file';
    if (this.hooks.shouldStop?.() === true) return 'signal';
    return null;
  }

  async run(): Promise<CampaignSummary> {
    const o = this.o;
    const init = this.prepare();
    const endRun = o.runs === null ? Number.POSITIVE_INFINITY : this.startRun + o.runs;
    const executor: Executor = o.external !== undefined
      ? new TargetExecutor({ ...this.engineConfig(), fixedConfig: true }, o.external, init, this.workers)
      : this.workers === 0
        ? new InlineExecutor(this.engineConfig(), this.target, init)
        : new WorkerPool(this.engineConfig(), this.workers, init, o.runTimeoutMs ?? RUN_TIMEOUT_MS_DEFAULT);
    const syncs = new Map<number, Sync>();
    const batchRuns = o.batchRuns ?? BATCH_RUNS;
    const lag = o.syncLagBatches ?? SYNC_LAG_BATCHES;
    let stoppedBy: StopReason | null = null;
    let dispatched = 0;
    let merged = 0;
    let lastStatus = Date.now();
    let lastCheckpoint = lastStatus;
    try {
      for (;;) {
        while (stoppedBy === null && dispatched < merged + lag) {
          const start = this.startRun + dispatched * batchRuns;
          if (start >= endRun) { stoppedBy = 'runs'; break; }
          stoppedBy = this.stopReason();
          if (stoppedBy !== null) break;
          const sync = dispatched >= lag ? syncs.get(dispatched - lag) ?? null : null;
          syncs.delete(dispatched - lag);
          executor.submit(dispatched, start, Math.min(start + batchRuns, endRun), sync);
          dispatched++;
        }
        if (merged === dispatched) break;
        const reports = await this.awaitBatch(executor);
        syncs.set(merged, this.merge(reports));
        merged++;
        // Inline, the batch ran on this thread: give pending minimization its slice now.
        if (this.workers === 0) this.minimizeSlice(SLICE_MS);
        const t = Date.now();
        if (t - lastStatus >= o.statusEveryMs) {
          lastStatus = t;
          const live = this.hooks.status;
          const line = this.stats.statusLine({ leftMs: this.leftMs(endRun), columns: live === undefined ? undefined : this.hooks.columns?.() });
          (live ?? this.hooks.log)(line);
        }
        if (t - lastCheckpoint >= STATS_FILE_EVERY_MS) {
          lastCheckpoint = t;
          this.checkpoint();
        }
      }
    } finally {
      await executor.close();
    }
    const stopped: StopReason = stoppedBy ?? 'runs';
    // Finish background minimization (bounded by its budget), unless asked to stop now.
    while (this.jobs.length > 0 && !(stopped === 'signal' || this.hooks.shouldStop?.() === true)) {
      this.minimizeSlice(SLICE_MS * 5);
      await immediate();
    }
    if (stopped === 'signal' || this.hooks.shouldStop?.() === true) this.stopNow = true;
    await this.externalJobs;
    this.checkpoint();
    return this.summary(stopped);
  }

  private summary(stoppedBy: StopReason): CampaignSummary {
    const lastEpoch = Math.floor(Math.max(0, this.nextRun - 1) / SWARM_EPOCH_RUNS);
    const balanced = restrictWeights({ ...DEFAULT_WEIGHTS }, this.o.features);
    const weights = this.o.swarm && lastEpoch > 0 ? swarmWeights(new Rng(this.root).derive(`swarm${lastEpoch}`), this.o.features) : balanced;
    return {
      runs: this.stats.sessionRuns(),
      ops: this.stats.sessionOps(),
      elapsedMs: this.stats.elapsedMs(),
      cpuMs: this.stats.cpuMs(),
      runsTotal: this.stats.get('runs'),
      coverage: this.coverage.count,
      corpus: this.corpus.size,
      crashes: [...this.crashes.values()],
      stoppedBy,
      weights: formatWeights(weights),
      stabilityPct: this.stats.stabilityPct(),
      stabilityChecked: this.stats.get('stability_checked'),
      workers: this.workers,
      minimizePending: this.jobs.length + this.externalPending,
    };
  }
}
