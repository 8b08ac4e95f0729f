/**
 * Judging a target's run of a lowered trace: the reference model against the recorded outcomes,
 * with the ordinary runner and checkers, and every step named in the original trace's terms.
 * Contract: only the steps the target ran are judged (a trace it stopped is judged up to the stop,
 * and the stop is reported, never counted as a finding); a violation at a harness op is reported
 * at the original op that op prepares, with the harness op's kind (`fetch` for the stub probe).
 */
import { runWith, type RunResult, type StepObserver, type StepRecord, type Target } from '../check/runner.js';
import type { Violation } from '../check/violation.js';
import { ReferenceModel } from '../model/model.js';
import type { Lowered } from './bochs/lower.js';
import { RecordedMachine } from './recorded.js';
import type { TraceRunResult } from './results.js';

export interface Judged {
  /** The first violation, its step an index of the original trace. */
  first: Violation | null;
  violationCount: number;
  /** With records: every judged step (harness steps have `harness` true). */
  records: Array<StepRecord & { harness: boolean; original: number }> | null;
  final: Violation[];
  /** Original ops judged. */
  opsRun: number;
  /** Where the target stopped the trace (original step), or null. */
  stopped: { step: number; why: string } | null;
}

/** The original op index a lowered step belongs to (a harness op belongs to the op after it). */
export function originalStep(origin: Int32Array, i: number, originalLength: number): number {
  for (let k = i; k < origin.length; k++) if (origin[k] >= 0) return origin[k];
  return originalLength;
}

/** An observer that sees only the original trace's steps (coverage is about the trace, not the harness). */
function originalOnly(inner: StepObserver, origin: Int32Array): StepObserver {
  let i = 0;
  return { observe: (op, actual) => { if (origin[i++] >= 0) inner.observe(op, actual); } };
}

/**
 * Where the harness could no longer run the trace as written: the first stub probe (a harness
 * `fetch` of the stub page) that did not succeed. The guest then cannot reach the stub, so the
 * op the probe prepares never ran as itself (the agent reports its stub's fault in its place).
 * The probe's own outcome is judged; the steps after it are not.
 */
function probeStop(lowered: Lowered, run: TraceRunResult): { step: number; why: string } | null {
  for (let i = 0; i < run.steps.length; i++) {
    const op = lowered.trace.ops[i];
    if (lowered.origin[i] >= 0 || op.op !== 'fetch' || run.steps[i].outcome.kind === 'ok') continue;
    return { step: i + 1, why: `the guest cannot fetch the stub (its probe fetch gave ${run.steps[i].outcome.kind})` };
  }
  return null;
}

/**
 * `reserved` (from the pre-run, src/target/bochs/watch.ts) is where the trace reaches memory the
 * target keeps: judging stops there too, whichever stop comes first.
 */
export function judge(lowered: Lowered, originalLength: number, given: TraceRunResult, records = false, observer?: StepObserver,
  reserved: { step: number; why: string } | null = null, watch: readonly number[] | null = null): Judged {
  let stop = probeStop(lowered, given);
  if (reserved !== null && (stop === null || reserved.step < stop.step)) stop = reserved;
  // A stop at the very end of what the target ran (a trace sent only up to its stop) is reported too.
  const run: TraceRunResult = stop === null || stop.step > given.steps.length || (stop.step === given.steps.length && given.stopped !== null) ? given
    : { ...given, steps: given.steps.slice(0, stop.step), stopped: stop };
  const ran = run.steps.length;
  const trace = { ...lowered.trace, ops: lowered.trace.ops.slice(0, ran) };
  // Frames outside the watch list read as the model's own (RecordedMachine): never a finding.
  let model: ReferenceModel | null = null;
  const watched = watch === null ? null : new Set(watch);
  const target: Target = {
    makeMachine: () => new RecordedMachine(run.steps, watched, (f) => model?.frameView(f) ?? null),
    makeModel: (config) => (model = new ReferenceModel(config)),
  };
  const r: RunResult = runWith(trace, target, { records, stopAtFirst: !records, ...(observer !== undefined ? { observer: originalOnly(observer, lowered.origin) } : {}) });
  const map = (v: Violation): Violation => ({ ...v, step: originalStep(lowered.origin, v.step, originalLength) });
  const stoppedAt = run.stopped === null ? null : originalStep(lowered.origin, run.stopped.step, originalLength);
  const opsRun = ran >= lowered.origin.length ? originalLength : originalStep(lowered.origin, ran, originalLength);
  return {
    first: r.first === null ? null : map(r.first),
    violationCount: r.violationCount,
    records: r.records === null ? null : r.records.map((rec) => ({
      ...rec,
      violations: rec.violations.map(map),
      harness: lowered.origin[rec.step] < 0,
      original: originalStep(lowered.origin, rec.step, originalLength),
    })),
    final: r.final.map(map),
    opsRun,
    stopped: run.stopped === null || stoppedAt === null ? null : { step: stoppedAt, why: run.stopped.why },
  };
}
