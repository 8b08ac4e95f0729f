/**
 * The trace: a header (schema, eptfuzz version, machine configuration), the ops, and optionally
 * provenance and the failure signature it reproduces. Contract: see ARCHITECTURE.md "Traces".
 * Replay never calls the generator; `ops` are the ground truth, `provenance` only records origin.
 */
import type { MachineConfig } from '../hw/config.js';
import type { Op } from './ops.js';

/** 2: vtl_protect's target is the ABI TargetVtl (upgrades.ts SCHEMA_1_TO_2). */
export const SCHEMA_VERSION = 2;

/** Limits on untrusted input: a trace beyond these is rejected before it is run. */
export const OPS_MAX = 1_000_000;

export interface Signature {
  /** Stable invariant id, e.g. `fault.pf-error-code`. */
  invariant: string;
  /** The op kind at the failing step. */
  op: string;
  /** Coarse detail that separates distinct bugs under one invariant (no addresses or values). */
  detail: string;
}

export interface Provenance {
  seed: string;
  options: Record<string, string | number | boolean>;
}

export interface Trace {
  schema: number;
  eptfuzz: string;
  machine: MachineConfig;
  ops: Op[];
  provenance?: Provenance;
  signature?: Signature;
}
