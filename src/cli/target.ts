/**
 * The oracle a command checks the machine against: `model` (the reference model, default) or
 * `machine` (a bug-free copy of the machine: finds planted bugs only).
 */
import { MACHINE_ORACLE_TARGET, MODEL_TARGET } from '../check/targets.js';
import type { Target } from '../check/runner.js';
import { UsageError } from './errors.js';

export type OracleName = 'model' | 'machine';
export const ORACLES: readonly OracleName[] = ['model', 'machine'];

export async function resolveTarget(name: string): Promise<Target> {
  switch (name) {
    case 'machine': return MACHINE_ORACLE_TARGET;
    case 'model': return MODEL_TARGET;
    default: throw new UsageError(`--oracle: expected model or machine, got '${name}'`);
  }
}
