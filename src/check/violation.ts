/**
 * Violations and failure signatures.
 * Contract: invariant ids are stable (crash directories, traces and users' notes name them); a
 * signature is invariant + op kind + coarse detail (no addresses or values), and its hash names the
 * crash directory. Changing a coarse detail's wording splits existing crash buckets: don't, lightly.
 */
import { createHash } from 'node:crypto';
import type { Signature } from '../trace/trace.js';
import { HV_INVARIANTS, type HvInvariantId } from './hv/invariants.js';
import { opClass } from './classify.js';

export const INVARIANTS = {
  /** Both sides took #PF but the error code or CR2 differ; or the two disagree on the PK verdict (one #PF has PK, the other side has none). */
  pfErrorCode: 'fault.pf-error-code',
  /** Both sides exited with reason 48 or 66 but the qualification, GPA or GLA differ. */
  eptQualification: 'fault.ept-qualification',
  /** Outcome kinds or exit reasons differ, or any other outcome mismatch. */
  exitReason: 'fault.exit-reason',
  /** The machine produced an outcome only a translation removed by a required flush could give. */
  staleAfterFlush: 'tlb.stale-after-flush',
  /** Machine memory and model memory disagree on a frame the op wrote (or at a full sweep). */
  noLostWrite: 'mem.no-lost-write',
  /**
   * hv mode: after an op the hypervisor's free pool frames differ from the model's exact count
   * (docs/hypervisor.md "The page pool"): a table page taken or given back where the model does not.
   */
  poolCount: 'hv.pool-count',
  /** The machine or the model threw: a crash of the code under test (or of the model). */
  exception: 'harness.exception',
  /**
   * The determinism self-check re-executed a trace and got different outcomes or violations: the
   * harness (machine, model or checkers) depends on something besides the trace.
   */
  nondeterminism: 'harness.nondeterminism',
} as const;

/**
 * Every invariant id: the runner's own (above, both modes) and the hypervisor's (hv mode,
 * src/check/hv/invariants.ts HV_INVARIANTS: `pkvm.*`, `hv.*`, `spp.*`, `xo.*`, `memattr.*`, `vtl.*`).
 */
export type InvariantId = (typeof INVARIANTS)[keyof typeof INVARIANTS] | HvInvariantId;
export const INVARIANT_IDS: readonly InvariantId[] = [...Object.values(INVARIANTS), ...Object.values(HV_INVARIANTS)];

/** Op kind recorded for a violation found by a full memory sweep rather than after one op. */
export const SWEEP_OP = 'sweep';

export interface Violation {
  invariant: InvariantId;
  /** Index of the op after which it was seen (for a sweep: the number of ops run so far). */
  step: number;
  /** The op kind at that step, or `sweep`. */
  op: string;
  /** Short human detail (may carry addresses and values). */
  detail: string;
  /** Coarse detail for the signature: no addresses, no values (the rule in dispute, src/check/classify.ts). */
  coarse: string;
  /** The id of the rule the model applied at the step (src/model/rules.ts), or 'none'. */
  rule: string;
  /** Other explanations that fit the step as well (checkers.ts Finding.alternates). */
  alternates?: readonly { invariant: string; coarse: string }[];
}

/**
 * Invariants that say more than another one fired on the same step: the runner files the step's
 * first finding under the more specific one (a content leak is a lost write too; so is a table
 * frame taken or freed otherwise than the model's, which the pool count names).
 */
export const MORE_SPECIFIC: Readonly<Record<string, readonly string[]>> = {
  // A content leak is a lost write too; a pool count that differs on the same step says why the
  // memory differs (a table frame the hypervisor wrote where the model has none, or none where it has one).
  'mem.no-lost-write': ['pkvm.no-content-leak', 'hv.pool-count'],
};

/**
 * A violation's signature: invariant, op class (guest accesses are one class, src/check/classify.ts:
 * a broken rule shows on reads, writes and fetches alike) and the rule-terms detail.
 */
export function signatureOf(v: { invariant: string; op: string; coarse: string; step?: number; detail?: string; rule?: string }): Signature {
  return { invariant: v.invariant, op: opClass(v.op), detail: v.coarse };
}

/** The signatures of a violation's alternative explanations (empty when it has none). */
export function alternateSignatures(v: Violation): Signature[] {
  return v.alternates === undefined ? [] : v.alternates.map((a) => ({ invariant: a.invariant, op: opClass(v.op), detail: a.coarse }));
}

export function sameSignature(a: Signature, b: Signature): boolean {
  return a.invariant === b.invariant && a.op === b.op && a.detail === b.detail;
}

/** The canonical one-line form of a signature (also what is hashed). */
export function formatSignature(s: Signature): string {
  return `${s.invariant} @ ${s.op}: ${s.detail}`;
}

/** Hex prefix length of a signature hash: 64 bits is far beyond the number of distinct bugs. */
export const SIGNATURE_HASH_HEX_CHARS = 16;

/** A stable name for a signature: sha256 of its canonical form, hex prefix. */
export function signatureHash(s: Signature): string {
  return createHash('sha256').update(formatSignature(s)).digest('hex').slice(0, SIGNATURE_HASH_HEX_CHARS);
}
