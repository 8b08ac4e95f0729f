/**
 * `runHv(config, ops)`: a hv-mode run for the hv tests, in their shape (every violation, every
 * outcome). A thin wrapper: the one runner (src/check/runner.ts) runs hv-mode traces on HV_TARGET
 * (the Hypervisor against the hv reference model, with the hypervisor invariants after every op
 * and in full at sweeps and at the end).
 * Contract: deterministic; the same checks and violation ids as `runWith` on a hv-mode trace.
 */
import type { AnyOutcome } from '../../hw/outcome.js';
import { configMode, type MachineConfig } from '../../hw/config.js';
import type { AnyOp } from '../../trace/ops.js';
import { SCHEMA_VERSION } from '../../trace/trace.js';
import { runWith } from '../runner.js';
import { HV_TARGET } from '../targets.js';

export { HV_TARGET };

export interface HvViolation {
  invariant: string;
  step: number;
  op: string;
  detail: string;
  coarse: string;
}

export interface HvRunResult {
  opsRun: number;
  violations: HvViolation[];
  outcomes: AnyOutcome[];
}

export interface HvRunOptions {
  stopAtFirst?: boolean;
  sweepEveryOps?: number;
}

/** Sweep period of hv runs here (the hv tests' traces are short; the runner's default is 1024). */
export const HV_SWEEP_EVERY_OPS = 256;

export function runHv(config: MachineConfig, ops: readonly AnyOp[], options: HvRunOptions = {}): HvRunResult {
  const hvConfig: MachineConfig = configMode(config) === 'hv' ? config : { ...config, mode: 'hv' };
  const trace = { schema: SCHEMA_VERSION, eptfuzz: '0.1.0', machine: hvConfig, ops: ops.slice() };
  const r = runWith(trace, HV_TARGET, { records: true, stopAtFirst: options.stopAtFirst ?? true, sweepEveryOps: options.sweepEveryOps ?? HV_SWEEP_EVERY_OPS });
  const violations: HvViolation[] = [];
  const outcomes: AnyOutcome[] = [];
  for (const rec of r.records ?? []) {
    outcomes.push(rec.actual);
    for (const v of rec.violations) violations.push(v);
  }
  for (const v of r.final) violations.push(v);
  // A step that threw has no record: its violation is the run's first.
  if (r.first !== null && !violations.includes(r.first)) violations.unshift(r.first);
  return { opsRun: r.opsRun, violations, outcomes };
}
