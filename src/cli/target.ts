/**
 * The oracle a command checks the machine against: `model` (the reference model, default) or
 * `machine` (a bug-free copy of the machine: finds planted bugs only).
 */
import { TARGETS, TARGET_NAMES, type TargetName } from '../check/targets.js';
import type { Target } from '../check/runner.js';
import { UsageError } from './errors.js';

export type OracleName = TargetName;
export const ORACLES: readonly OracleName[] = TARGET_NAMES;

export function parseOracle(name: string): OracleName {
  if (!(TARGET_NAMES as readonly string[]).includes(name)) throw new UsageError(`--oracle: expected model or machine, got '${name}'`);
  return name as OracleName;
}

export async function resolveTarget(name: string): Promise<Target> {
  return TARGETS[parseOracle(name)];
}
