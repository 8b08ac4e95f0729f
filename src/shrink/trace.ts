/**
 * Minimizes a failing trace while keeping its signature (invariant id + op kind + coarse detail).
 * Contract: returns null when the trace does not fail (or fails with another signature than the
 * one asked for); otherwise a trace whose first violation has the same signature, with
 * `signature` set, the same header and provenance, and a report. `minimizeTraceSteps` yields
 * after every run of the trace (see budget.ts), for campaigns that minimize in slices.
 */
import { runWith, type Target } from '../check/runner.js';
import { sameSignature, signatureOf, SWEEP_OP } from '../check/violation.js';
import type { Op } from '../trace/ops.js';
import type { Signature, Trace } from '../trace/trace.js';
import { drive, type BudgetOptions, type Steps } from './budget.js';
import { shrinkSteps, type ShrinkReport } from './minimize.js';

export interface MinimizeResult {
  trace: Trace;
  signature: Signature;
  report: ShrinkReport;
}

/** The signature of a trace's first violation, or null when it passes. */
export function traceSignature(trace: Trace, target: Target): { signature: Signature; step: number } | null {
  const r = runWith(trace, target, { stopAtFirst: true });
  return r.first === null ? null : { signature: signatureOf(r.first), step: r.first.step };
}

export function* minimizeTraceSteps(trace: Trace, target: Target, opts: Partial<BudgetOptions> = {}, want?: Signature): Steps<MinimizeResult | null> {
  const found = traceSignature(trace, target);
  yield;
  if (found === null) return null;
  const signature = want ?? found.signature;
  if (!sameSignature(signature, found.signature)) return null;
  const keeps = (ops: Op[]): boolean => {
    const r = runWith({ ...trace, ops }, target, { stopAtFirst: true });
    return r.first !== null && sameSignature(signatureOf(r.first), signature);
  };
  // Ops after the failing step never ran: drop them before ddmin spends steps on them.
  let ops = trace.ops;
  if (signature.op !== SWEEP_OP && found.step + 1 < ops.length) {
    const cut = ops.slice(0, found.step + 1);
    const ok = keeps(cut);
    yield;
    if (ok) ops = cut;
  }
  const shrunk = yield* shrinkSteps(ops, keeps, opts);
  shrunk.report.opsBefore = trace.ops.length;
  const out: Trace = { ...trace, ops: shrunk.ops, signature };
  return { trace: out, signature, report: shrunk.report };
}

export function minimizeTrace(trace: Trace, target: Target, opts: Partial<BudgetOptions> = {}, want?: Signature): MinimizeResult | null {
  return drive(minimizeTraceSteps(trace, target, opts, want));
}
