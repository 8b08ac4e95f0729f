/**
 * The minimizer: reduces a failing op list while a predicate (usually "the first violation has the
 * same signature") keeps holding: ddmin over ops, then operand simplification, repeated until a
 * round changes nothing or the budget is spent.
 * Contract: the returned ops satisfy the predicate (the input is returned unchanged if it does
 * not); `ShrinkReport` says how far it got and whether a limit stopped it.
 */
import type { Op } from '../trace/ops.js';
import { Budget, type BudgetOptions } from './budget.js';
import { ddmin } from './ddmin.js';
import { simplifyOperands } from './simplify.js';

export interface ShrinkReport {
  opsBefore: number;
  opsAfter: number;
  /** Predicate evaluations spent. */
  steps: number;
  memoHits: number;
  rounds: number;
  /** The step budget ran out (the result may not be 1-minimal). */
  stepsExhausted: boolean;
  /** The time limit ran out (the result then depends on machine speed). */
  timedOut: boolean;
}

/** Default budget: enough for ddmin + simplification of a few-hundred-op trace to finish. */
export const SHRINK_STEPS_MAX_DEFAULT = 5000;
export const SHRINK_MS_MAX_DEFAULT = 30_000;
/** Rounds of (ddmin, simplify): simplification can enable more removals, rarely more than twice. */
export const SHRINK_ROUNDS_MAX = 4;

export function shrinkOps(ops: Op[], predicate: (ops: Op[]) => boolean, opts: Partial<BudgetOptions> = {}): { ops: Op[]; report: ShrinkReport } {
  const budget = new Budget(predicate, {
    stepsMax: opts.stepsMax ?? SHRINK_STEPS_MAX_DEFAULT,
    msMax: opts.msMax ?? SHRINK_MS_MAX_DEFAULT,
    now: opts.now,
  });
  let current = ops;
  let rounds = 0;
  const holds = budget.test(ops);
  while (holds && rounds < SHRINK_ROUNDS_MAX && !budget.spent()) {
    rounds++;
    const before = current;
    current = ddmin(current, budget);
    const simplified = simplifyOperands(current, budget);
    current = simplified.ops;
    if (current.length === before.length && !simplified.changed) break;
  }
  return {
    ops: current,
    report: {
      opsBefore: ops.length,
      opsAfter: current.length,
      steps: budget.steps,
      memoHits: budget.memoHits,
      rounds,
      stepsExhausted: budget.steps >= (opts.stepsMax ?? SHRINK_STEPS_MAX_DEFAULT),
      timedOut: budget.timedOut,
    },
  };
}
