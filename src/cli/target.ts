/**
 * The oracle a command checks the machine against: `model` (the reference model, default) or
 * `machine` (a bug-free copy of the machine: finds planted bugs only).
 */
import { MACHINE_ORACLE_TARGET } from '../check/targets.js';
import type { Target } from '../check/runner.js';
import type { MachineConfig } from '../hw/config.js';
import type { ReferenceModelApi } from '../spec/api.js';
import { Machine } from '../hw/machine.js';
import { UsageError } from './errors.js';

export type OracleName = 'model' | 'machine';
export const ORACLES: readonly OracleName[] = ['model', 'machine'];

type ModelClass = new (config: MachineConfig) => ReferenceModelApi;

async function modelTarget(): Promise<Target> {
  // Loaded on demand: a command that does not run traces never pays for the model.
  const specifier = '../spec/model.js';
  const mod = (await import(specifier)) as { ReferenceModel: ModelClass };
  const Model = mod.ReferenceModel;
  return { makeMachine: (c) => new Machine(c), makeModel: (c) => new Model(c) };
}

export async function resolveTarget(name: string): Promise<Target> {
  switch (name) {
    case 'machine': return MACHINE_ORACLE_TARGET;
    case 'model': return modelTarget();
    default: throw new UsageError(`--oracle: expected model or machine, got '${name}'`);
  }
}
