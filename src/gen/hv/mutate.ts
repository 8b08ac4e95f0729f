/**
 * Mutations of hv-mode corpus traces: the same stack of insert / delete / splice / operands /
 * append / bitflip as bare mode (src/fuzz/mutate.ts), with new ops from the hv generator's makers
 * over a world rebuilt from the parent (src/gen/hv/generate.ts `hvWorldFromOps`).
 * Contract: deterministic in the rng; the result has between 1 and `opsMax` ops, each valid per
 * OP_SCHEMAS and allowed in hv mode (no hardware op the hypervisor refuses: validate.ts).
 */
import type { MachineConfig } from '../../hw/config.js';
import type { Op } from '../../trace/ops.js';
import type { Rng } from '../rng.js';
import { hvKindOfOp, hvWorldFromOps, type HvWorld } from './generate.js';

export type HvMutationName = 'insert' | 'delete' | 'splice' | 'operands' | 'append' | 'bitflip';
export const HV_MUTATIONS: readonly HvMutationName[] = ['insert', 'delete', 'splice', 'operands', 'append', 'bitflip'];
const STACK_MAX = 3;

/** One workload step's ops (at least one: kinds that add nothing are drawn again). */
function stepOps(world: HvWorld): Op[] {
  const out: Op[] = [];
  for (let tries = 0; tries < 8 && out.length === 0; tries++) world.step(out);
  if (out.length === 0) world.step(out, 'read');
  return out;
}

/** Flips one bit of a bigint field (u64 operands: values, counts, attributes, register values). */
function bitflip(op: Op, rng: Rng): Op {
  const fields = Object.keys(op).filter((k) => typeof (op as unknown as Record<string, unknown>)[k] === 'bigint');
  if (fields.length === 0) return op;
  const field = rng.pick(fields);
  const v = (op as unknown as Record<string, bigint>)[field];
  const bit = rng.chance(0.6) ? rng.int(16) : rng.int(64);
  return { ...op, [field]: (v ^ (1n << BigInt(bit))) & 0xffff_ffff_ffff_ffffn } as Op;
}

export function mutateHv(parent: readonly Op[], other: readonly Op[] | null, rng: Rng, opts: { opsMax: number; config: MachineConfig }): { ops: Op[]; applied: HvMutationName[] } {
  let ops = parent.slice();
  const world = hvWorldFromOps(parent, opts.config, rng);
  const applied: HvMutationName[] = [];
  const stack = 1 + rng.int(STACK_MAX);
  for (let s = 0; s < stack; s++) {
    const m = rng.pick(HV_MUTATIONS);
    applied.push(m);
    switch (m) {
      case 'insert': {
        const n = 1 + rng.int(3);
        for (let k = 0; k < n; k++) ops.splice(rng.int(ops.length + 1), 0, ...stepOps(world));
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
        const kind = hvKindOfOp(ops[i].op);
        if (kind === null) break;
        const fresh: Op[] = [];
        world.step(fresh, kind);
        const same = fresh.find((o) => o.op === ops[i].op);
        if (same !== undefined) ops[i] = same;
        break;
      }
      case 'append': {
        const n = 1 + rng.int(6);
        for (let k = 0; k < n; k++) ops.push(...stepOps(world));
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
  if (ops.length === 0) ops.push(...stepOps(world).slice(0, 1));
  return { ops, applied };
}
