/**
 * A shrink budget: predicate evaluations (steps) and elapsed milliseconds, with memoization.
 * Contract: `test` evaluates the predicate at most once per distinct candidate (by content) and
 * returns false without evaluating once the budget is spent. Steps make shrinking deterministic;
 * the time limit is only a safety net (when it binds, the result depends on the machine's speed,
 * and the report says so through `timedOut`). The shrink passes are generators that yield after
 * every evaluation, so a caller can run them in bounded slices (`drive` runs one to the end).
 */
import type { Op } from '../trace/ops.js';

export interface BudgetOptions {
  /** Predicate evaluations allowed (memo hits are free). */
  stepsMax: number;
  /** Wall-clock limit in milliseconds. */
  msMax: number;
  /** Clock for the time limit; injectable so tests can pin it (and sliced jobs count only their own time). */
  now?: () => number;
}

/** A shrink pass: yields after each predicate evaluation, returns its result. */
export type Steps<T> = Generator<void, T, void>;

/** Runs a pass to its end. */
export function drive<T>(steps: Steps<T>): T {
  let r = steps.next();
  while (r.done !== true) r = steps.next();
  return r.value;
}

/**
 * Op identity for memo keys: equal ops (same fields) get the same small id, so a candidate's key
 * is a short list of numbers rather than its whole text (10,000-op candidates stay cheap).
 */
const opIds = new WeakMap<Op, number>();
const idOfText = new Map<string, number>();
/** Distinct op texts remembered across shrinks: bounded so that a long campaign stays flat. */
const OP_TEXTS_MAX = 1 << 18;
let generation = 0;

function opId(op: Op): number {
  let id = opIds.get(op);
  if (id === undefined) {
    const text = Object.values(op).map((v) => String(v)).join(',');
    id = idOfText.get(text);
    if (id === undefined) {
      if (idOfText.size >= OP_TEXTS_MAX) {
        // Ids of a new generation never collide with ids ops of the old one keep.
        idOfText.clear();
        generation++;
      }
      id = generation * OP_TEXTS_MAX + idOfText.size + 1;
      idOfText.set(text, id);
    }
    opIds.set(op, id);
  }
  return id;
}

function candidateKey(ops: readonly Op[]): string {
  let key = '';
  for (let i = 0; i < ops.length; i++) key += opId(ops[i]).toString(36) + ',';
  return key;
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
    const key = candidateKey(ops);
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
