/**
 * hv mode: the second explanation of a hypercall that succeeded where the model required -ENOMEM
 * for want of pool frames (Candidate.poolShort).
 * Contract: pure; `poolShortAlternative` returns the hv.pool-count explanation such a step also
 * fits, or null. The pool is modelled exactly and its count is compared after every op, so the
 * two sides held the same free frames before the op. The model's transition needs more frames
 * than that; a target that completed it took at most what it had, so its transition took fewer
 * frames than the model's: had the pool held enough, the same target would have left more free
 * frames than the model counts after the op's transition (`<op>.ok: pool frames differ (machine
 * more free)`, runner.ts). Which of the two shows depends only on how full the pool was
 * (docs/rules.md "Alternative explanations").
 */
import type { Outcome } from '../../hw/outcome.js';
import type { SpecStep } from '../../model/api.js';
import { hvRuleOf } from '../../model/hv/rules.js';
import { ruleGroup } from '../classify.js';
import type { Explanation } from '../checkers.js';
import { INVARIANTS } from '../violation.js';

/** The pool-count explanation of a call that returned success where every allowed outcome is a pool-short -ENOMEM, else null. */
export function poolShortAlternative(op: string, actual: Outcome, spec: SpecStep): Explanation | null {
  if (actual.kind !== 'ret' || actual.value < 0) return null;
  for (const c of spec.allowed) if (c.poolShort !== true) return null;
  return { invariant: INVARIANTS.poolCount, coarse: `${ruleGroup(hvRuleOf(op, actual))}: pool frames differ (machine more free)` };
}
