/**
 * The run engine: makes run r's trace (generate, or mutate a corpus entry), runs it with every
 * check and the coverage observer, re-executes a sample for the determinism self-check, and
 * reports. The same class runs inline on the main thread and inside each worker thread.
 * Configurations: run r's trace, generated or mutated, runs on the configuration of r's epoch
 * (generate.ts `configForStream`: kvmXo, MAXPHYADDR, caps vary per epoch in bare mode); a mutated
 * trace does not keep its parent's, so the rule is the same for both and depends on r alone.
 * Contract: `runOne(r)` depends only on the engine configuration, r, and the syncs applied so
 * far (protocol.ts); the reported `fresh` features are those this engine had not seen, which is
 * always a superset of what the main thread will find new for run r, so the main thread's
 * decisions do not depend on which engine ran which run.
 * Parents are drawn by the corpus pool's rare-feature schedule (corpus.ts), which weighs each
 * entry by every feature its trace reaches: a kept run reports them (`features`), and an entry
 * that arrives without them (seeds, hub records) is run once here for them; both give the same set.
 * Faults: a run that throws outside the checks (runWith turns exceptions of the machine and model
 * into violations; this catches everything else: generation, mutation, the observers) is reported
 * as a WORKER_FAULT failure with its trace, and the share goes on. A share marked `faulted` (the
 * worker running it died, executor.ts) reports that run as a fault without running it again.
 * Neither changes anything when no fault happens, so outputs stay deterministic.
 *
 * Test hook (never set in normal use): EPTFUZZ_INJECT_WORKER_FAULT=`throw@R` makes run R throw
 * inside the engine; `exit@R` ends the worker thread running run R (process.exit in a worker ends
 * only that thread); `hang@R` makes run R loop forever on a worker thread (the pool's run time
 * limit stops it, executor.ts). On the main thread `exit` and `hang` throw instead (the inline
 * executor cannot interrupt a run). Several, comma-separated.
 */
import { isMainThread } from 'node:worker_threads';
import { runWith, type StepObserver, type Target } from '../check/runner.js';
import type { Violation } from '../check/violation.js';
import { INVARIANTS, alternateSignatures, signatureOf, sameSignature } from '../check/violation.js';
import { Rng } from '../gen/rng.js';
import { configForStream, generateTrace, makeTrace } from '../gen/generate.js';
import { DEFAULT_WEIGHTS, formatWeights, restrictWeights, swarmWeights, type OpWeights } from '../gen/weights.js';
import type { Feature } from '../gen/features.js';
import type { Signature, Trace } from '../trace/trace.js';
import { CorpusPool } from './corpus.js';
import { Coverage, FeatureSet, OutcomeDigest } from './coverage.js';
import { RuleCounter } from './rule-coverage.js';
import { mutate } from './mutate.js';
import { FAULT_THREW, workerFaultSignature, type EngineConfig, type RunFailure, type RunReport, type Share, type Sync } from './protocol.js';

/** Probability of mutating a corpus entry rather than generating afresh (once the corpus is non-empty). */
export const MUTATE_PROBABILITY = 0.5;
/**
 * Swarm epoch: runs sharing one draw of op weights. Swarm testing wins by omitting kinds, but one
 * draw per campaign could leave a whole overnight campaign without writes; re-drawing every 32
 * runs visits many configurations while each still gets enough runs to build a corpus. Epoch 0
 * uses the balanced weights, so every campaign starts with every kind on.
 */
export const SWARM_EPOCH_RUNS = 32;
/**
 * Determinism self-check period (FoundationDB re-runs ~5 % of its seeds): one trace in 64 costs
 * 1.6 % of throughput and still checks hundreds of traces a minute.
 */
export const STABILITY_EVERY_DEFAULT = 64;

/** A run's failure as reported: its first violation's signature, and its alternative explanations when it has any. */
function failureOf(v: Violation): RunFailure {
  const alternates = alternateSignatures(v);
  return { signature: signatureOf(v), step: v.step, detail: v.detail, rule: v.rule, ...(alternates.length > 0 ? { alternates } : {}) };
}

/** The signature of a trace whose re-execution gave different outcomes. */
export function nondeterminismSignature(what: string): Signature {
  return { invariant: INVARIANTS.nondeterminism, op: 'run', detail: `${what} differ on re-execution` };
}

/** What `report` needs of one execution of a trace. */
export interface Executed {
  opsRun: number;
  first: Violation | null;
}

export type InjectedFault = 'throw' | 'exit' | 'hang';

