/**
 * Runs a hv-mode trace: every op on the Hypervisor and on the hv reference model; the model is
 * kept on the branch the hypervisor took; after every op the outcome is checked against the
 * allowed ones, the frames either side wrote are compared, and the hypervisor invariants run
 * (incrementally; a full sweep every `sweepEveryOps` ops and at the end).
 * Contract: deterministic; mirrors src/check/runner.ts (same violation shape and outcome
 * invariants) until that runner takes AnyOp/AnyOutcome, then `HV_TARGET` plugs into it.
 */
import { formatOutcome, sameOutcome, type AnyOutcome } from '../../hw/outcome.js';
import type { MachineConfig } from '../../hw/config.js';
import type { AnyOp } from '../../trace/ops.js';
import { Hypervisor } from '../../hv/hypervisor.js';
import { HvModel, type HvCandidate } from '../../spec/hv/model.js';
import { checkFrames } from '../checkers.js';
import { INVARIANTS } from '../violation.js';
import type { HvFinding } from './invariants.js';

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

/** The hypervisor and its reference model, as the runner builds them. */
export const HV_TARGET = {
  makeMachine: (config: MachineConfig): Hypervisor => new Hypervisor(config),
  makeModel: (config: MachineConfig): HvModel => new HvModel(config),
};

const outcomeShape = (o: AnyOutcome): string => (o.kind === 'hv_exit' ? `hv_exit ${o.exit}` : o.kind === 'handled' ? `handled ${o.then.kind}` : o.kind);

function sameFrames(hv: Hypervisor, c: HvCandidate): boolean {
  const touched = hv.touchedFrames();
  if (touched.length !== c.frames.length || touched.some((f) => !c.bytes.has(f))) return false;
  for (const f of touched) {
    const mine = hv.frameBytes(f);
    const theirs = c.bytes.get(f)!;
    if (mine === null || mine.some((b, i) => b !== theirs[i])) return false;
  }
  return true;
}

export function runHv(config: MachineConfig, ops: readonly AnyOp[], options: HvRunOptions = {}): HvRunResult {
  const stopAtFirst = options.stopAtFirst ?? true;
  const sweepEvery = Math.max(1, options.sweepEveryOps ?? 256);
  const hv = HV_TARGET.makeMachine(config);
  const model = HV_TARGET.makeModel(config);
  const violations: HvViolation[] = [];
  const outcomes: AnyOutcome[] = [];
  const seen = new Set<number>();
  const report = (step: number, op: string, f: { invariant: string; detail: string; coarse: string }): void => {
    violations.push({ invariant: f.invariant, step, op, detail: f.detail, coarse: f.coarse });
  };
  const findings = (step: number, op: string, list: HvFinding[]): void => { for (const f of list) report(step, op, f); };
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    let spec;
    let actual: AnyOutcome;
    try {
      spec = model.step(op);
      actual = hv.apply(op);
    } catch (e) {
      report(i, op.op, { invariant: INVARIANTS.exception, detail: String(e), coarse: 'threw' });
      return { opsRun: i + 1, violations, outcomes };
    }
    outcomes.push(actual);
    const same = spec.allowed.filter((c) => sameOutcome(c.outcome, actual));
    // Several branches (cached or walked translations) can give one outcome with different A/D
    // bytes: follow the one whose written frames are the machine's.
    let chosen: HvCandidate | undefined = same.length > 1 ? same.find((c) => sameFrames(hv, c)) ?? same[0] : same[0];
    if (chosen === undefined) {
      const expected = spec.allowed[0].outcome;
      report(i, op.op, {
        invariant: INVARIANTS.exitReason,
        detail: `hypervisor ${formatOutcome(actual)}; model allows ${spec.allowed.map((c) => formatOutcome(c.outcome)).join(' | ')}`,
        coarse: `${outcomeShape(actual)} instead of ${outcomeShape(expected)}`,
      });
      chosen = spec.allowed[0];
    }
    model.commit(chosen);
    const touched = hv.touchedFrames();
    for (const f of touched) seen.add(f);
    for (const f of chosen.frames) seen.add(f);
    const lost = checkFrames(hv, model, touched) ?? checkFrames(hv, model, chosen.frames);
    if (lost !== null) report(i, op.op, lost);
    findings(i, op.op, hv.invariants(false));
    if ((i + 1) % sweepEvery === 0) findings(i, 'sweep', hv.invariants(true));
    if (stopAtFirst && violations.length > 0) return { opsRun: i + 1, violations, outcomes };
  }
  const swept = checkFrames(hv, model, seen);
  if (swept !== null) report(ops.length, 'sweep', swept);
  findings(ops.length, 'sweep', hv.invariants(true));
  return { opsRun: ops.length, violations, outcomes };
}
