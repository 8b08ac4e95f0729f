/**
 * Running traces on an external target: refuse what it cannot run, lower and encode the rest as
 * batches, run them through the adapter command, and judge each reported trace.
 * Contract: one verdict per input trace, in order: `refused` (static, with the one-line reason),
 * `judged` (the reference model against the target's outcomes), or `fault` (the target died, hung
 * or garbled its output on this very trace, isolated by re-running it alone). A batch that breaks
 * never loses the other traces: the ones it reported are kept and the rest are run again.
 * `runOnTarget` is `prepareOnTarget` (refusals, lowering, pre-runs, encoding) then `runPrepared`
 * (the target's run, then judging), split so that a pipeline (`runPipelined`, the campaign's
 * TargetExecutor) prepares and judges other batches while a target process runs.
 */
import type { Outcome } from '../hw/outcome.js';
import type { Op } from '../trace/ops.js';
import type { Trace } from '../trace/trace.js';
import { encodeBatch, type BatchTrace } from './bochs/batch.js';
import type { Lowered } from './bochs/lower.js';
import { STUB_LA_SUP, STUB_LA_USER } from './bochs/profile.js';
import { WATCH_FRAMES_MAX } from './bochs/watch.js';
import { agentBatchFlags, agentTrace } from './lowering.js';
import { execBatch } from './exec.js';
import { judge, type Judged } from './judge.js';
import { runnableOn } from './domain.js';
import type { TargetProfile } from './profile.js';
import type { TraceRunResult } from './results.js';

export interface ExternalTarget {
  profile: TargetProfile;
  /** The adapter command; the batch file's path is appended. */
  command: readonly string[];
}

export type TraceVerdict =
  | { kind: 'refused'; why: string }
  | { kind: 'judged'; judged: Judged; run: TraceRunResult; observed: Array<{ op: Op; actual: Outcome }> }
  | { kind: 'fault'; why: string };

export interface BatchStats {
  batches: number;
  /** Wall-clock ms inside the adapter (stats only, never in results). */
  targetMs: number;
  hello: Record<string, string>;
}

/**
 * Time allowed for one batch: the profile's boot allowance plus a generous one per op (default
 * 30 s + 2 ms per op: Bochs runs thousands of ops a second here). EPTFUZZ_TARGET_TIMEOUT_MS
 * replaces the whole figure (slow machines, tests).
 */
export function batchTimeoutMs(ops: number, p?: TargetProfile): number {
  const env = Number(process.env.EPTFUZZ_TARGET_TIMEOUT_MS);
  if (Number.isInteger(env) && env > 0) return env;
  const t = p?.batchTimeout ?? { baseMs: 30_000, perOpMs: 2 };
  return Math.ceil(t.baseMs + ops * t.perOpMs);
}

interface Prepared {
  at: number;
  trace: Trace;
  lowered: Lowered;
  watch: number[];
  reserved: { step: number; why: string } | null;
}

function prepare(trace: Trace, p: TargetProfile): Omit<Prepared, 'at'> | string {
  const why = runnableOn(trace, p);
  if (why !== null) return why;
  const { lowered, watch, reserved } = agentTrace(trace, p);
  if (watch.length > WATCH_FRAMES_MAX) return `the trace writes ${watch.length} frames; the ${p.name} target watches at most ${WATCH_FRAMES_MAX}`;
  return { trace, lowered, watch, reserved };
}

/** A batch lowered and encoded for a target, ready to run (`prepareOnTarget`). */
export interface PreparedBatch {
  /** One slot per input trace: the refusals are filled in already. */
  verdicts: Array<TraceVerdict | undefined>;
  pending: Prepared[];
  /** The encoded batch of every pending trace (the first run sends it). */
  bytes: Uint8Array;
}

export interface RunOptions {
  records?: boolean;
  stats?: BatchStats;
  /**
   * Called once, as soon as the batch's first target run has ended and before its traces are
   * judged (a pipeline starts the next batch's target run here, so that judging overlaps it).
   */
  onTargetDone?: () => void;
}

function itemsOf(list: readonly Prepared[]): BatchTrace[] {
  return list.map((x) => ({ index: x.at, trace: x.lowered.trace, watch: x.watch, stubLaSup: STUB_LA_SUP, stubLaUser: STUB_LA_USER, loadCr3: x.lowered.loadCr3 }));
}

function encodeFor(t: ExternalTarget, items: readonly BatchTrace[]): Uint8Array {
  return encodeBatch(items, t.profile.config.framesMax * 4096, t.profile.config.maxPhyAddr, agentBatchFlags(t.profile));
}

