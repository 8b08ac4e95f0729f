/**
 * The prefix pass: keeps the last op (where a failure usually shows) and binary-searches the
 * shortest prefix that still fails in front of it, in O(log n) evaluations. A long trace that
 * fails at its end usually needs only its setup and a few ops; ddmin alone would first spend
 * many evaluations on multi-thousand-op candidates.
 * Contract: returns `ops` or a candidate the predicate accepted (prefix + last op); any result is
 * valid whether or not failure is monotonic in the prefix length.
 */
import type { Op } from '../trace/ops.js';
import { drive, type Budget, type Steps } from './budget.js';

/** Below this length ddmin is already cheap: the pass is skipped. */
export const PREFIX_PASS_OPS_MIN = 64;

export function* prefixSteps(ops: Op[], budget: Budget): Steps<Op[]> {
  if (ops.length < PREFIX_PASS_OPS_MIN) return ops;
  const last = ops[ops.length - 1];
  const withLast = (k: number): Op[] => {
    const c = ops.slice(0, k);
    c.push(last);
    return c;
  };
  // Invariant: withLast(hi) fails (hi = length - 1 is the input itself); lo is not known to.
  let lo = 0;
  let hi = ops.length - 1;
  while (lo + 1 < hi && !budget.spent()) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const ok = budget.test(withLast(mid));
    yield;
    if (ok) hi = mid;
    else lo = mid;
  }
  return hi === ops.length - 1 ? ops : withLast(hi);
}

export function shortestPrefix(ops: Op[], budget: Budget): Op[] {
  return drive(prefixSteps(ops, budget));
}
