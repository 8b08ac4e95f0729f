/**
 * The targets the runner can check: the real machine against the reference model (the default),
 * or against a bug-free copy of itself (`machine`: finds planted bugs only, no model needed).
 * Contract: each is a Target for runWith; the CLI's `--oracle model|machine` names them, and
 * worker threads resolve them by the same names (`TARGETS`).
 */
import { Machine } from '../hw/machine.js';
import { ReferenceModel } from '../spec/model.js';
import { MachineOracle, withoutBugs } from './machine-oracle.js';
import type { Target } from './runner.js';

export const MODEL_TARGET: Target = {
  makeMachine: (config) => new Machine(config),
  makeModel: (config) => new ReferenceModel(config),
};

export const MACHINE_ORACLE_TARGET: Target = {
  makeMachine: (config) => new Machine(config),
  makeModel: (config) => new MachineOracle(new Machine(withoutBugs(config))),
};

export type TargetName = 'model' | 'machine';
export const TARGET_NAMES: readonly TargetName[] = ['model', 'machine'];

export const TARGETS: Readonly<Record<TargetName, Target>> = { model: MODEL_TARGET, machine: MACHINE_ORACLE_TARGET };
