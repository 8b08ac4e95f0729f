/**
 * The runner: applies every op of a trace to a machine and to the reference model, keeps the model
 * on the branch the machine took, and runs the checkers after every op.
 * Contract: deterministic for a given trace and target; nothing is allocated per op on the
 * agreeing path beyond what the machine and the model allocate (no JSON, no hashing), so the
 * fuzzer's throughput is bounded by the machine and the model, not by the checks.
 *
 * Per op: the model's `step` gives the allowed candidates; the machine's `apply` gives the actual
 * outcome; the candidate equal to it is committed (when several are equal, the one whose bytes
 * match the machine's, see `pickCandidate`). Then mem.no-lost-write compares
 * the frames either side wrote. A full sweep over every frame seen so far (plus every backed frame
 * of a side that offers `frames()`) runs every `sweepEveryOps` ops and at the end.
 *
 * Modes: a hv-mode trace (`configMode(trace.machine) === 'hv'`) runs on `target.hv` (the
 * Hypervisor and its reference model, src/check/targets.ts) when the target names one. A target
 * with `invariants` (the hypervisor's) has them run on the machine's state after every op
 * (incrementally) and in full at every sweep and at the end; their findings are violations like
 * any other (stable ids from src/check/hv/invariants.ts). A bare target has none: its path is unchanged.
 */
import { configMode, type MachineConfig } from '../hw/config.js';
import type { MachineApi, PageState } from '../hw/api.js';
import type { Outcome } from '../hw/outcome.js';
import { formatOutcome, sameOutcome } from '../hw/outcome.js';
import type { Candidate, ReferenceModelApi, SpecStep } from '../model/api.js';
import type { Op } from '../trace/ops.js';
import type { Trace } from '../trace/trace.js';
import { addAlternates, checkFrame, checkFrames, classifyOutcome, explanationOf, isDataLoss, memoryOnlyFinding, pastStopExplanation, sameBytes, type Finding, type FrameSource } from './checkers.js';
import { INVARIANTS, MORE_SPECIFIC, SWEEP_OP, type InvariantId, type Violation } from './violation.js';
import { ruleGroup, ruleOfCandidate } from './classify.js';
import { ruleId } from '../model/rules.js';

/** How the runner builds the two sides (the real Machine and ReferenceModel, or test fakes). */
export interface Target {
  makeMachine(config: MachineConfig): MachineApi;
  makeModel(config: MachineConfig): ReferenceModelApi;
  /**
   * Invariants over the state of the software under test, checked by the runner after every op
   * (incremental on what the op touched) and over everything with `full` (sweeps, the end): the
   * hypervisor's, src/check/hv/invariants.ts. Absent for the bare machine. The system under test
   * does not know its judge: the target pairs them.
   */
  invariants?(machine: MachineApi, full: boolean): MachineFinding[];
  /** The target hv-mode traces run on (absent: they run on this one). */
  hv?: Target;
}

/** The target a trace of `config` runs on: `target.hv` for a hv-mode configuration. */
export function targetFor(config: MachineConfig, target: Target): Target {
  return configMode(config) === 'hv' && target.hv !== undefined ? target.hv : target;
}

/** Sees every op's outcome (the fuzzer's coverage map). */
export interface StepObserver {
  observe(op: Op, actual: Outcome): void;
  /**
   * Optional: the numeric rule (src/model/rules.ts) of the model candidate the step committed (on a
   * disagreement, the fresh walk's). Called after `observe`; rule coverage counts these.
   */
  observeRule?(op: Op, rule: number): void;
  /**
   * Called after `observe` for a machine with software state of its own (one whose target checks
   * `invariants`: the hypervisor), so coverage can see what the op changed there.
   */
  observeState?(machine: MachineApi): void;
}

export interface RunOptions {
  /** Keep a record of every step (replay --json / --verbose). Default false. */
  records?: boolean;
  /** Stop at the first violation. Default: true without records, false with them. */
  stopAtFirst?: boolean;
  /** Ops between full memory sweeps; the end of the trace always sweeps. */
  sweepEveryOps?: number;
  observer?: StepObserver;
}

