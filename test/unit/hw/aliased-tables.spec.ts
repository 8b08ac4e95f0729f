/**
 * Guest paging structures aliased onto EPT paging structures (docs/semantics.md step 4): a guest
 * A/D update that lands in an EPT entry takes effect for the rest of its own access, whether an
 * entry is updated is decided from the value the walk read, and the reference model offers a
 * guest A/D update no cached mapping. Each case is a minimized trace from a bare campaign on the
 * correct machine once the generator built such aliasing (src/gen/alias.ts); each failed before
 * (the machine's outcome, or its bytes, outside what the model allowed) and must now agree.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../../src/hw/machine.js';
import { defaultConfig } from '../../../src/hw/config.js';
import type { Outcome } from '../../../src/hw/outcome.js';
import { ReferenceModel } from '../../../src/model/model.js';
import { checkTrace, checkedSignature } from '../../../src/check/check-trace.js';
import { pickCandidate, type FramePreview } from '../../../src/check/runner.js';
import { TARGETS } from '../../../src/check/targets.js';
import { formatSignature } from '../../../src/check/violation.js';
import { makeTrace } from '../../../src/gen/generate.js';
import { parseOp } from '../../../src/trace/text.js';
import type { Op } from '../../../src/trace/ops.js';

const ops = (text: string): Op[] => text.trim().split('\n').map((l) => parseOp(l.trim()));

/** Every outcome of the machine, and what the model-checked trace says (null: they agree). */
function run(list: readonly Op[]): { outcomes: Outcome[]; m: Machine; verdict: string | null } {
  const m = new Machine(defaultConfig());
  const outcomes = list.map((op) => m.apply(op));
  const r = checkTrace(makeTrace(defaultConfig(), [...list]), TARGETS.model);
  return { outcomes, m, verdict: r.first === null ? null : formatSignature(checkedSignature(r.first)) };
}

const exit49 = (gpa: number): Outcome => ({ kind: 'exit', reason: 49, qual: 0, gpa, gla: null });

// EPT: GPA 0..2 MiB is one 2 MiB leaf (the guest-table block at HPA 0x1000000); EPTP root at HPA 0.
const EPT_BLOCK = `
  ept_set cpu=0 gpa=0x0 level=4 entry=0x2003
  ept_set cpu=0 gpa=0x0 level=3 entry=0x3003
  ept_set cpu=0 gpa=0x0 level=2 entry=0x1000083`;

