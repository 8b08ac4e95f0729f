/**
 * Shared helper of the reference-model tests: runs a vector on a fresh ReferenceModel and returns
 * the setup outcomes that were not `ok` plus the last op's outcome.
 */
import type { Outcome } from '../../../src/hw/outcome.js';
import { ReferenceModel } from '../../../src/model/model.js';
import { runOps } from '../../vectors/runner.js';
import type { Vector } from '../../vectors/vector.js';

export function runVectorOnSpec(v: Vector): { setupFailures: string[]; actual: Outcome } {
  const model = new ReferenceModel(v.config);
  const outs = runOps(model, v.ops);
  const setupFailures: string[] = [];
  outs.slice(0, -1).forEach((o, i) => {
    if (o.kind !== 'ok') setupFailures.push(`op ${i} ${v.ops[i].op}: ${o.kind}`);
  });
  return { setupFailures, actual: outs[outs.length - 1] };
}