/**
 * 1024: a sweep costs one frame compare per frame in play (tens of frames), so at this period
 * it is below 1 % of the run, and a lost write that escaped the per-op check is still found
 * within a bounded number of ops of where it happened.
 */
export const SWEEP_EVERY_OPS_DEFAULT = 1024;

export interface StepRecord {
  step: number;
  op: Op;
  actual: Outcome;
  allowed: Outcome[];
  /** The rule of each allowed outcome (numeric ids, src/model/rules.ts), and whether it is stale. */
  allowedRules: number[];
  allowedStale: boolean[];
  violations: Violation[];
  /** hv mode: the state of the host pages the step touched (MachineApi.touchedPages). */
  states?: ReadonlyArray<PageState>;
}

export interface RunResult {
  /** Ops applied (less than the trace's length when stopped at a violation). */
  opsRun: number;
  first: Violation | null;
  /** Number of violations seen (1 at most when stopping at the first). */
  violationCount: number;
  records: StepRecord[] | null;
  /** Violations of the final sweep (with records: these belong to no step). */
  final: Violation[];
}

/**
 * Optional on a model's Candidate: the bytes `frame` would hold after committing it (null when the
 * frame would be absent, i.e. all zeros). When candidates with equal outcomes differ only in the
 * bytes they write (A/D bits through a stale versus a fresh walk), this is what tells them apart.
 */
export interface FramePreview {
  frameAfter(frame: number): Uint8Array | null;
}

function hasPreview(c: Candidate): c is Candidate & FramePreview {
  return typeof (c as Partial<FramePreview>).frameAfter === 'function';
}

const ZERO_FRAME = new Uint8Array(4096);

function sameFrameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return sameBytes(a ?? ZERO_FRAME, b ?? ZERO_FRAME);
}

/** Whether committing `c` leaves every frame either side writes equal to the machine's bytes. */
function previewMatches(c: Candidate & FramePreview, machine: FrameSourceLike, touched: readonly number[]): boolean {
  const bytes = (f: number): Uint8Array | null => (machine.frameView !== undefined ? machine.frameView(f) : machine.frameBytes(f));
  for (const f of touched) if (!sameFrameBytes(c.frameAfter(f), bytes(f))) return false;
  for (const f of c.frames) if (!touched.includes(f) && !sameFrameBytes(c.frameAfter(f), bytes(f))) return false;
  return true;
}

interface FrameSourceLike {
  frameBytes(frame: number): Uint8Array | null;
  frameView?(frame: number): Uint8Array | null;
}

/**
 * The committed candidate for `actual`. With one equal candidate, that one. With several: the one
 * whose previewed bytes match the machine's (when the model offers `frameAfter`; when all do, the
 * last by elimination, without its preview), else the one
 * whose frames are exactly the machine's touched frames, else one whose frames the machine all
 * touched, else the first.
 */
export function pickCandidate(allowed: readonly Candidate[], actual: Outcome, touched: readonly number[], machine?: FrameSourceLike): Candidate | null {
  if (allowed.length === 1) return sameOutcome(allowed[0].outcome, actual) ? allowed[0] : null;
  let first: Candidate | null = null;
  let count = 0;
  for (const c of allowed) {
    if (!sameOutcome(c.outcome, actual)) continue;
    if (first === null) first = c;
    count++;
  }
  if (count <= 1) return first;
  if (machine !== undefined) {
    // Previews cost a frame copy each: when every equal candidate offers one, the last is chosen
    // by elimination (if it does not match either, the frame check after commit reports it).
    let previewed = 0;
    let allPreview = true;
    for (const c of allowed) {
      if (!sameOutcome(c.outcome, actual)) continue;
      if (!hasPreview(c)) { allPreview = false; continue; }
      if (allPreview && previewed === count - 1) return c;
      previewed++;
      if (previewMatches(c, machine, touched)) return c;
    }
  }
  let subset: Candidate | null = null;
  for (const c of allowed) {
    if (!sameOutcome(c.outcome, actual)) continue;
    let all = true;
    for (const f of c.frames) if (!touched.includes(f)) { all = false; break; }
    if (!all) continue;
    let covers = true;
    for (const f of touched) if (!c.frames.includes(f)) { covers = false; break; }
    if (covers) return c;
    if (subset === null) subset = c;
  }
  return subset ?? first;
}

