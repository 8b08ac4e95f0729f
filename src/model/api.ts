/**
 * The reference model's contract with the runner and the checkers.
 *
 * For every op the model returns the set of outcomes the architecture allows (a set, because a
 * stale TLB entry may serve until an invalidation is required, reference §6). The runner finds the
 * candidate equal to the machine's actual outcome and commits it, so the model's memory and cache
 * bookkeeping follow the branch the machine took. `flushed` lists outcomes that only translations
 * removed by a required invalidation could produce: seeing one of them is `tlb.stale-after-flush`.
 */
import type { Op } from '../trace/ops.js';
import type { Outcome } from '../hw/outcome.js';

export interface Candidate {
  outcome: Outcome;
  /**
   * True when the outcome relies on a cached translation that memory no longer gives (one that
   * allows, or under choices.staleDenial = 'sdm' one whose fault it is).
   */
  stale: boolean;
  /** Host frames this candidate writes when committed (data, A/D bits, table entries). */
  frames: readonly number[];
  /**
   * The rule that produced the outcome (numeric id, src/model/rules.ts; absent or NO_RULE: not
   * labelled, e.g. a test fake or the hv model, whose outcomes are labelled by src/model/hv/rules.ts).
   */
  readonly rule?: number;
  /**
   * Optional stage rules of a guest access (src/model/access.ts `rightsStage`): what the model
   * decided at the rights and key stages, and whether the other key register would deny. NO_RULE
   * (or absent) when the walk never reached the rights check.
   */
  readonly rightsStage?: number;
  readonly keyStage?: number;
  readonly keyOtherDenies?: boolean;
  /**
   * Optional: the stage rules of the part of a split access on linear page `linearPage` (the
   * fields above are the first part's), or null when that part's walk never reached the rights check.
   */
  stagesAt?(linearPage: number): AccessStages | null;
  /**
   * Optional, guest accesses: where the access stood when its outcome came (src/check/progress.ts):
   * the index of the part it was in (a completed access: its last), the linear pages of its parts
   * in order, and the final GPA of a part whose guest walk reached a leaf (else null).
   */
  readonly stopPart?: number;
  readonly partPages?: readonly number[];
  finalGpaOf?(part: number): number | null;
  /**
   * Optional, guest accesses: the #PF that kvmXo's step 7 (docs/semantics.md) reports for an EPT
   * violation of a final-GPA access at `gpa` in the part where the access stopped, or null when it
   * would stay an exit (kvmXo off, a fetch, a GPA outside the XO alias).
   */
  xoReportAt?(gpa: number): Outcome | null;
}

/** The stage rules of one part of a guest access (Candidate.rightsStage, keyStage, keyOtherDenies). */
export interface AccessStages {
  readonly rightsStage: number;
  readonly keyStage: number;
  readonly keyOtherDenies: boolean;
}

export interface SpecStep {
  /** Never empty; allowed[0] is the result of a fresh walk with no cached state. */
  allowed: Candidate[];
  /** Outcomes reachable only through translations that a required invalidation removed. */
  flushed: Outcome[];
  /**
   * Optional, parallel to `flushed`: the rule of the required invalidation that removed the
   * translation each flushed outcome needs (a failure signature names the flush that was skipped).
   */
  readonly flushedRules?: readonly number[];
  /**
   * Optional, read before commit (a model offers it only when some translation of the step was
   * recently flushed): the rule of the required invalidation whose flushed translation gives
   * exactly `actual` AND leaves `frames` as `view` shows them (a stale translation that completes
   * the access as a fresh walk would, but without the walk's A/D updates), or null when none does.
   */
  flushedMatching?(actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null): number | null;
}

export interface ReferenceModelApi {
  step(op: Op): SpecStep;
  /** Applies the chosen candidate (one returned by the last `step`): memory writes and cache bookkeeping. */
  commit(candidate: Candidate): void;
  readPhys(hpa: number, size: number): bigint;
  frameBytes(frame: number): Uint8Array | null;
  /** hv mode: the free pool frames the model counts now (the pool is modelled exactly: hv.pool-count). */
  poolFree?(): number;
}