/** Injected faults by run index (the test hook above), read once per engine. */
export function injectedFaults(spec: string | undefined = process.env.EPTFUZZ_INJECT_WORKER_FAULT): Map<number, InjectedFault> {
  const out = new Map<number, InjectedFault>();
  for (const part of (spec ?? '').split(',')) {
    const m = /^(throw|exit|hang)@(\d+)$/.exec(part.trim());
    if (m !== null) out.set(Number(m[2]), m[1] as InjectedFault);
  }
  return out;
}

/** The `hang@R` hook on a worker thread: an endless loop only terminating the thread ends. */
function spinForever(): never {
  for (;;) { /* hung */ }
}

/** The first line of a thrown value, bounded (fault reports carry it as the failure detail). */
function describeThrown(e: unknown): string {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const line = text.split('\n')[0];
  return line.length <= 200 ? line : line.slice(0, 199) + '…';
}

export class RunEngine {
  private readonly faults = injectedFaults();
  private readonly root: Rng;
  private readonly features: ReadonlySet<Feature>;
  private readonly balanced: OpWeights;
  private epoch = -1;
  private weights: OpWeights;
  private weightsText = '';
  private readonly corpus = new CorpusPool();
  private readonly coverage = new Coverage();
  /** Rule coverage of the run being executed (its first execution only). */
  private readonly rules = new RuleCounter(this.coverage);

  constructor(readonly cfg: EngineConfig, private readonly target: Target) {
    this.root = new Rng(cfg.root);
    this.features = new Set(cfg.features);
    this.balanced = restrictWeights({ ...DEFAULT_WEIGHTS }, this.features);
    this.weights = this.balanced;
  }

  applySync(sync: Sync): void {
    for (const e of sync.corpus) this.corpus.push(e, e.features ?? this.featuresOf(e.trace));
    this.coverage.merge(sync.features);
  }

  /**
   * Every coverage feature a corpus trace reaches (the seed scheduler's input, corpus.ts): the
   * trace run once more on this engine's target, a pure function of the trace, so every engine
   * and hub machine weighs an entry alike. None when the run throws outside the checks.
   */
  private featuresOf(trace: Trace): number[] {
    const set = new FeatureSet();
    try {
      runWith(trace, this.target, { observer: set });
    } catch {
      return [];
    }
    return [...set.features];
  }

