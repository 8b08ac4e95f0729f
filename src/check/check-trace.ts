/**
 * `checkTrace(trace, target)`: runs any trace with every check, stopping at the first violation:
 * the runner picks the mode's pair (bare: `target`; hv: `target.hv`, the hypervisor against its
 * reference model or a bug-free copy, src/check/targets.ts).
 * Contract: deterministic; the result names the first violation (or null) in the runner's shape.
 */
import type { Signature, Trace } from '../trace/trace.js';
import { runWith, type Target } from './runner.js';
import { signatureOf } from './violation.js';

export interface CheckedViolation {
  invariant: string;
  step: number;
  op: string;
  detail: string;
  coarse: string;
  /** The id of the rule in dispute (docs/rules.md). */
  rule: string;
}

export interface TraceCheck {
  opsRun: number;
  first: CheckedViolation | null;
}

export function checkTrace(trace: Trace, target: Target): TraceCheck {
  const r = runWith(trace, target, { stopAtFirst: true });
  return { opsRun: r.opsRun, first: r.first };
}

export function checkedSignature(v: CheckedViolation): Signature {
  return signatureOf(v);
}
