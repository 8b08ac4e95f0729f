/**
 * The minimizer: reduces a failing op list while a predicate (usually "the first violation has the
 * same signature") keeps holding: for long lists a prefix pass first (prefix.ts), then ddmin over
 * ops, operand simplification and folding of 4 KiB paths into 2 MiB leaves (fold.ts), repeated until a round changes nothing or the budget is spent.
 * Contract: the returned ops satisfy the predicate (the input is returned unchanged if it does
 * not); `ShrinkReport` says how far it got and whether a limit stopped it. `shrinkSteps` yields
 * after every predicate evaluation so a campaign can run it in slices; `shrinkOps` runs it whole.
 */
import type { Op } from '../trace/ops.js';
import { Budget, drive, type BudgetOptions, type Steps } from './budget.js';
import { ddminSteps } from './ddmin.js';
import { prefixSteps } from './prefix.js';
import { simplifySteps } from './simplify.js';
import { foldSteps } from './fold.js';

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
/** Rounds of (ddmin, simplify, fold): either can enable more removals, rarely more than twice. */
export const SHRINK_ROUNDS_MAX = 4;

export function* shrinkSteps(ops: Op[], predicate: (ops: Op[]) => boolean, opts: Partial<BudgetOptions> = {}): Steps<{ ops: Op[]; report: ShrinkReport }> {
  const stepsMax = opts.stepsMax ?? SHRINK_STEPS_MAX_DEFAULT;
  const budget = new Budget(predicate, { stepsMax, msMax: opts.msMax ?? SHRINK_MS_MAX_DEFAULT, now: opts.now });
  let current = ops;
  let rounds = 0;
  const holds = budget.test(ops);
  yield;
  if (holds) current = yield* prefixSteps(current, budget);
  while (holds && rounds < SHRINK_ROUNDS_MAX && !budget.spent()) {
    rounds++;
    const before = current;
    current = yield* ddminSteps(current, budget);
    const simplified = yield* simplifySteps(current, budget);
    current = simplified.ops;
    const folded = yield* foldSteps(current, budget);
    current = folded.ops;
    if (current.length === before.length && !simplified.changed && !folded.changed) break;
  }
  return {
    ops: current,
    report: {
      opsBefore: ops.length,
      opsAfter: current.length,
      steps: budget.steps,
      memoHits: budget.memoHits,
      rounds,
      stepsExhausted: budget.steps >= stepsMax,
      timedOut: budget.timedOut,
    },
  };
}

export function shrinkOps(ops: Op[], predicate: (ops: Op[]) => boolean, opts: Partial<BudgetOptions> = {}): { ops: Op[]; report: ShrinkReport } {
  return drive(shrinkSteps(ops, predicate, opts));
}