  private weightsFor(run: number): OpWeights {
    const epoch = Math.floor(run / SWARM_EPOCH_RUNS);
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.weights = this.cfg.swarm && epoch > 0 ? swarmWeights(this.root.derive(`swarm${epoch}`), this.features) : this.balanced;
      this.weightsText = formatWeights(this.weights);
    }
    return this.weights;
  }

  /** Run r's trace: deterministic in r and the corpus. */
  makeTrace(run: number): { trace: Trace; mutated: boolean } {
    const weights = this.weightsFor(run);
    const rng = this.root.derive(`run${run}`);
    const opts = { opsMax: this.cfg.opsMax, features: this.features, weights, config: this.cfg.config, fixedConfig: this.cfg.fixedConfig === true };
    const provenance = { ops_max: this.cfg.opsMax, features: [...this.features].sort().join(','), weights: this.weightsText };
    if (this.corpus.size > 0 && rng.chance(MUTATE_PROBABILITY)) {
      // A mutated trace runs on the configuration of the epoch it is mutated in (the one a fresh
      // trace of run r gets, generate.ts configForStream), not its parent's: a pure function of r.
      const config = opts.fixedConfig ? this.cfg.config : configForStream(rng.seed, this.cfg.config);
      const parent = this.corpus.pick(rng);
      const other = this.corpus.size > 1 ? this.corpus.pick(rng).trace.ops : null;
      const child = mutate(parent.trace.ops, other, rng, { ...opts, config });
      const trace = makeTrace(config, child.ops, { seed: rng.seed, options: { ...provenance, parent: parent.hash, mutations: child.applied.join(',') } });
      return { trace, mutated: true };
    }
    const trace = generateTrace(rng, opts);
    trace.provenance = { seed: rng.seed, options: provenance };
    return { trace, mutated: false };
  }

  runOne(run: number): RunReport {
    const inject = this.faults.get(run);
    if (inject !== undefined) {
      this.faults.delete(run);
      if (inject === 'exit' && !isMainThread) process.exit(70);
      if (inject === 'hang' && !isMainThread) spinForever();
      throw new Error(`injected fault at run ${run}`);
    }
    const { trace, mutated } = this.makeTrace(run);
    const sampled = this.cfg.stabilityEvery > 0 && run % this.cfg.stabilityEvery === 0;
    const exec = (observer: StepObserver): Executed => runWith(trace, this.target, { observer, stopAtFirst: true });
    return this.report(run, trace, mutated, exec, sampled ? exec : null, true);
  }

  /** Whether run r is re-executed for the determinism self-check. */
  sampled(run: number): boolean {
    return this.cfg.stabilityEvery > 0 && run % this.cfg.stabilityEvery === 0;
  }

  /**
   * Run r's report from an execution of its trace (`exec` runs it once with the given observer,
   * feeding the coverage map; `again`, when r is sampled, runs it a second time). Shared by the
   * built-in machine's path (runOne) and external targets (src/fuzz/target-executor.ts).
   * `withFeatures`: report every feature the run reached (for the seed schedule) when it may join
   * the corpus; only when `exec` ran this engine's own target, which `featuresOf` runs too (an
   * external target's outcomes can differ from the model's, and a hub engine recomputes them).
   */
  report(run: number, trace: Trace, mutated: boolean, exec: (o: StepObserver) => Executed, again: ((o: StepObserver) => Executed) | null, withFeatures = false): RunReport {
    const coverage = this.coverage;
    coverage.beginRun();
    const digest = again !== null ? new OutcomeDigest(coverage) : null;
    this.rules.beginRun(digest ?? coverage);
    const result = exec(this.rules);
    const fresh = coverage.fresh().slice();
    const rules = this.rules.pairs();
    let failure: RunReport['failure'] = result.first === null ? null : failureOf(result.first);
    let stable: boolean | null = null;
    if (digest !== null && again !== null) {
      const other = new OutcomeDigest(null);
      const second = again(other);
      const what = other.hash !== digest.hash || other.steps !== digest.steps || second.opsRun !== result.opsRun ? 'outcomes'
        : (second.first === null) !== (result.first === null) || (second.first !== null && result.first !== null && !sameSignature(signatureOf(second.first), signatureOf(result.first))) ? 'violations'
          : null;
      stable = what === null;
      if (what !== null) failure = { signature: nondeterminismSignature(what), step: 0, detail: `re-executing the trace gave different ${what}` };
    }
    const keep = failure !== null || fresh.length > 0;
    const features = withFeatures && keep && failure === null ? coverage.runFeatures() : null;
    return { run, ops: result.opsRun, mutated, fresh, trace: keep ? trace : null, failure, stable, rules, ...(features !== null ? { features } : {}) };
  }

  /**
   * Run r reported as a harness fault: its trace (made again, not run) and `detail`. If even
   * making the trace fails, an empty trace whose provenance names the run stands in.
   */
  faultReport(run: number, detail: string): RunReport {
    let trace: Trace;
    let mutated = false;
    try {
      ({ trace, mutated } = this.makeTrace(run));
    } catch (e) {
      trace = makeTrace(this.cfg.config, [], { seed: this.root.derive(`run${run}`).seed, options: { fault: `making the trace threw: ${describeThrown(e)}` } });
    }
    const signature = workerFaultSignature(detail);
    return { run, ops: 0, mutated, fresh: [], trace: { ...trace, signature }, failure: { signature, step: 0, detail }, stable: null, rules: [] };
  }

  /**
   * Runs a share; `progress(r)` is called before run r and `progress(-1)` after it (worker
   * threads publish it, so the pool knows which run a dead worker was running).
   */
  runShare(share: Share, progress?: (run: number) => void): RunReport[] {
    return [...this.shareSteps(share, progress)];
  }

  /** `runShare` one run at a time (the inline executor yields to timers and signals between runs). */
  *shareSteps(share: Share, progress?: (run: number) => void): Generator<RunReport, void, void> {
    if (share.sync !== null) this.applySync(share.sync);
    for (let r = share.start; r < share.end; r += share.step) {
      const faulted = share.faulted?.find((f) => f.run === r);
      if (faulted !== undefined) {
        yield this.faultReport(r, faulted.detail);
        continue;
      }
      progress?.(r);
      let rep: RunReport;
      try {
        rep = this.runOne(r);
      } catch (e) {
        rep = this.faultReport(r, FAULT_THREW);
        if (rep.failure !== null) rep.failure.detail = `${FAULT_THREW}: ${describeThrown(e)}`;
      }
      progress?.(-1);
      yield rep;
    }
  }

}
