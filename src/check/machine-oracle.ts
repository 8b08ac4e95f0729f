/**
 * A differential oracle: a second, bug-free Machine used in place of the reference model.
 * Contract: `step` applies the op to the oracle machine at once and allows exactly its outcome
 * (no stale-TLB latitude, nothing flushed); `commit` has nothing left to do. It finds only
 * planted bugs (where the machine differs from itself without them), never a shared mistake; it
 * exists for pipeline tests and as a fallback while the reference model is unavailable. It knows
 * no rules: a bare-mode candidate carries NO_RULE (signatures name `none`); a hv-mode one is
 * labelled from its outcome like the hv model's (src/model/hv/rules.ts).
 */
import type { MachineConfig } from '../hw/config.js';
import type { MachineApi } from '../hw/api.js';
import type { Op } from '../trace/ops.js';
import type { Candidate, ReferenceModelApi, SpecStep } from '../model/api.js';
import { NO_RULE } from '../model/rules.js';

export class MachineOracle implements ReferenceModelApi {
  /** `bare`: the oracle is the bare machine, whose outcomes no hv rule describes. */
  constructor(private readonly machine: MachineApi, private readonly bare = false) {}

  step(op: Op): SpecStep {
    const outcome = this.machine.apply(op);
    const frames = this.machine.touchedFrames().slice();
    return { allowed: [this.bare ? { outcome, stale: false, frames, rule: NO_RULE } : { outcome, stale: false, frames }], flushed: [] };
  }

  commit(_candidate: Candidate): void {}

  readPhys(hpa: number, size: number): bigint {
    return this.machine.readPhys(hpa, size);
  }

  frameBytes(frame: number): Uint8Array | null {
    return this.machine.frameBytes(frame);
  }

  /** Zero-copy, like the machine's: the frame compare after every op then copies nothing. */
  frameView(frame: number): Uint8Array | null {
    return this.machine.frameView !== undefined ? this.machine.frameView(frame) : this.machine.frameBytes(frame);
  }

  frames(): readonly number[] {
    return this.machine.frames !== undefined ? this.machine.frames() : [];
  }
}

/** The configuration the oracle runs: the same machine with every planted bug off. */
export function withoutBugs(config: MachineConfig): MachineConfig {
  return { ...config, bugs: [] };
}
