/**
 * The executor for an external target (Bochs, an adapter command): each batch of the campaign's
 * run space becomes one target batch (one Bochs boot runs 64 traces), judged on the main thread.
 * It is a pipeline: a batch is lowered and encoded when it is submitted (while the target runs
 * an earlier one), and a target slot is free again as soon as the target's run of a batch ends,
 * so the next batch starts on the target while this thread judges the last one.
 * Contract (the Executor contract of executor.ts): traces are made at `submit`, in submit order,
 * by the same RunEngine the built-in executors use (so run r's trace depends only on r and the
 * syncs), fitted to the target (src/target/fit.ts); `next` resolves with the oldest batch's
 * reports in run order. Up to `parallel` batches run at once (one target process each). A trace
 * the target dies, hangs or garbles its output on is a harness fault of its own (TARGET_FAULT),
 * never a lost run; a sampled run (the determinism self-check) is sent twice in its batch.
 */
import { setImmediate as immediate } from 'node:timers/promises';
import type { StepObserver } from '../check/runner.js';
import { prepareOnTarget, runPrepared, type ExternalTarget, type PreparedBatch, type TraceVerdict } from '../target/external.js';
import { fitToTarget } from '../target/fit.js';
import type { Signature, Trace } from '../trace/trace.js';
import { RunEngine, type Executed } from './engine.js';
import { trackExecutor, type Executor } from './executor.js';
import { killRunningTargets } from '../target/exec.js';
import type { EngineConfig, RunReport, Sync } from './protocol.js';
import { MODEL_TARGET } from '../check/targets.js';

/** Invariant id of a trace the target itself failed on (died, hung, unreadable output). */
export const TARGET_FAULT = 'harness.target-fault';

/** The coarse kind of a target fault (signatures group by it; the detail keeps the full line). */
export function targetFaultSignature(why: string): Signature {
  const kind = /agentcorrupt/.test(why) ? 'the trace overwrote the guest agent'
    : /hostfault/.test(why) ? 'the guest agent faulted'
    : /did not finish/.test(why) ? 'the target hung'
    : /target output/.test(why) ? 'the target printed unreadable output'
      : /cannot start/.test(why) ? 'the target could not be started'
        : 'the target died';
  return { invariant: TARGET_FAULT, op: 'run', detail: kind };
}

interface Made {
  run: number;
  trace: Trace;
  mutated: boolean;
  sampled: boolean;
}

interface Pending {
  made: Made[];
  /** The batch lowered and encoded at submit (or what that threw: the batch's verdicts reject with it). */
  prepared: PreparedBatch | { error: unknown };
  /** Set when the batch is started (its target run, then its judging). */
  verdicts: Promise<TraceVerdict[]> | null;
}

export class TargetExecutor implements Executor {
  readonly workers: number;
  private readonly engine: RunEngine;
  private readonly pending: Pending[] = [];
  private running = 0;
  private abandoned = false;
  private abandonWaiters: Array<() => void> = [];
  private readonly untrack: () => void;

  constructor(cfg: EngineConfig, private readonly target: ExternalTarget, init: Sync, parallel: number) {
    this.workers = Math.max(1, parallel);
    // The engine only makes traces and keeps coverage here; MODEL_TARGET is never run by it.
    this.engine = new RunEngine(cfg, MODEL_TARGET);
    this.engine.applySync(init);
    this.untrack = trackExecutor(this);
  }

  /** Drops every unfinished batch at once and stops the target processes running them. */
  abandon(): void {
    this.abandoned = true;
    killRunningTargets();
    for (const w of this.abandonWaiters) w();
    this.abandonWaiters = [];
  }

  submit(_batch: number, start: number, end: number, sync: Sync | null): void {
    if (sync !== null) this.engine.applySync(sync);
    const made: Made[] = [];
    for (let r = start; r < end; r++) {
      const { trace, mutated } = this.engine.makeTrace(r);
      made.push({ run: r, trace: fitToTarget(trace, this.target.profile), mutated, sampled: this.engine.sampled(r) });
    }
    // Prepared now, while the target runs an earlier batch (this thread is otherwise idle).
    const traces: Trace[] = [];
    for (const m of made) { traces.push(m.trace); if (m.sampled) traces.push(m.trace); }
    let prepared: Pending['prepared'];
    try {
      prepared = prepareOnTarget(this.target, traces);
    } catch (e) {
      prepared = { error: e };
    }
    this.pending.push({ made, prepared, verdicts: null });
    this.pump();
  }

  /** Starts queued batches while fewer than `workers` run. */
  private pump(): void {
    if (this.abandoned) return; // a stopped campaign starts no target process
    for (const p of this.pending) {
      if (this.running >= this.workers) return;
      if (p.verdicts === null) this.start(p);
    }
  }

  /**
   * Starts `p`: its slot is taken until its target run ends (then the next batch may start while
   * this one is judged). `p.verdicts` is set before anything can free the slot (a batch with
   * nothing to run frees it at once), so a batch never starts twice.
   */
  private start(p: Pending): void {
    this.running++;
    let released = false;
    let settle!: (v: Promise<TraceVerdict[]>) => void;
    p.verdicts = new Promise<TraceVerdict[]>((resolve) => { settle = resolve; });
    const release = (): void => {
      if (released) return;
      released = true;
      this.running--;
      this.pump();
    };
    const prepared = p.prepared;
    settle(('error' in prepared ? Promise.reject(prepared.error) : runPrepared(this.target, prepared, { onTargetDone: release })).finally(release));
  }

  async next(): Promise<RunReport[]> {
    await immediate();
    const p = this.pending.shift();
    if (p === undefined) throw new Error('TargetExecutor.next with no batch submitted');
    if (p.verdicts === null) this.start(p);
    if (this.abandoned) return [];
    const abandoned = new Promise<null>((resolve) => { this.abandonWaiters.push(() => resolve(null)); });
    const verdicts = await Promise.race([(p.verdicts as Promise<TraceVerdict[]>).catch(() => null), abandoned]);
    if (this.abandoned || verdicts === null) return [];
    const out: RunReport[] = [];
    let k = 0;
    for (const m of p.made) {
      const first = verdicts[k++];
      const second = m.sampled ? verdicts[k++] : null;
      out.push(this.report(m, first, second));
    }
    return out;
  }

  private report(m: Made, v: TraceVerdict, again: TraceVerdict | null): RunReport {
    if (v.kind === 'fault') {
      const signature = targetFaultSignature(v.why);
      return { run: m.run, ops: 0, mutated: m.mutated, fresh: [], trace: { ...m.trace, signature }, failure: { signature, step: 0, detail: v.why }, stable: null, rules: [] };
    }
    const exec = (verdict: TraceVerdict) => (observer: StepObserver): Executed =>
      verdict.kind === 'judged' ? observeJudged(verdict, observer) : { opsRun: 0, first: null };
    return this.engine.report(m.run, m.trace, m.mutated, exec(v), again === null ? null : exec(again));
  }

  async close(): Promise<void> {
    this.untrack();
    // Batches still running (a campaign stopped by its run count never has any) are not waited for.
    if (this.pending.length > 0) killRunningTargets();
  }
}

/** Feeds a judged run's original steps to `observer` and returns what the judge found. */
function observeJudged(v: Extract<TraceVerdict, { kind: 'judged' }>, observer: StepObserver): Executed {
  for (const { op, actual } of v.observed) observer.observe(op, actual);
  return { opsRun: v.judged.opsRun, first: v.judged.first };
}
