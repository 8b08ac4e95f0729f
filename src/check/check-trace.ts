/**
 * `checkTrace(trace, target)`: runs any trace with every check, stopping at the first violation:
 * bare-mode traces on the runner against `target`, hv-mode traces (docs/hypervisor.md) on the
 * hypervisor runner against its own model (the target does not apply to them).
 * Contract: deterministic; the result names the first violation (or null) in the runner's shape,
 * so callers that only need pass/fail and a signature (corpus add, the corpus replay test) need
 * not know the mode.
 */
import { configMode } from '../hw/config.js';
import type { AnyOp } from '../trace/ops.js';
import type { Signature, Trace } from '../trace/trace.js';
import { runHv } from './hv/run.js';
import { runWith, type Target } from './runner.js';

export interface CheckedViolation {
  invariant: string;
  step: number;
  op: string;
  detail: string;
  coarse: string;
}

export interface TraceCheck {
  opsRun: number;
  first: CheckedViolation | null;
}

export function checkTrace(trace: Trace, target: Target): TraceCheck {
  if (configMode(trace.machine) === 'hv') {
    const r = runHv(trace.machine, trace.ops as readonly AnyOp[], { stopAtFirst: true });
    return { opsRun: r.opsRun, first: r.violations[0] ?? null };
  }
  const r = runWith(trace, target, { stopAtFirst: true });
  return { opsRun: r.opsRun, first: r.first };
}

export function checkedSignature(v: CheckedViolation): Signature {
  return { invariant: v.invariant, op: v.op, detail: v.coarse };
}
