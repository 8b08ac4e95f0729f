/**
 * The frames the agent watches for a trace: every host frame the reference model writes on any
 * of its allowed outcomes along the fresh-walk path of the lowered trace, every frame it reads
 * (table entries and data: a target may write a frame the model only reads, e.g. an accessed
 * flag on a faulting walk, and the next trace of the batch must find it zeroed again), plus the
 * stub's frames.
 * Contract: deterministic; at most WATCH_FRAMES_MAX frames (a trace that needs more is refused).
 * The agent zeroes these frames before the trace and reports every byte that changes in them
 * after every step; a frame outside the list is never compared (docs/targets.md "Memory").
 */
import { ReferenceModel } from '../../spec/model.js';
import type { SpecMemory } from '../../spec/memory.js';
import type { Trace } from '../../trace/trace.js';
import { stubFrames } from './stub.js';

/** 256 frames: 1 MiB of shadow copies in the agent, and far above what generated traces touch (~20). */
export const WATCH_FRAMES_MAX = 256;

/** Adds every RAM frame the model's memory reads to `frames` (the model's memory is private: wrap its readers). */
function recordReads(model: ReferenceModel, frames: Set<number>): void {
  const mem = (model as unknown as { mem: SpecMemory }).mem;
  const wrap = <K extends 'readEntry' | 'readU32' | 'readByte'>(name: K): void => {
    const inner = mem[name].bind(mem) as (hpa: number) => ReturnType<SpecMemory[K]>;
    (mem as unknown as Record<K, (hpa: number) => ReturnType<SpecMemory[K]>>)[name] = (hpa: number) => {
      if (mem.inRam(hpa)) frames.add(Math.floor(hpa / 4096));
      return inner(hpa);
    };
  };
  wrap('readEntry');
  wrap('readU32');
  wrap('readByte');
}

export function watchFrames(lowered: Trace): number[] {
  const model = new ReferenceModel(lowered.machine);
  const frames = new Set<number>(stubFrames());
  recordReads(model, frames);
  for (const op of lowered.ops) {
    const step = model.step(op);
    for (const c of step.allowed) for (const f of c.frames) frames.add(f);
    model.commit(step.allowed[0]);
  }
  for (const f of model.frames()) frames.add(f);
  return [...frames].sort((a, b) => a - b);
}
