/**
 * The mutation stack shared by bare and hv mode: one to STACK_MAX mutations drawn from
 * insert / delete / splice / operands / append / bitflip, applied to a copy of the parent.
 * Contract: deterministic in the rng (the draw order is part of the contract: the same seed must
 * give the same children); what differs by mode comes in through `MutationHooks`; the result
 * has between 1 and `opsMax` ops.
 */
import type { Op } from '../trace/ops.js';
import type { Rng } from './rng.js';

export type MutationName = 'insert' | 'delete' | 'splice' | 'operands' | 'append' | 'bitflip';
export const MUTATIONS: readonly MutationName[] = ['insert', 'delete', 'splice', 'operands', 'append', 'bitflip'];

/** Mutations stacked per child: one to three, as AFL's havoc stage stacks a few. */
export const STACK_MAX = 3;

export interface MutationHooks {
  /** One insertion unit: new workload ops from the mode's generator (at least one). */
  unit(): Op[];
  /** Units inserted by 'insert' (1..insertMax) and appended by 'append' (1..appendMax). */
  insertMax: number;
  appendMax: number;
  /** The same op kind with fresh operands, or null when the mode cannot redraw it. */
  redraw(op: Op): Op | null;
  bitflip(op: Op, rng: Rng): Op;
}

export function mutateStack(parent: readonly Op[], other: readonly Op[] | null, rng: Rng, opsMax: number, hooks: MutationHooks): { ops: Op[]; applied: MutationName[] } {
  let ops = parent.slice();
  const applied: MutationName[] = [];
  const stack = 1 + rng.int(STACK_MAX);
  for (let s = 0; s < stack; s++) {
    const m = rng.pick(MUTATIONS);
    applied.push(m);
    switch (m) {
      case 'insert': {
        const n = 1 + rng.int(hooks.insertMax);
        for (let k = 0; k < n; k++) ops.splice(rng.int(ops.length + 1), 0, ...hooks.unit());
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
        const fresh = hooks.redraw(ops[i]);
        if (fresh !== null) ops[i] = fresh;
        break;
      }
      case 'append': {
        const n = 1 + rng.int(hooks.appendMax);
        for (let k = 0; k < n; k++) ops.push(...hooks.unit());
        break;
      }
      case 'bitflip': {
        if (ops.length === 0) break;
        const i = rng.int(ops.length);
        ops[i] = hooks.bitflip(ops[i], rng);
        break;
      }
    }
  }
  if (ops.length > opsMax) ops = ops.slice(0, opsMax);
  if (ops.length === 0) ops.push(hooks.unit()[0]);
  return { ops, applied };
}
