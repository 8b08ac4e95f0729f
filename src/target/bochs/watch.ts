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
import { ReferenceModel } from '../../model/model.js';
import type { SpecStep } from '../../model/api.js';
import type { SpecMemory } from '../../model/memory.js';
import type { Trace } from '../../trace/trace.js';
import { stubFrames } from './stub.js';
import { inRanges, type AddressRange } from '../profile.js';

/** 256 frames: 1 MiB of shadow copies in the agent, and far above what generated traces touch (~20). */
export const WATCH_FRAMES_MAX = 256;

/** Adds every RAM frame the model's memory reads to `frames` (the model's memory is private: wrap its readers). */
function recordReads(model: ReferenceModel, frames: Set<number>, onRead: (hpa: number) => void, outsideRam: boolean): void {
  const mem = (model as unknown as { mem: SpecMemory }).mem;
  const wrap = <K extends 'readEntry' | 'readU32' | 'readByte'>(name: K): void => {
    const inner = mem[name].bind(mem) as (hpa: number) => ReturnType<SpecMemory[K]>;
    (mem as unknown as Record<K, (hpa: number) => ReturnType<SpecMemory[K]>>)[name] = (hpa: number) => {
      if (mem.inRam(hpa)) frames.add(Math.floor(hpa / 4096));
      onRead(hpa);
      return inner(hpa);
    };
  };
  wrap('readEntry');
  wrap('readU32');
  wrap('readByte');
  if (!outsideRam) return;
  // Every address the model asks about outside RAM (a write there is dropped, so no frame list
  // shows it): a data access or walk that goes there touches what the target keeps.
  const inRam = mem.inRam.bind(mem);
  mem.inRam = (hpa: number): boolean => {
    const yes = inRam(hpa);
    if (!yes) onRead(hpa);
    return yes;
  };
}

export interface PreRun {
  watch: number[];
  /**
   * The first lowered step at which the model's fresh-walk path reads or writes memory the target
   * keeps for itself (`forbidden`: the VGA hole, the agent, MMIO windows), reached through the
   * trace's own mappings (no static check sees that): the target cannot run it as the model
   * does, so judging stops there. Null when the path never does.
   */
  reserved: { step: number; why: string } | null;
}

/**
 * A target's own reason to stop at lowered step `i` (checked before the step is committed, with
 * the model's state before it), or null.
 */
export type StepGuard = (i: number, step: SpecStep, model: ReferenceModel) => string | null;

/** The watch list and the reserved-memory stop of a lowered trace (one model run). */
export function preRun(lowered: Trace, forbidden: readonly AddressRange[] = [], guard?: StepGuard, outsideRam = false): PreRun {
  // outsideRam (direct mode): every touch outside RAM counts, writes included.
  const model = new ReferenceModel(lowered.machine);
  const frames = new Set<number>(stubFrames());
  let hit: AddressRange | null = null;
  recordReads(model, frames, (hpa) => { hit ??= inRanges(forbidden, hpa, 1); }, outsideRam);
  let reserved: PreRun['reserved'] = null;
  lowered.ops.forEach((op, i) => {
    const step = model.step(op);
    for (const c of step.allowed) for (const f of c.frames) frames.add(f);
    for (const f of step.allowed[0].frames) hit ??= inRanges(forbidden, f * 4096, 4096);
    if (hit !== null && reserved === null) reserved = { step: i, why: `the trace reaches ${hit.why} through its own mappings` };
    if (guard !== undefined && reserved === null) {
      const why = guard(i, step, model);
      if (why !== null) reserved = { step: i, why };
    }
    model.commit(step.allowed[0]);
  });
  for (const f of model.frames()) frames.add(f);
  return { watch: [...frames].sort((a, b) => a - b), reserved };
}

