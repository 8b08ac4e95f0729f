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
   * Optional, classification only: for a part beyond `stopPart` (the access never got there), the
   * GPA a debug walk of memory (no checks, no cache) maps its first byte to, else null.
   */
  debugFinalGpaOf?(part: number): number | null;
  /**
   * Optional, hv mode, classification only: true on a -ENOMEM the model answered because the op's
   * transition needs more pool frames than the pool holds (not a memory cache or an entry limit).
   */
  readonly poolShort?: boolean;
  /**
   * Optional, hv mode, classification only: on an access the model stopped with an exit of a guest
   * paging-structure write (an A/D update, src/check/hv/entry-write.ts), the host address of the
   * entry's low byte and the A/D bits that write would have set.
   */
  readonly stoppedEntryWrite?: { readonly hpa: number; readonly bits: number };
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
  /**
   * Optional, read before commit (offered with `flushedMatching`): a path through a cached
   * translation whose guest rights deny the access under the current registers, taken as if they
   * allowed it, that gives exactly `actual` and leaves `frames` as `view` shows them; returned as
   * the candidate of the fault the architecture gives there (with its stage rules), never one to
   * commit. Null when none does. A target that judged that translation by other rights (the key
   * register of the CPL) did this.
   */
  deniedMatching?(actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null): Candidate | null;
  /**
   * Optional, read before commit, guest accesses: whether the access with PKRU and IA32_PKRS
   * trading places (each page's key judged by the other address type's register) gives exactly
   * `actual` and leaves `frames` as `view` shows them (pk.register-by-address, whatever path the
   * target took). Never an allowed outcome.
   */
  otherKeyRegisterMatching?(actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null): boolean;
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
