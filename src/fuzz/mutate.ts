/**
 * Mutations of corpus traces: insert, delete, splice, change operands, append.
 * Contract: deterministic in the rng; the result has between 1 and `opsMax` ops, each valid per
 * OP_SCHEMAS (new ops come from the generator's op makers over a world rebuilt from the parent).
 * A hv-mode configuration mutates with the hv generator's makers (src/gen/hv/mutate.ts).
 */
import { configMode, type MachineConfig } from '../hw/config.js';
import { isHvOp, type Op } from '../trace/ops.js';
import { mutateHv } from '../gen/hv/mutate.js';
import type { Feature } from '../gen/features.js';
import type { Rng } from '../gen/rng.js';
import { worldFromOps } from '../gen/replay-world.js';
import { opOfKind, weightList, workloadOp } from '../gen/workload.js';
import type { OpWeights } from '../gen/weights.js';
import { mutateStack, type MutationName } from '../gen/mutation-stack.js';

export interface MutateOptions {
  opsMax: number;
  features: ReadonlySet<Feature>;
  weights: OpWeights;
  config: MachineConfig;
}

export { MUTATIONS, STACK_MAX, type MutationName } from '../gen/mutation-stack.js';

function bitflip(op: Op, rng: Rng): Op {
  const fields = Object.keys(op).filter((k) => typeof (op as unknown as Record<string, unknown>)[k] === 'bigint');
  if (fields.length === 0) return op;
  const field = rng.pick(fields);
  const v = (op as unknown as Record<string, bigint>)[field];
  // Flags live in the low 12 bits and 59..63; favour them.
  const bit = rng.chance(0.6) ? rng.int(12) : rng.chance(0.5) ? rng.range(52, 63) : rng.int(64);
  return { ...op, [field]: (v ^ (1n << BigInt(bit))) & 0xffff_ffff_ffff_ffffn } as Op;
}

/**
 * One child of `parent` (and of `other`, for splice). Returns the ops and the names of the
 * mutations applied.
 */
export function mutate(parent: readonly Op[], other: readonly Op[] | null, rng: Rng, opts: MutateOptions): { ops: Op[]; applied: MutationName[] } {
  if (configMode(opts.config) === 'hv') return mutateHv(parent, other, rng, opts);
  const world = worldFromOps(parent, opts.config, opts.features, rng);
  const weights = weightList(opts.weights);
  return mutateStack(parent, other, rng, opts.opsMax, {
    unit: () => [workloadOp(world, weights)],
    insertMax: 4,
    appendMax: 8,
    redraw: (op) => (isHvOp(op) ? null : opOfKind(world, op.op)),
    bitflip,
  });
}