/** Optional on either side: every backed frame (a full sweep then covers frames no op reported). */
interface FrameLister {
  frames(): readonly number[];
}

function listsFrames(x: object): x is FrameLister {
  return typeof (x as Partial<FrameLister>).frames === 'function';
}

/**
 * Frames a full sweep compares: every frame either side reported writing (`seen`, kept only when
 * a side cannot list its frames), plus all backed frames of a side that can list them.
 */
function sweepFrames(seen: Set<number> | null, machine: object, model: object): Iterable<number> {
  if (seen !== null && !listsFrames(machine) && !listsFrames(model)) return seen;
  const all = new Set(seen ?? []);
  if (listsFrames(machine)) for (const f of machine.frames()) all.add(f);
  if (listsFrames(model)) for (const f of model.frames()) all.add(f);
  return all;
}

/** Replaces numbers in an exception message so that its signature does not depend on values. */
function coarseMessage(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  const line = (err.message.split('\n')[0] ?? '').replace(/0x[0-9a-f]+|\d+/gi, 'N').slice(0, 120);
  return `${err.name}: ${line}`;
}

/** A side's frame bytes, zero-copy where it can (checkers.ts FrameSource). */
function viewOf(side: FrameSource): (frame: number) => Uint8Array | null {
  return (f) => (side.frameView !== undefined ? side.frameView(f) : side.frameBytes(f));
}

/**
 * A lost write on a step whose outcome only cached translations allow (every fresh path the model
 * allows ends otherwise) has a second explanation: the target walked afresh (its memory is not the
 * cached path's: a walk's A/D flags, or the write in the frame the walk gives now) and completed
 * where the fresh walk must end otherwise, which is a dispute of the fresh path's rule
 * (classifyOutcome against the fresh paths only). Both fit the step: the lost write gets it as
 * an alternative (docs/rules.md "Alternative explanations").
 */
function withFreshWalkAlternative(lost: Finding, actual: Outcome, spec: SpecStep, op: string, chosen: Candidate): Finding {
  if (!chosen.stale) return lost;
  const fresh = spec.allowed.filter((c) => !c.stale);
  if (fresh.length === 0 || fresh.some((c) => sameOutcome(c.outcome, actual))) return lost;
  const path = classifyOutcome(actual, { allowed: fresh, flushed: [] }, op);
  return { ...lost, alternates: [...(lost.alternates ?? []), explanationOf(path)] };
}

/** Whether the first violation is on step `step` and `invariant` would file it more specifically (MORE_SPECIFIC). */
function moreSpecificPending(first: Violation | null, step: number, invariant: string): boolean {
  return first !== null && first.step === step && MORE_SPECIFIC[first.invariant]?.includes(invariant) === true;
}

/** Shared empty step list: no allocation per op on the agreeing path (replaced on the first violation). */
const NO_VIOLATIONS: Violation[] = [];

/** A machine's invariant finding as a runner finding (hv ids are InvariantIds: violation.ts). */
type MachineFinding = { invariant: string; detail: string; coarse: string };

