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

export interface MutateOptions {
  opsMax: number;
  features: ReadonlySet<Feature>;
  weights: OpWeights;
  config: MachineConfig;
}

export type MutationName = 'insert' | 'delete' | 'splice' | 'operands' | 'append' | 'bitflip';
export const MUTATIONS: readonly MutationName[] = ['insert', 'delete', 'splice', 'operands', 'append', 'bitflip'];

/** Mutations stacked per child: one to three, as AFL's havoc stage stacks a few. */
export const STACK_MAX = 3;

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
  let ops = parent.slice();
  const world = worldFromOps(parent, opts.config, opts.features, rng);
  const weights = weightList(opts.weights);
  const applied: MutationName[] = [];
  const stack = 1 + rng.int(STACK_MAX);
  for (let s = 0; s < stack; s++) {
    const m = rng.pick(MUTATIONS);
    applied.push(m);
    switch (m) {
      case 'insert': {
        const n = 1 + rng.int(4);
        for (let k = 0; k < n; k++) ops.splice(rng.int(ops.length + 1), 0, workloadOp(world, weights));
        break;
      }
      case 'delete': {
        if (ops.length < 2) break;
        const start = rng.int(ops.length);
        ops.splice(start, 1 + rng.int(Math.min(8, ops.length - start)));
        break;
      }
      case 'splice': {
        if (other === null || other.length === 0) break;
        const cut = rng.int(ops.length + 1);
        const from = rng.int(other.length);
        ops = ops.slice(0, cut).concat(other.slice(from));
        break;
      }
      case 'operands': {
        if (ops.length === 0) break;
        const i = rng.int(ops.length);
        const old = ops[i];
        if (!isHvOp(old)) ops[i] = opOfKind(world, old.op);
        break;
      }
      case 'append': {
        const n = 1 + rng.int(8);
        for (let k = 0; k < n; k++) ops.push(workloadOp(world, weights));
        break;
      }
      case 'bitflip': {
        if (ops.length === 0) break;
        const i = rng.int(ops.length);
        ops[i] = bitflip(ops[i], rng);
        break;
      }
    }
  }
  if (ops.length > opts.opsMax) ops = ops.slice(0, opts.opsMax);
  if (ops.length === 0) ops.push(workloadOp(world, weights));
  return { ops, applied };
}
