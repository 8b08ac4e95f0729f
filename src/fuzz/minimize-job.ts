/**
 * Background minimization: a minimization that runs in bounded slices between a campaign's
 * batches (inline) or while it waits for its workers, so finding a new signature never stalls
 * generation.
 * Contract: the result is the one `minimizeTrace` gives for the same input and budget: slicing
 * changes when the work happens, never what it computes. The time limit counts only the job's
 * own slices (not the campaign running around it), so it binds as it would standalone.
 * A harness fault (protocol.ts WORKER_FAULT: the worker running the trace threw, died or hung) is
 * not minimized: its result is null at once, and running the trace here could fault (or hang) the
 * main thread.
 */
import type { Target } from '../check/runner.js';
import { minimizeTraceSteps, type MinimizeResult } from '../shrink/trace.js';
import type { Steps } from '../shrink/budget.js';
import type { Signature, Trace } from '../trace/trace.js';
import { WORKER_FAULT } from './protocol.js';

export class MinimizeJob {
  private readonly steps: Steps<MinimizeResult | null> | null;
  private activeMs = 0;
  private sliceStart: number | null = null;
  /** undefined while running; then the result (null: the failure did not reproduce). */
  result: MinimizeResult | null | undefined = undefined;

  constructor(
    readonly hash: string,
    readonly signature: Signature,
    readonly trace: Trace,
    target: Target,
    budget: { stepsMax: number; msMax: number },
  ) {
    if (signature.invariant === WORKER_FAULT) {
      this.steps = null;
      this.result = null;
      return;
    }
    const now = (): number => this.activeMs + (this.sliceStart === null ? 0 : performance.now() - this.sliceStart);
    this.steps = minimizeTraceSteps(trace, target, { stepsMax: budget.stepsMax, msMax: budget.msMax, now }, signature);
  }

  get done(): boolean {
    return this.result !== undefined;
  }

  /** Works for about `sliceMs` (at least one step); true once finished. */
  slice(sliceMs: number): boolean {
    if (this.result !== undefined || this.steps === null) return true;
    const start = performance.now();
    this.sliceStart = start;
    try {
      for (;;) {
        const r = this.steps.next();
        if (r.done === true) {
          this.result = r.value;
          return true;
        }
        if (performance.now() - start >= sliceMs) return false;
      }
    } finally {
      this.activeMs += performance.now() - start;
      this.sliceStart = null;
    }
  }
}
