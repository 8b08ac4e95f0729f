/**
 * The targets the runner can check: the real machine against the reference model (the default),
 * or against a bug-free copy of itself (`machine`: finds planted bugs only, no model needed).
 * Contract: `TARGETS` maps a stable oracle name to a Target; the CLI's `--oracle` uses the names.
 */
import { Machine } from '../hw/machine.js';
import { MachineOracle, withoutBugs } from './machine-oracle.js';
import type { Target } from './runner.js';

export const MACHINE_ORACLE_TARGET: Target = {
  makeMachine: (config) => new Machine(config),
  makeModel: (config) => new MachineOracle(new Machine(withoutBugs(config))),
};
