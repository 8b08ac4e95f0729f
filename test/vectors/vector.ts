/**
 * A test vector: a machine configuration, an op list (setup ops then the access under test) and
 * the outcome the reference document states for the last op. Contract: setup ops are expected to
 * give `ok`; `expect` comes from ../shared/reference/x86-memory-protection.md (section in `ref`),
 * never from the model, so a vector can fail on the model and on the machine alike.
 */
import { type MachineConfig, normalizeConfig } from '../../src/hw/config.js';
import type { Outcome } from '../../src/hw/outcome.js';
import type { Op } from '../../src/trace/ops.js';

export interface Vector {
  name: string;
  /** Reference section (and upstream test) the expectation comes from. */
  ref: string;
  config: MachineConfig;
  ops: Op[];
  expect: Outcome;
}

export type ConfigOverrides = Parameters<typeof normalizeConfig>[0];

export function config(over: ConfigOverrides = {}): MachineConfig {
  return normalizeConfig(over);
}

export const exit48 = (qual: number, gpa: number, gla: number): Outcome => ({ kind: 'exit', reason: 48, qual, gpa, gla });
export const exit49 = (gpa: number): Outcome => ({ kind: 'exit', reason: 49, qual: 0, gpa, gla: null });
export const exit66 = (qual: number, gpa: number, gla: number): Outcome => ({ kind: 'exit', reason: 66, qual, gpa, gla });
export const pf = (code: number, cr2: number): Outcome => ({ kind: 'pf', code, cr2 });
export const ok: Outcome = { kind: 'ok' };
export const data = (value: bigint): Outcome => ({ kind: 'data', value });
