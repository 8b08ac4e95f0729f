/**
 * The trace an agent target runs, from a trace the target can run: lowered for the agent's mode
 * (VMX: src/target/bochs/lower.ts; direct: src/target/qemu/lower.ts), its watch list, and where
 * judging stops (the pre-run's reserved-memory stop, direct mode's guard, the lowering's own).
 * Contract: deterministic; in direct mode the lowered trace is cut at the stop (without VMX a
 * step the harness cannot survive is never sent); the batch flags say which mode the agent runs.
 */
import type { Trace } from '../trace/trace.js';
import { BATCH_FLAG_DIRECT } from './bochs/batch.js';
import { lower, type Lowered } from './bochs/lower.js';
import { STUB_HPA } from './bochs/profile.js';
import { preRun } from './bochs/watch.js';
import { keptFromTraces, type TargetProfile } from './profile.js';
import { directGuard, fetchGuard } from './qemu/guard.js';
import { lowerDirect } from './qemu/lower.js';

export type Stop = { step: number; why: string } | null;

export interface AgentTrace {
  lowered: Lowered;
  watch: number[];
  /** Where judging stops (lowered step), or null. */
  reserved: Stop;
}

function firstStop(a: Stop | undefined, b: Stop): Stop {
  if (a === undefined || a === null) return b;
  return b === null || a.step <= b.step ? a : b;
}

export function agentBatchFlags(p: TargetProfile): number {
  return p.agentMode === 'direct' ? BATCH_FLAG_DIRECT : 0;
}

export function lowerFor(trace: Trace, p: TargetProfile): Lowered {
  return p.agentMode === 'direct' ? lowerDirect(trace, p) : lower(trace);
}

export function agentTrace(trace: Trace, p: TargetProfile): AgentTrace {
  const direct = p.agentMode === 'direct';
  let lowered = lowerFor(trace, p);
  const pre = preRun(lowered.trace, keptFromTraces(p, STUB_HPA), direct ? directGuard(lowered, p) : fetchGuard(lowered, p), direct);
  const reserved = firstStop(lowered.stop, pre.reserved);
  if (direct && reserved !== null) lowered = { ...lowered, trace: { ...lowered.trace, ops: lowered.trace.ops.slice(0, reserved.step) } };
  return { lowered, watch: pre.watch, reserved };
}
