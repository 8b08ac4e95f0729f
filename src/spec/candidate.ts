/**
 * The reference model's candidate: an allowed outcome plus the effects committing it applies.
 * Contract: `commit` receives the very object `step` returned; `effects` applies memory writes,
 * register or VMCS changes and TLB bookkeeping exactly once.
 */
import type { Outcome } from '../hw/outcome.js';
import type { Candidate } from './api.js';

export class SpecCandidate implements Candidate {
  constructor(
    readonly outcome: Outcome,
    readonly stale: boolean,
    readonly frames: readonly number[],
    readonly effects: () => void,
  ) {}
}

export const NO_FRAMES: readonly number[] = Object.freeze([]);

export const NO_EFFECTS = (): void => {};
