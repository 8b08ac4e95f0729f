/**
 * A translation a required flush removed explains a target's outcome (tlb.stale-after-flush) only
 * when the run used it for more than the EPT permission of a guest A/D update: a run that used it
 * only there gives exactly what a walk that skips the EPT write check of A/D updates gives (Bochs
 * F7, docs/target-findings.md), so the finding names the walk rule in dispute instead.
 * Fixture: Bochs's minimized F7 trace. After an INVEPT, an `ept_set` removes W from the EPT PML4E
 * without a new INVEPT; the fetch's walk must set the guest PML4E's A (EPT violation 0x8b at its
 * GPA). Bochs sets it and faults at the final GPA (0x184 at 0x404798): the outcome a guest-physical
 * mapping cached before the INVEPT (with W) would give for the A update.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../../src/hw/outcome.js';
import { sameOutcome } from '../../../src/hw/outcome.js';
import { ReferenceModel } from '../../../src/model/model.js';
import { parseText } from '../../../src/trace/text.js';

const FIXTURE = new URL('../../e2e/bochs/findings/guest-ad-update-not-ept-write-checked.txt', import.meta.url);
const BOCHS: Outcome = { kind: 'exit', reason: 48, qual: 0x184, gpa: 0x404798, gla: 0x7f123412c798 };

describe('stale translations used only for a guest A/D update', () => {
  it('are no explanation of a target outcome: Bochs F7 is not in `flushed`, and the model requires the A update\'s EPT violation', () => {
    const t = parseText(readFileSync(FIXTURE, 'utf8'));
    const m = new ReferenceModel(t.machine);
    for (let i = 0; i < t.ops.length - 1; i++) m.commit(m.step(t.ops[i]).allowed[0]);
    const s = m.step(t.ops[t.ops.length - 1]);
    expect(s.allowed.map((c) => c.outcome)).toContainEqual({ kind: 'exit', reason: 48, qual: 0x8b, gpa: 0x7f0, gla: 0x7f123412c798 });
    expect(s.allowed.some((c) => sameOutcome(c.outcome, BOCHS))).toBe(false);
    expect(s.flushed.some((o) => sameOutcome(o, BOCHS))).toBe(false);
    expect(s.flushedMatching!(BOCHS, [], () => null)).toBeNull();
  });
});
