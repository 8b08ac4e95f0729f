/**
 * A shrink budget: predicate evaluations (steps) and elapsed milliseconds, with memoization.
 * Contract: `test` evaluates the predicate at most once per distinct candidate (by content) and
 * returns false without evaluating once the budget is spent. Steps make shrinking deterministic;
 * the time limit is only a safety net (when it binds, the result depends on the machine's speed,
 * and the report says so through `timedOut`).
 */
import type { Op } from '../trace/ops.js';

export interface BudgetOptions {
  /** Predicate evaluations allowed (memo hits are free). */
  stepsMax: number;
  /** Wall-clock limit in milliseconds. */
  msMax: number;
  /** Clock for the time limit; injectable so tests can pin it. */
  now?: () => number;
}

const opKeys = new WeakMap<Op, string>();

function opKey(op: Op): string {
  let k = opKeys.get(op);
  if (k === undefined) {
    k = Object.values(op).map((v) => String(v)).join(',');
    opKeys.set(op, k);
  }
  return k;
}

export class Budget {
  steps = 0;
  memoHits = 0;
  timedOut = false;
  private readonly memo = new Map<string, boolean>();
  private readonly start: number;
  private readonly now: () => number;

  constructor(private readonly predicate: (ops: Op[]) => boolean, private readonly opts: BudgetOptions) {
    this.now = opts.now ?? Date.now;
    this.start = this.now();
  }

  spent(): boolean {
    if (this.steps >= this.opts.stepsMax) return true;
    if (this.now() - this.start > this.opts.msMax) {
      this.timedOut = true;
      return true;
    }
    return false;
  }

  test(ops: Op[]): boolean {
    const key = ops.map(opKey).join(';');
    const hit = this.memo.get(key);
    if (hit !== undefined) {
      this.memoHits++;
      return hit;
    }
    if (this.spent()) return false;
    this.steps++;
    const ok = this.predicate(ops);
    this.memo.set(key, ok);
    return ok;
  }
}
