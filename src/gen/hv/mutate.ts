/**
 * Mutations of hv-mode corpus traces: the shared stack (src/gen/mutation-stack.ts) of insert / delete / splice / operands /
 * append / bitflip as bare mode (src/fuzz/mutate.ts), with new ops from the hv generator's makers
 * over a world rebuilt from the parent (src/gen/hv/generate.ts `hvWorldFromOps`).
 * Contract: deterministic in the rng; the result has between 1 and `opsMax` ops, each valid per
 * OP_SCHEMAS and allowed in hv mode (no hardware op the hypervisor refuses: validate.ts).
 */
import type { MachineConfig } from '../../hw/config.js';
import type { Op } from '../../trace/ops.js';
import type { Rng } from '../rng.js';
import { hvKindOfOp, hvWorldFromOps, type HvWorld } from './generate.js';
import { mutateStack, type MutationName } from '../mutation-stack.js';

export type HvMutationName = MutationName;

/** One workload step's ops (at least one: kinds that add nothing are drawn again). */
function stepOps(world: HvWorld): Op[] {
  const out: Op[] = [];
  for (let tries = 0; tries < 8 && out.length === 0; tries++) world.workStep(out);
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

/**
 * A corpus seed's `hv_expect` asserts the state its own op sequence reaches; once mutated, the
 * sequence reaches other states, so a child keeps the observation (`hv_query`) and drops the
 * assertion (else every mutation of a seed would be a false hv.expected-state finding).
 */
function withoutExpectations(ops: readonly Op[]): readonly Op[] {
  if (!ops.some((o) => o.op === 'hv_expect')) return ops;
  return ops.map((o): Op => (o.op === 'hv_expect' ? { op: 'hv_query', vm: o.vm, pfn: o.pfn, gfn: o.gfn } : o));
}

/**
 * The parent's ops on this configuration's vCPUs: a campaign epoch may have fewer than the
 * parent's (src/gen/hv/configs.ts), so a cpu index wraps onto one that exists.
 */
function onCpus(ops: readonly Op[], vcpus: number): readonly Op[] {
  if (!ops.some((o) => 'cpu' in o && o.cpu >= vcpus)) return ops;
  return ops.map((o): Op => ('cpu' in o && o.cpu >= vcpus ? ({ ...o, cpu: o.cpu % vcpus } as Op) : o));
}

export function mutateHv(parentOps: readonly Op[], otherOps: readonly Op[] | null, rng: Rng, opts: { opsMax: number; config: MachineConfig }): { ops: Op[]; applied: HvMutationName[] } {
  const parent = onCpus(withoutExpectations(parentOps), opts.config.vcpus);
  const other = otherOps === null ? null : onCpus(withoutExpectations(otherOps), opts.config.vcpus);
  const world = hvWorldFromOps(parent, opts.config, rng);
  return mutateStack(parent, other, rng, opts.opsMax, {
    unit: () => stepOps(world),
    insertMax: 3,
    appendMax: 6,
    redraw: (op) => {
      const kind = hvKindOfOp(op.op);
      if (kind === null) return null;
      const fresh: Op[] = [];
      world.step(fresh, kind);
      return fresh.find((o) => o.op === op.op) ?? null;
    },
    bitflip,
  });
}
