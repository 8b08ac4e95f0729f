/**
 * Operand simplification: for each op, tries simpler field values (0, fewer set bits, smaller
 * sizes, CPU 0) and keeps each change the predicate still accepts.
 * Contract: the op list keeps its length and kinds; every produced op is valid per OP_SCHEMAS
 * (sizes only shrink to allowed sizes; addresses are never changed, since almost every failure
 * depends on them; for the same reason the address bits 51:12 of an entry are kept).
 * `simplifySteps` yields after every evaluation (see budget.ts); `simplifyOperands` runs it.
 */
import type { Op } from '../trace/ops.js';
import { drive, type Budget, type Steps } from './budget.js';

const DATA_SIZES = [1, 2, 4, 8];

function withField(op: Op, field: string, value: unknown): Op {
  return { ...op, [field]: value } as Op;
}

export interface Simplified {
  ops: Op[];
  changed: boolean;
}

/** One pass over every op; returns the simplified list and whether anything changed. */
export function* simplifySteps(ops: Op[], budget: Budget): Steps<Simplified> {
  let current = ops;
  let changed = false;
  // Each attempt is a sub-generator so that the evaluation inside it is followed by a yield.
  function* tryOp(i: number, op: Op): Steps<boolean> {
    const candidate = current.slice();
    candidate[i] = op;
    const ok = budget.test(candidate);
    yield;
    if (!ok) return false;
    current = candidate;
    changed = true;
    return true;
  }
  for (let i = 0; i < current.length && !budget.spent(); i++) {
    const op = current[i];
    if ('cpu' in op && op.cpu !== 0) yield* tryOp(i, withField(op, 'cpu', 0));
    if (op.op === 'read' || op.op === 'write' || op.op === 'phys_read' || op.op === 'phys_write') {
      for (const size of DATA_SIZES) {
        const now = current[i] as { size: number };
        if (size >= now.size) break;
        if (yield* tryOp(i, withField(current[i], 'size', size))) break;
      }
    }
    if (op.op === 'fetch') {
      for (let size = 1; size < (current[i] as { size: number }).size; size++) {
        if (yield* tryOp(i, withField(current[i], 'size', size))) break;
      }
    }
    for (const field of ['value', 'entry', 'eptp', 'la'] as const) {
      if (field === 'la' && op.op !== 'invvpid') continue;
      const v = (current[i] as unknown as Record<string, unknown>)[field];
      if (typeof v !== 'bigint') continue;
      let best = v;
      if (v !== 0n && (yield* tryOp(i, withField(current[i], field, 0n)))) continue;
      // Clear set bits from high to low, keeping each clearing the predicate accepts.
      for (let bit = 63n; bit >= 0n && !budget.spent(); bit--) {
        if (((best >> bit) & 1n) === 0n) continue;
        // Entry address bits stay: clearing them aliases tables onto frame 0, which still fails
        // but makes the repro much harder to read.
        if (field === 'entry' && bit >= 12n && bit < 52n) continue;
        const candidate = best & ~(1n << bit);
        if (yield* tryOp(i, withField(current[i], field, candidate))) best = candidate;
      }
    }
  }
  return { ops: current, changed };
}

export function simplifyOperands(ops: Op[], budget: Budget): Simplified {
  return drive(simplifySteps(ops, budget));
}
