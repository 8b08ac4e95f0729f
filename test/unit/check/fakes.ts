/**
 * Small fakes of the machine and the reference model for runner and checker tests: each side is
 * scripted by a function from (op, step) to an outcome and the bytes it writes.
 */
import type { MachineApi } from '../../../src/hw/api.js';
import type { MachineConfig } from '../../../src/hw/config.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import { sameOutcome, type Outcome } from '../../../src/hw/outcome.js';
import { NO_RULE } from '../../../src/model/rules.js';
import type { AccessStages, Candidate, ReferenceModelApi, SpecStep } from '../../../src/model/api.js';
import type { Op } from '../../../src/trace/ops.js';
import type { Trace } from '../../../src/trace/trace.js';
import type { Target } from '../../../src/check/runner.js';

/** hpa → byte written. */
export type Writes = Array<[number, number]>;

class Mem {
  readonly frames = new Map<number, Uint8Array>();
  write(hpa: number, byte: number): void {
    const f = Math.floor(hpa / 4096);
    let bytes = this.frames.get(f);
    if (bytes === undefined) { bytes = new Uint8Array(4096); this.frames.set(f, bytes); }
    bytes[hpa % 4096] = byte;
  }
  frameBytes(frame: number): Uint8Array | null {
    const b = this.frames.get(frame);
    return b === undefined ? null : b.slice();
  }
  readPhys(hpa: number): bigint {
    const b = this.frames.get(Math.floor(hpa / 4096));
    return BigInt(b === undefined ? 0 : b[hpa % 4096]);
  }
}

const frameOf = (hpa: number): number => Math.floor(hpa / 4096);

export interface MachineStep { outcome: Outcome; writes?: Writes; /** Writes not reported in touchedFrames. */ silent?: Writes }

export class FakeMachine implements MachineApi {
  private readonly mem = new Mem();
  private touched: number[] = [];
  private step = 0;
  constructor(private readonly script: (op: Op, step: number) => MachineStep) {}
  apply(op: Op): Outcome {
    const s = this.script(op, this.step++);
    this.touched = [];
    for (const [hpa, byte] of s.writes ?? []) { this.mem.write(hpa, byte); if (!this.touched.includes(frameOf(hpa))) this.touched.push(frameOf(hpa)); }
    for (const [hpa, byte] of s.silent ?? []) this.mem.write(hpa, byte);
    return s.outcome;
  }
  readPhys(hpa: number): bigint { return this.mem.readPhys(hpa); }
  frameBytes(frame: number): Uint8Array | null { return this.mem.frameBytes(frame); }
  touchedFrames(): readonly number[] { return this.touched; }
}

export interface ModelCandidate { outcome: Outcome; writes?: Writes; rule?: number; stages?: AccessStages }
/** `flushedMemory`: the flushed run's bytes at a host address (a model that can predict them); absent = outcome-only. */
export interface ModelStep { allowed: ModelCandidate[]; flushed?: Outcome[]; flushedRules?: number[]; flushedMemory?: Writes }

export class FakeModel implements ReferenceModelApi {
  private readonly mem = new Mem();
  private readonly pending = new Map<Candidate, Writes>();
  private step_ = 0;
  committed: Candidate[] = [];
  constructor(private readonly script: (op: Op, step: number) => ModelStep) {}
  step(op: Op): SpecStep {
    const s = this.script(op, this.step_++);
    this.pending.clear();
    const allowed = s.allowed.map((c) => {
      const frames = [...new Set((c.writes ?? []).map(([hpa]) => frameOf(hpa)))];
      const cand: Candidate = { outcome: c.outcome, stale: false, frames, ...(c.rule !== undefined ? { rule: c.rule } : {}), ...(c.stages ?? {}) };
      this.pending.set(cand, c.writes ?? []);
      return cand;
    });
    const step: SpecStep = { allowed, flushed: s.flushed ?? [], ...(s.flushedRules !== undefined ? { flushedRules: s.flushedRules } : {}) };
    const memory = s.flushedMemory;
    if (memory === undefined) return step;
    // The first flushed outcome equal to `actual` whose predicted bytes are what `view` shows.
    const flushedMatching = (actual: Outcome, _frames: readonly number[], view: (frame: number) => Uint8Array | null): number | null => {
      const i = step.flushed.findIndex((o) => sameOutcome(o, actual));
      if (i < 0 || !memory.every(([hpa, byte]) => (view(frameOf(hpa))?.[hpa % 4096] ?? 0) === byte)) return null;
      return step.flushedRules?.[i] ?? NO_RULE;
    };
    return { ...step, flushedMatching };
  }
  commit(candidate: Candidate): void {
    this.committed.push(candidate);
    for (const [hpa, byte] of this.pending.get(candidate) ?? []) this.mem.write(hpa, byte);
  }
  readPhys(hpa: number): bigint { return this.mem.readPhys(hpa); }
  frameBytes(frame: number): Uint8Array | null { return this.mem.frameBytes(frame); }
}

export function fakeTarget(machine: (op: Op, step: number) => MachineStep, model: (op: Op, step: number) => ModelStep): Target & { lastModel: () => FakeModel } {
  let last: FakeModel | null = null;
  return {
    makeMachine: (_c: MachineConfig) => new FakeMachine(machine),
    makeModel: (_c: MachineConfig) => { last = new FakeModel(model); return last; },
    lastModel: () => { if (last === null) throw new Error('no model yet'); return last; },
  };
}

/** A trace of `n` one-byte writes (the fakes ignore the ops' contents unless a script reads them). */
export function traceOf(ops: Op[]): Trace {
  return { schema: 1, eptfuzz: 'test', machine: normalizeConfig(), ops };
}

export function writes(n: number): Op[] {
  return Array.from({ length: n }, (_, i) => ({ op: 'write', cpu: 0, la: 0x1000 + i, size: 1, value: BigInt(i) }) as Op);
}