export function runWith(trace: Trace, targetGiven: Target, opts: RunOptions = {}): RunResult {
  const keep = opts.records === true;
  const stopAtFirst = opts.stopAtFirst ?? !keep;
  const sweepEvery = Math.max(1, opts.sweepEveryOps ?? SWEEP_EVERY_OPS_DEFAULT);
  const observer = opts.observer;
  const target = targetFor(trace.machine, targetGiven);
  const machine = target.makeMachine(trace.machine);
  const model = target.makeModel(trace.machine);
  // Only a target with software invariants (the hypervisor's) pays for them.
  const invariants = target.invariants;
  const withInvariants = invariants !== undefined;
  const observeState = withInvariants && observer !== undefined && typeof observer.observeState === 'function';
  const observeRule = observer !== undefined && typeof observer.observeRule === 'function';
  const records: StepRecord[] | null = keep ? [] : null;
  const poolCounts = typeof machine.poolFree === 'function' && typeof model.poolFree === 'function';
  // When both sides list their backed frames, a sweep needs no record of the frames seen.
  const seen = listsFrames(machine) && listsFrames(model) ? null : new Set<number>();
  const ops = trace.ops;
  let first: Violation | null = null;
  let count = 0;
  let stepViolations: Violation[] = NO_VIOLATIONS;

  const report = (step: number, op: string, f: Finding): void => {
    const v: Violation = { invariant: f.invariant, step, op, detail: f.detail, coarse: f.coarse, rule: f.rule, ...(f.alternates !== undefined ? { alternates: f.alternates } : {}) };
    if (first === null) first = v;
    else if (first.step === step && MORE_SPECIFIC[first.invariant]?.includes(v.invariant) === true) first = v;
    count++;
    if (stepViolations === NO_VIOLATIONS) stepViolations = [];
    stepViolations.push(v);
  };
  const done = (opsRun: number, final: Violation[] = []): RunResult => ({ opsRun, first, violationCount: count, records, final });
  /** A machine invariant's finding, labelled with the rule of the op's committed candidate (none for a sweep). */
  const machineFindings = (step: number, op: string, list: readonly MachineFinding[], rule: number): void => {
    for (const f of list) report(step, op, { invariant: f.invariant as InvariantId, detail: f.detail, coarse: `${ruleGroup(rule)}: ${f.coarse}`, rule: ruleId(rule) });
  };

  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    stepViolations = NO_VIOLATIONS;
    let spec: SpecStep;
    let actual: Outcome;
    try {
      spec = model.step(op);
    } catch (e) {
      report(i, op.op, { invariant: INVARIANTS.exception, detail: `model threw: ${String(e)}`, coarse: `model ${coarseMessage(e)}`, rule: 'none' });
      return done(i + 1);
    }
    try {
      actual = machine.apply(op);
    } catch (e) {
      report(i, op.op, { invariant: INVARIANTS.exception, detail: `machine threw: ${String(e)}`, coarse: `machine ${coarseMessage(e)}`, rule: 'none' });
      return done(i + 1);
    }
    if (observer !== undefined) {
      observer.observe(op, actual);
      if (observeState) observer.observeState!(machine);
    }
    const touched = machine.touchedFrames();
    let chosen = pickCandidate(spec.allowed, actual, touched, machine);
    // A cached or stale translation named by memory effects alone: the lost write the memory check then
    // finds on this step is its alternative explanation.
    let byMemory: Violation | null = null;
    const countBefore = count;
    if (chosen === null) {
      const candidateFrames = spec.allowed.flatMap((c) => c.frames);
      report(i, op.op, classifyOutcome(actual, spec, op.op, { frames: [...new Set([...touched, ...candidateFrames])], view: viewOf(machine) }));
      chosen = spec.allowed[0];
    }
    // (Checked where a flushed translation was at hand, or where the target's outcome is a cached
    // translation's: a target that walked instead shows it in memory. Nothing on the common path.)
    else if ((spec.flushedMatching !== undefined || (chosen.stale && spec.otherKeyRegisterMatching !== undefined)) && hasPreview(chosen) && !previewMatches(chosen, machine, touched)) {
      // The outcome is allowed but the memory effects are not the candidate's: a cached translation
      // judged by other rights, or one a required flush removed, may explain them (checkers.ts).
      const frames = [...new Set([...touched, ...chosen.frames])];
      const found = memoryOnlyFinding(actual, spec, op.op, { frames, view: viewOf(machine) });
      if (found !== null) {
        report(i, op.op, found);
        byMemory = stepViolations[stepViolations.length - 1];
      }
    }
    if (observeRule) observer!.observeRule!(op, ruleOfCandidate(op.op, chosen));
    try {
      model.commit(chosen);
    } catch (e) {
      report(i, op.op, { invariant: INVARIANTS.exception, detail: `model commit threw: ${String(e)}`, coarse: `model ${coarseMessage(e)}`, rule: 'none' });
      return done(i + 1);
    }
    if (countBefore === 0 || !stopAtFirst) {
      const written = chosen.frames;
      if (seen !== null) {
        for (let k = 0; k < touched.length; k++) seen.add(touched[k]);
        for (let k = 0; k < written.length; k++) seen.add(written[k]);
      }
      let lost: Finding | null = null;
      for (let k = 0; k < touched.length && lost === null; k++) lost = checkFrame(machine, model, touched[k], op.op, chosen);
      // Usually the candidate wrote exactly the touched frames: check only the ones it adds.
      for (let k = 0; k < written.length && lost === null; k++) {
        if (!touched.includes(written[k])) lost = checkFrame(machine, model, written[k], op.op, chosen);
      }
      // A differing data byte of the op names the loss better than an A/D flag in another frame
      // (as within one frame: checkers.ts lostWrite).
      if (lost !== null && !isDataLoss(lost)) {
        for (const f of new Set([...touched, ...written])) {
          const other = checkFrame(machine, model, f, op.op, chosen);
          if (other !== null && isDataLoss(other)) { lost = other; break; }
        }
      }
      if (lost !== null) {
        const past = count === countBefore ? pastStopExplanation(actual, spec, op.op, lost) : null;
        lost = withFreshWalkAlternative(past === null ? lost : { ...lost, alternates: [past] }, actual, spec, op.op, chosen);
        // The lost write, and what it fits too, are alternatives of the memory-only finding.
        if (byMemory !== null) byMemory.alternates = addAlternates(byMemory, [explanationOf(lost), ...(lost.alternates ?? [])]);
        report(i, op.op, lost);
      }
      // The op's own invariants run even after a lost write on this step: a more specific one
      // (MORE_SPECIFIC) then files the finding.
      if (withInvariants && (countBefore === 0 || !stopAtFirst)) machineFindings(i, op.op, invariants!(machine, false), ruleOfCandidate(op.op, chosen));
      // hv: the pool is modelled exactly, so its count is compared at the op that changes it (the
      // invariants above, which say more, file first when they fire on the same step).
      if (poolCounts && (count === countBefore || !stopAtFirst || moreSpecificPending(first, i, INVARIANTS.poolCount))) {
        const a = machine.poolFree!();
        const e = model.poolFree!();
        if (a !== e) {
          const rule = ruleOfCandidate(op.op, chosen);
          report(i, op.op, { invariant: INVARIANTS.poolCount, detail: `the hypervisor's pool has ${a} free frames after the op, the model counts ${e}`, coarse: `${ruleGroup(rule)}: pool frames differ (machine ${a < e ? 'fewer' : 'more'} free)`, rule: ruleId(rule) });
        }
      }
      if ((i + 1) % sweepEvery === 0 && (count === 0 || !stopAtFirst)) {
        const swept = checkFrames(machine, model, sweepFrames(seen, machine, model));
        if (swept !== null && lost === null) report(i, SWEEP_OP, swept);
        if (withInvariants && (count === 0 || !stopAtFirst)) machineFindings(i, SWEEP_OP, invariants!(machine, true), -1);
      }
    }
    if (records !== null) {
      const rec: StepRecord = {
        step: i, op, actual, allowed: spec.allowed.map((c) => c.outcome), allowedRules: spec.allowed.map((c) => ruleOfCandidate(op.op, c)),
        allowedStale: spec.allowed.map((c) => c.stale), violations: stepViolations === NO_VIOLATIONS ? [] : stepViolations,
      };
      if (typeof machine.touchedPages === 'function') rec.states = machine.touchedPages();
      records.push(rec);
    }
    if (count > 0 && stopAtFirst) return done(i + 1);
  }
  stepViolations = NO_VIOLATIONS;
  if (count === 0 || !stopAtFirst) {
    const swept = checkFrames(machine, model, sweepFrames(seen, machine, model));
    if (swept !== null) report(ops.length, SWEEP_OP, swept);
    if (withInvariants && (count === 0 || !stopAtFirst)) machineFindings(ops.length, SWEEP_OP, invariants!(machine, true), -1);
  }
  return done(ops.length, stepViolations === NO_VIOLATIONS ? [] : stepViolations);
}
