/**
 * hv mode: a target that went through the model's stop at a guest paging-structure write.
 * Contract: pure; `wentThroughEntryWrite` returns the allowed candidate whose access the model
 * stopped with an exit of a guest A/D update (Candidate.stoppedEntryWrite) when the target's
 * memory after the step holds the A/D bits that update would have set, else null. The exit (an
 * SPP exit of a write into a protected sub-page, say) comes before the write it checks; a target
 * whose guest entry now has those bits made the write and went on past the model's stop (to the
 * final GPA's exit, the guest's #PF there, or the end of the access), so the dispute is the check
 * at that stop and the signature reads as if the target had completed the access there
 * (docs/rules.md "Signatures", the path in dispute: a target that went past the model's stop).
 * A target that stops with the same exit at the same GPA is left to the field comparison.
 */
import type { Outcome } from '../../hw/outcome.js';
import type { Candidate } from '../../model/api.js';

/** The machine's memory after the step (checkers.ts StaleMemory: the frames either side touched). */
export interface StepMemory {
  frames: readonly number[];
  view: (frame: number) => Uint8Array | null;
}

export function wentThroughEntryWrite(actual: Outcome, allowed: readonly Candidate[], memory: StepMemory | undefined): Candidate | null {
  if (memory === undefined) return null;
  for (const c of allowed) {
    const w = c.stoppedEntryWrite;
    const o = c.outcome;
    if (w === undefined || o.kind !== 'hv_exit') continue;
    if (actual.kind === 'hv_exit' && actual.exit === o.exit && actual.gpa === o.gpa) continue;
    const frame = Math.floor(w.hpa / 4096);
    if (!memory.frames.includes(frame)) continue;
    const bytes = memory.view(frame);
    if (bytes !== null && ((bytes[w.hpa % 4096] ?? 0) & w.bits) === w.bits) return c;
  }
  return null;
}
