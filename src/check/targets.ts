/**
 * The targets the runner can check: the real machine against the reference model (the default),
 * or against a bug-free copy of itself (`machine`: finds planted bugs only, no model needed).
 * Contract: each is a Target for runWith; the CLI's `--oracle model|machine` names them, and
 * worker threads resolve them by the same names (`TARGETS`). Each names its hv-mode counterpart
 * (`hv`): the Hypervisor against the hv reference model, or against a bug-free Hypervisor, so a
 * hv-mode trace runs on the right pair whichever command runs it.
 */
import { Machine } from '../hw/machine.js';
import { ReferenceModel } from '../model/model.js';
import { Hypervisor } from '../hv/hypervisor.js';
import { HvModel } from '../model/hv/model.js';
import { MachineOracle, withoutBugs } from './machine-oracle.js';
import type { Target } from './runner.js';
import type { MachineApi } from '../hw/api.js';
import { checkHvInvariants, type HvFinding } from './hv/invariants.js';

/** The hypervisor invariants, run by the runner on the hypervisor the target made. */
function hvInvariants(machine: MachineApi, full: boolean): HvFinding[] {
  if (!(machine instanceof Hypervisor)) throw new Error('hv invariants: the machine side is not the Hypervisor');
  return checkHvInvariants(machine, full);
}

/** The hypervisor (hv mode, docs/hypervisor.md) and its reference model, with its invariants. */
export const HV_TARGET: Target = {
  makeMachine: (config) => new Hypervisor(config),
  makeModel: (config) => new HvModel(config),
  invariants: hvInvariants,
};

/** The hypervisor against a bug-free copy of itself (its invariants still run on the machine side). */
export const HV_MACHINE_ORACLE_TARGET: Target = {
  makeMachine: (config) => new Hypervisor(config),
  makeModel: (config) => new MachineOracle(new Hypervisor(withoutBugs(config))),
  invariants: hvInvariants,
};

export const MODEL_TARGET: Target = {
  makeMachine: (config) => new Machine(config),
  makeModel: (config) => new ReferenceModel(config),
  hv: HV_TARGET,
};

export const MACHINE_ORACLE_TARGET: Target = {
  makeMachine: (config) => new Machine(config),
  makeModel: (config) => new MachineOracle(new Machine(withoutBugs(config)), true),
  hv: HV_MACHINE_ORACLE_TARGET,
};

export type TargetName = 'model' | 'machine';
export const TARGET_NAMES: readonly TargetName[] = ['model', 'machine'];

export const TARGETS: Readonly<Record<TargetName, Target>> = { model: MODEL_TARGET, machine: MACHINE_ORACLE_TARGET };
