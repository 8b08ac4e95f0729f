/**
 * ddmin over a list of ops (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing
 * Input", 2002), complement-only variant.
 * Contract: returns a sublist (order kept) for which the budget's predicate holds; when the budget
 * is not exhausted the result is 1-minimal: removing any single op makes the predicate fail.
 * `ddminSteps` yields after every evaluation (see budget.ts); `ddmin` runs it to the end.
 */
import type { Op } from '../trace/ops.js';
import { drive, type Budget, type Steps } from './budget.js';

export function* ddminSteps(ops: Op[], budget: Budget): Steps<Op[]> {
  let current = ops;
  let n = 2;
  while (current.length >= 2 && !budget.spent()) {
    const chunk = Math.ceil(current.length / n);
    let reduced = false;
    // Later chunks first: setup ops near the front are the ones most often needed.
    for (let start = (Math.ceil(current.length / chunk) - 1) * chunk; start >= 0; start -= chunk) {
      const candidate = current.slice(0, start).concat(current.slice(start + chunk));
      const ok = budget.test(candidate);
      yield;
      if (ok) {
        current = candidate;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
      if (budget.spent()) return current;
    }
    if (reduced) continue;
    if (n >= current.length) break;
    n = Math.min(n * 2, current.length);
  }
  if (current.length === 1) {
    const empty = budget.test([]);
    yield;
    if (empty) return [];
  }
  return current;
}

export function ddmin(ops: Op[], budget: Budget): Op[] {
  return drive(ddminSteps(ops, budget));
}