/** The first half of `runOnTarget`: refusals, lowering, pre-runs and the encoded batch (pure, deterministic). */
export function prepareOnTarget(t: ExternalTarget, traces: readonly Trace[]): PreparedBatch {
  const verdicts: Array<TraceVerdict | undefined> = new Array(traces.length);
  const pending: Prepared[] = [];
  traces.forEach((trace, at) => {
    const p = prepare(trace, t.profile);
    if (typeof p === 'string') verdicts[at] = { kind: 'refused', why: p };
    else pending.push({ ...p, at });
  });
  return { verdicts, pending, bytes: encodeFor(t, itemsOf(pending)) };
}

export async function runOnTarget(t: ExternalTarget, traces: readonly Trace[], opts: RunOptions = {}): Promise<TraceVerdict[]> {
  return runPrepared(t, prepareOnTarget(t, traces), opts);
}

/** The second half of `runOnTarget`: runs a prepared batch on the target and judges it. */
export async function runPrepared(t: ExternalTarget, batch: PreparedBatch, opts: RunOptions = {}): Promise<TraceVerdict[]> {
  const verdicts = batch.verdicts;
  let targetDone = opts.onTargetDone;
  const runBatch = async (list: readonly Prepared[]): Promise<{ reported: Map<number, TraceRunResult>; fault: string | null }> => {
    const items = itemsOf(list);
    const ops = items.reduce((n, x) => n + x.trace.ops.length, 0);
    const bytes = list === batch.pending ? batch.bytes : encodeFor(t, items);
    let r;
    try {
      r = await execBatch(t.command, bytes, batchTimeoutMs(ops, t.profile));
    } finally {
      const done = targetDone;
      targetDone = undefined;
      done?.();
    }
    if (opts.stats !== undefined) {
      opts.stats.batches++;
      opts.stats.targetMs += r.ms;
      if (Object.keys(r.result.hello).length > 0) opts.stats.hello = r.result.hello;
    }
    // A trace after which the target ended the batch (it overwrote the agent, or the agent
    // faulted right after it) is that trace's fault, not a judged run.
    const blamed = r.result.abort?.after ?? null;
    if (blamed !== null) r.result.traces.delete(blamed);
    return { reported: r.result.traces, fault: r.fault };
  };
  const settle = (x: Prepared, run: TraceRunResult): void => {
    const observed: Array<{ op: Op; actual: Outcome }> = [];
    const judged = judge(x.lowered, x.trace.ops.length, run, opts.records === true, { observe: (op, actual) => { observed.push({ op, actual }); } }, x.reserved, x.watch);
    verdicts[x.at] = { kind: 'judged', judged, run, observed };
  };
  let rest = batch.pending;
  try {
    while (rest.length > 0) {
      const { reported, fault } = await runBatch(rest);
      const missing: Prepared[] = [];
      for (const x of rest) {
        const run = reported.get(x.at);
        if (run !== undefined) settle(x, run);
        else missing.push(x);
      }
      if (missing.length === 0) break;
      if (fault === null) throw new Error('the target reported the batch done but left traces out without a reason');
      // The first unreported trace is the suspect: alone, it either runs or is the fault.
      const suspect = missing[0];
      const alone = rest.length === 1 ? { reported, fault } : await runBatch([suspect]);
      const run = alone.reported.get(suspect.at);
      if (run !== undefined) settle(suspect, run);
      else verdicts[suspect.at] = { kind: 'fault', why: alone.fault ?? 'the target did not report the trace' };
      rest = missing.slice(1);
    }
  } finally {
    // A batch with nothing to run (all refused), or one that threw, frees its slot too.
    const done = targetDone;
    targetDone = undefined;
    done?.();
  }
  return verdicts.map((v) => v as TraceVerdict);
}

/**
 * Runs `batches` one after another on one target process at a time, as a pipeline: batch k + 1
 * is prepared while the target runs batch k, and batch k is judged while the target runs batch
 * k + 1 (the target is another process, so this overlaps real work even with one worker; it uses
 * up to two cores: this process and the target's). Verdicts come back per batch, in order, the
 * same as `runOnTarget` on each batch.
 */
export async function runPipelined(t: ExternalTarget, batches: ReadonlyArray<readonly Trace[]>, opts: Omit<RunOptions, 'onTargetDone'> = {}): Promise<TraceVerdict[][]> {
  const out: Array<Promise<TraceVerdict[]>> = [];
  let next: PreparedBatch | null = batches.length > 0 ? prepareOnTarget(t, batches[0]) : null;
  for (let k = 0; k < batches.length; k++) {
    const current = next as PreparedBatch;
    let free!: () => void;
    const targetFree = new Promise<void>((resolve) => { free = resolve; });
    const verdicts = runPrepared(t, current, { ...opts, onTargetDone: free });
    verdicts.catch(() => { /* reported by Promise.all below */ });
    out.push(verdicts);
    // Prepared while the target runs batch k (this thread is otherwise idle until it ends).
    next = k + 1 < batches.length ? prepareOnTarget(t, batches[k + 1]) : null;
    await targetFree;
  }
  return Promise.all(out);
}
