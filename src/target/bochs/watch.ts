/**
 * The frames the agent watches for a trace: every host frame the reference model writes on any
 * of its allowed outcomes along the fresh-walk path of the lowered trace, plus the stub's frames.
 * Contract: deterministic; at most WATCH_FRAMES_MAX frames (a trace that needs more is refused).
 * The agent zeroes these frames before the trace and reports every byte that changes in them
 * after every step; a frame outside the list is never compared (docs/targets.md "Memory").
 */
import { ReferenceModel } from '../../spec/model.js';
import type { Trace } from '../../trace/trace.js';
import { stubFrames } from './stub.js';

/** 256 frames: 1 MiB of shadow copies in the agent, and far above what generated traces touch (~20). */
export const WATCH_FRAMES_MAX = 256;

export function watchFrames(lowered: Trace): number[] {
  const model = new ReferenceModel(lowered.machine);
  const frames = new Set<number>(stubFrames());
  for (const op of lowered.ops) {
    const step = model.step(op);
    for (const c of step.allowed) for (const f of c.frames) frames.add(f);
    model.commit(step.allowed[0]);
  }
  for (const f of model.frames()) frames.add(f);
  return [...frames].sort((a, b) => a - b);
}
