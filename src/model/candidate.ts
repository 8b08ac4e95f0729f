/**
 * The reference model's candidate: an allowed outcome plus the effects committing it applies.
 * Contract: `commit` receives the very object `step` returned; `effects` applies memory writes,
 * register or VMCS changes and TLB bookkeeping exactly once.
 */
import type { Outcome } from '../hw/outcome.js';
import type { Candidate } from './api.js';
import { NO_RULE } from './rules.js';

export class SpecCandidate implements Candidate {
  constructor(
    readonly outcome: Outcome,
    readonly stale: boolean,
    readonly frames: readonly number[],
    private readonly apply: () => void,
    /** The bytes `frame` would hold after commit (null: unchanged by this candidate). */
    private readonly predict: ((frame: number) => Uint8Array | null) | null = null,
    /** Every frame any candidate of the same step writes. */
    private readonly stepFrames: readonly number[] = frames,
    /** The model's current bytes of a frame (before commit). */
    private readonly current: ((frame: number) => Uint8Array | null) | null = null,
    /** The rule that produced the outcome (src/model/rules.ts). */
    readonly rule: number = NO_RULE,
  ) {}

  /** Applies the candidate's effects (subclasses may override instead of passing a closure). */
  effects(): void {
    this.apply();
  }

  /** The bytes `frame` would hold after commit, or null when this candidate leaves it unchanged. */
  protected predicted(frame: number): Uint8Array | null {
    return this.predict !== null ? this.predict(frame) : null;
  }

  /**
   * The bytes `frame` would hold after committing this candidate (null: an all-zero, never
   * written frame). The runner compares these with the machine's frames to pick among candidates
   * with the same outcome but different memory effects.
   */
  frameAfter(frame: number): Uint8Array | null {
    return this.predicted(frame) ?? (this.current !== null ? this.current(frame) : null);
  }

  /**
   * Whether committing this candidate would leave every frame the step's candidates write
   * byte-equal to `view` (the machine's frames after the op; null reads as zeros). Lets a runner
   * pick among candidates with the same outcome and the same frames but different bytes (e.g. a
   * fresh walk that sets an A bit and a stale one that does not).
   */
  agreesWith(view: (frame: number) => Uint8Array | null, current: (frame: number) => Uint8Array | null): boolean {
    for (const f of this.stepFrames) {
      const mine = this.predicted(f) ?? current(f);
      const theirs = view(f);
      for (let i = 0; i < 4096; i++) if ((mine === null ? 0 : mine[i]) !== (theirs === null ? 0 : theirs[i])) return false;
    }
    return true;
  }
}

export const NO_FRAMES: readonly number[] = Object.freeze([]);

export const NO_EFFECTS = (): void => {};
