/**
 * Semantic coverage: which (op kind, outcome kind, exit reason, qualification bits, error-code
 * bits) combinations and which (previous op kind, op kind, outcome shape) transitions a run reached.
 * Contract: `observe` is allocation-free (one bitmap store per feature); `endRun` returns how many
 * features the run added to the campaign total. Features are small integers, so the whole map is
 * one Uint8Array; the layout below fixes their meaning.
 */
import type { Outcome } from '../hw/outcome.js';
import type { Op, OpName } from '../trace/ops.js';
import { OP_SCHEMAS } from '../trace/ops.js';
import type { StepObserver } from '../check/runner.js';

const OP_INDEX: Readonly<Record<string, number>> = Object.fromEntries(OP_SCHEMAS.map((s, i) => [s.name, i]));
const KIND_INDEX: Readonly<Record<Outcome['kind'], number>> = { ok: 0, data: 1, pf: 2, exit: 3, gp: 4, vmfail: 5, noent: 6 };

function reasonIndex(reason: number): number {
  return reason === 48 ? 0 : reason === 49 ? 1 : reason === 66 ? 2 : 3;
}

// Layout: bits 21:18 op index, 17:15 outcome kind, 14:0 detail (exit: reason index << 13 | qual
// bits 12:0; pf: error code bits 6:0; vmfail: error number & 0x1f). Transitions live above 2^22.
const DETAIL_BITS = 15;
const KIND_SHIFT = DETAIL_BITS;
const OP_SHIFT = DETAIL_BITS + 3;
const FEATURES_DIRECT = 1 << 22;
const TRANSITIONS = 1 << 13; // previous op (4 bits) x op (4 bits) x kind (3 bits) x reason (2 bits)
const START_OP = 15;
export const FEATURE_SPACE = FEATURES_DIRECT + TRANSITIONS;

export class Coverage implements StepObserver {
  private readonly campaign = new Uint8Array(FEATURE_SPACE);
  private total = 0;
  private added = 0;
  /** Op index of the previous step; START_OP before the first (no op has index 15). */
  private prevOp = START_OP;

  /** Distinct features reached by the campaign so far. */
  get count(): number {
    return this.total;
  }

  beginRun(): void {
    this.added = 0;
    this.prevOp = START_OP;
  }

  observe(op: Op, actual: Outcome): void {
    const opIndex = OP_INDEX[op.op as OpName] ?? 15;
    const kind = KIND_INDEX[actual.kind];
    let detail = 0;
    let reason = 0;
    if (actual.kind === 'exit') {
      reason = reasonIndex(actual.reason);
      detail = (reason << 13) | (actual.qual & 0x1fff);
    } else if (actual.kind === 'pf') {
      detail = actual.code & 0x7f;
    } else if (actual.kind === 'vmfail') {
      detail = actual.error & 0x1f;
    }
    this.mark((opIndex << OP_SHIFT) | (kind << KIND_SHIFT) | detail);
    this.mark(FEATURES_DIRECT + ((this.prevOp << 9) | (opIndex << 5) | (kind << 2) | reason));
    this.prevOp = opIndex;
  }

  private mark(feature: number): void {
    if (this.campaign[feature] === 0) {
      this.campaign[feature] = 1;
      this.total++;
      this.added++;
    }
  }

  /** Features this run added to the campaign. */
  endRun(): number {
    return this.added;
  }
}