describe('guest tables aliased onto EPT tables', () => {
  it('the final access after an A/D update that set a reserved bit of the EPT root walks fresh: exit 49, not a stale success', () => {
    // The guest page table at GPA 0x7c5000 is the EPT root (HPA 0); the PTE is EPT PML4E 0. The
    // write's A/D update sets bits 5 and 6 there (reserved in a PML4E): every GPA now misconfigures,
    // the final GPA 0x2a4f included, although its page was translated earlier in the same walk.
    const { outcomes, m, verdict } = run(ops(`${EPT_BLOCK}
      gpt_set cpu=0 la=0xab9000 level=4 entry=0x1003
      gpt_set cpu=0 la=0xab9000 level=3 entry=0x2003
      ept_set cpu=0 gpa=0x604000 level=2 entry=0x8003
      ept_set cpu=0 gpa=0x7c5000 level=1 entry=0x3
      gpt_set cpu=0 la=0x24a00000 level=2 entry=0x7c5003
      write cpu=0 la=0x24a00a4f size=1 value=0x0`));
    expect(outcomes.at(-1)).toEqual(exit49(0x2a4f)); // was: ok, through the mapping cached by the walk
    expect(Number(m.readPhys(0, 8)) & 0x60).toBe(0x60); // the guest's A and D, in the EPT root
    expect(verdict).toBeNull();
  });

  it('so does the first part of a page-crossing fetch (it was a #PF from the second part)', () => {
    const { outcomes, verdict } = run(ops(`
      ept_set cpu=0 gpa=0x0 level=4 entry=0x2007
      ept_set cpu=0 gpa=0x0 level=3 entry=0x3007
      ept_set cpu=0 gpa=0x0 level=2 entry=0x1000083
      ept_set cpu=0 gpa=0x400000 level=2 entry=0x4007
      gpt_set cpu=0 la=0x7f1234a38000 level=4 entry=0x1001
      ept_set cpu=0 gpa=0x485000 level=1 entry=0x7
      gpt_set cpu=0 la=0x7f76801a5000 level=3 entry=0x485001
      gpt_set cpu=0 la=0x7f76801a5000 level=1 entry=0x485021
      fetch cpu=0 la=0x7f76801a5ffb size=6`));
    expect(outcomes.at(-1)).toEqual(exit49(0x485ffb));
    expect(verdict).toBeNull();
  });

  it('a mapping cached by an earlier access is not used after the update either (it was a #PF from the second part)', () => {
    // The read caches the guest-table pages; the write's PTE is EPT PDPTE 0, whose A/D update
    // misconfigures the first GiB. The first part's final GPA 0x3fff is one of those cached pages.
    const { outcomes, verdict } = run(ops(`${EPT_BLOCK}
      gpt_set cpu=0 la=0xd8c000 level=4 entry=0x1001
      gpt_set cpu=0 la=0xd8c000 level=3 entry=0x2001
      gpt_set cpu=0 la=0xd8c000 level=2 entry=0x3001
      gpt_set cpu=0 la=0x800000757000 level=4 entry=0x4003
      gpt_set cpu=0 la=0x800000757000 level=3 entry=0x5003
      ept_set cpu=0 gpa=0x858000 level=2 entry=0x9003
      ept_set cpu=0 gpa=0x85b000 level=1 entry=0x2003
      gpt_set cpu=0 la=0x800008a00000 level=2 entry=0x85b003
      read cpu=0 la=0xd8cb30 size=1
      write cpu=0 la=0x800008a00fff size=2 value=0x0`));
    expect(outcomes.at(-1)).toEqual(exit49(0x3fff));
    expect(verdict).toBeNull();
  });

  it('two levels reading one entry: each is updated if the walk read A = 0, so the second update exits', () => {
    // Guest PML4E 256 -> the EPT root (through GPA 0x612000), whose entry 0 the guest rewrote to
    // point at GPA 0x612000 again: the PDPTE and the PDE are both EPT PML4E 0. The PDPTE's A
    // update misconfigures everything, so the PDE's update (same GPA) exits there; the machine used
    // to re-read the entry, see A set, skip it, and exit at the PTE's GPA 0x612b98 instead.
    const { outcomes, verdict } = run(ops(`
      ept_set cpu=0 gpa=0x0 level=4 entry=0x2001
      ept_set cpu=0 gpa=0x0 level=3 entry=0x3001
      ept_set cpu=0 gpa=0x0 level=2 entry=0x1000083
      ept_set cpu=0 gpa=0x612000 level=2 entry=0x7003
      ept_set cpu=0 gpa=0x612000 level=1 entry=0x3
      gpt_set cpu=0 la=0xce8000172000 level=4 entry=0x612001
      gpt_set cpu=0 la=0x800000172000 level=4 entry=0x612003
      gpt_set cpu=0 la=0xce8000172000 level=3 entry=0x612003
      ept_set cpu=0 gpa=0x400000 level=3 entry=0x3003
      gpt_set cpu=0 la=0x800000173000 level=1 entry=0x612003
      write cpu=0 la=0x800000173ada size=1 value=0x0`));
    expect(outcomes.at(-1)).toEqual(exit49(0x612000));
    expect(verdict).toBeNull();
  });

  it('the model offers an A/D update no cached mapping: a recursive PML4 entry read through a stale mapping gets A where a fresh walk puts it', () => {
    // cpu 1 cached GPA page 0 -> HPA 0x1000000 (the guest PML4); then the EPT PD entry stops being
    // a 2 MiB leaf and GPA 0 maps to HPA 0x1000. All four levels of the last read use PML4E 0xb6
    // (pointing at the PML4 itself) through the stale mapping; the A updates walk fresh, to 0x15b0.
    const list = ops(`
      ept_set cpu=0 gpa=0x0 level=4 entry=0x2003
      ept_set cpu=0 gpa=0x0 level=3 entry=0x3007
      ept_set cpu=0 gpa=0x0 level=2 entry=0x1000087
      gpt_set cpu=0 la=0x7d6000 level=4 entry=0x1003
      read cpu=1 la=0x800047c86c16 size=1
      gpt_set cpu=0 la=0x5b2d96cb6000 level=4 entry=0x1
      ept_set cpu=0 gpa=0x0 level=4 entry=0x2007
      read cpu=0 la=0xe018ff size=1
      read cpu=1 la=0x800047d31fff size=1
      ept_set cpu=0 gpa=0x0 level=2 entry=0x1000003
      read cpu=1 la=0x5b2d96cb6390 size=1`);
    const { outcomes, m, verdict } = run(list);
    expect(outcomes.at(-1)).toEqual({ kind: 'data', value: 0n });
    expect(Number(m.readPhys(0x15b0, 8))).toBe(0x20);
    expect(Number(m.readPhys(0x10005b0, 8))).toBe(0x1);
    // Before, the model's candidates all put A at the stale 0x10005b0 too: the machine's branch (four
    // fresh A updates after four stale reads) lay beyond its exploration bound.
    expect(verdict).toBeNull();
    const model = new ReferenceModel(defaultConfig());
    const machine = new Machine(defaultConfig());
    list.forEach((op, i) => {
      const step = model.step(op);
      const actual = machine.apply(op);
      if (i === list.length - 1) {
        for (const c of step.allowed) {
          const after = (c as unknown as FramePreview).frameAfter(0x1000);
          if (c.outcome.kind === 'data') expect(after?.[0x5b0]).toBe(0x1);
        }
      }
      model.commit(pickCandidate(step.allowed, actual, machine.touchedFrames(), machine)!);
    });
  });
});
