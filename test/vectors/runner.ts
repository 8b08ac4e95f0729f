/**
 * Runs an op list against anything that applies ops: the machine (`apply(op): Outcome`) or the
 * reference model (step, then commit the fresh candidate allowed[0]). Contract: returns one
 * outcome per op, in order; the same vectors therefore run unchanged on both sides.
 */
import type { Outcome } from '../../src/hw/outcome.js';
import type { ReferenceModelApi } from '../../src/model/api.js';
import type { Op } from '../../src/trace/ops.js';

export interface OpTarget {
  apply(op: Op): Outcome;
}

/** Adapts the reference model: each op is stepped and its fresh candidate committed. */
export function specTarget(model: ReferenceModelApi): OpTarget {
  return {
    apply(op: Op): Outcome {
      const s = model.step(op);
      model.commit(s.allowed[0]);
      return s.allowed[0].outcome;
    },
  };
}

function isModel(t: OpTarget | ReferenceModelApi): t is ReferenceModelApi {
  return typeof (t as ReferenceModelApi).step === 'function' && typeof (t as ReferenceModelApi).commit === 'function';
}

export function runOps(target: OpTarget | ReferenceModelApi, ops: readonly Op[]): Outcome[] {
  const t = isModel(target) ? specTarget(target) : target;
  return ops.map((op) => t.apply(op));
}
