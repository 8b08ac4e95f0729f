/**
 * Folding: a 4 KiB mapping written as a level-2 table entry plus a level-1 leaf (guest paging,
 * gpt_set, or EPT, ept_set) is tried as one 2 MiB leaf at level 2, built from the level-1 leaf's
 * flags (PS set, PAT/ignored bit 7 moved out of the way) and its address aligned down to 2 MiB;
 * the level-1 op is dropped. A repro whose failure does not depend on the page size then needs
 * one op less per folded path (the level-1 op would write nothing through a leaf anyway: path
 * ops give `noent`).
 * Contract: returns the list unchanged or a candidate the predicate accepted; every op stays
 * valid per OP_SCHEMAS (same kinds and fields, an entry is any u64). Deterministic: pairs are
 * tried in op order.
 * `foldSteps` yields after every evaluation (see budget.ts); `foldLeaves` runs it.
 */
import type { Op } from '../trace/ops.js';
import { drive, type Budget, type Steps } from './budget.js';

const LARGE = 0x20_0000;
/** Entry address bits 51:12. */
const ADDR = ((1n << 52n) - 1n) & ~0xfffn;
/** Address bits of a 2 MiB leaf (51:21). */
const ADDR_2M = ((1n << 52n) - 1n) & ~BigInt(LARGE - 1);
const PS = 0x80n;
/** Guest leaf flags kept: bits 6:0 and G (8); a PTE's bit 7 is PAT, where a PDE has PS. */
const GPT_LEAF_FLAGS = 0x17fn;

type PathOp = Extract<Op, { op: 'gpt_set' | 'ept_set' }>;

function addrOf(op: PathOp): number {
  return op.op === 'gpt_set' ? op.la : op.gpa;
}

/** The 2 MiB leaf standing in for `leaf` (a level-1 entry of the same kind). */
function largeLeaf(leaf: PathOp): bigint {
  const e = leaf.entry;
  const high = e & ~((1n << 52n) - 1n); // XD / SVE / SPP / protection key bits
  const flags = leaf.op === 'gpt_set' ? e & GPT_LEAF_FLAGS : e & 0xfffn;
  return high | (e & ADDR & ADDR_2M) | flags | PS;
}

export function* foldSteps(ops: Op[], budget: Budget): Steps<{ ops: Op[]; changed: boolean }> {
  let current = ops;
  let changed = false;
  for (let i = 0; i < current.length && !budget.spent(); i++) {
    const a = current[i];
    if ((a.op !== 'gpt_set' && a.op !== 'ept_set') || a.level !== 2 || (a.entry & PS) !== 0n) continue;
    const region = Math.floor(addrOf(a) / LARGE);
    for (let j = i + 1; j < current.length; j++) {
      const b = current[j];
      if (b.op !== a.op || b.level !== 1 || Math.floor(addrOf(b) / LARGE) !== region) continue;
      const candidate = current.slice();
      candidate[i] = { ...a, entry: largeLeaf(b) } as Op;
      candidate.splice(j, 1);
      const ok = budget.test(candidate);
      yield;
      if (ok) {
        current = candidate;
        changed = true;
      }
      break;
    }
  }
  return { ops: current, changed };
}

export function foldLeaves(ops: Op[], budget: Budget): { ops: Op[]; changed: boolean } {
  return drive(foldSteps(ops, budget));
}
