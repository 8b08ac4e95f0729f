/**
 * hv mode: a target that reaches the model's exit at the model's address through more exits than
 * the model's (which they continue) has two explanations: exits that differ, nothing more, or a
 * target that handled the exit the model stopped at and stopped later at the same address for
 * another reason (src/check/path-in-dispute.ts `sameHvExitAfterMore`). Fixture: a minimized run
 * of the planted bug pkvm-share-hyp-shared-page: the host shared the memslot page with the
 * hypervisor, so the model ends the guest's write with the memory-fault exit at its first EPT
 * violation; the target maps the page there (the bug) and exits with the memory fault of the
 * page's attributes (no access) at the next. Without the attributes the same target completes
 * the write: the went-past reading is that signature.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { runWith } from '../../../src/check/runner.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

const trace = parseText(readFileSync(new URL('./fixtures/hv-exit-after-more-exits.txt', import.meta.url), 'utf8'));

describe('a hv exit the target reached at the model\'s address through more exits', () => {
  it('has the went-past reading as its alternative', () => {
    const first = runWith(trace, TARGETS.model, { stopAtFirst: true }).first;
    expect(first?.coarse).toBe('hv.access.memory_fault -> hv_exit memory_fault (exits taken differ)');
    const noAttrs = { ...trace, ops: trace.ops.filter((o) => o.op !== 'set_mem_attrs') };
    const completes = checkTrace(noAttrs, TARGETS.model).first;
    expect(completes?.coarse).toBe('hv.access.memory_fault -> completes');
    expect(first?.alternates).toEqual([{ invariant: completes?.invariant, coarse: completes?.coarse }]);
  });

  it('passes with the bug off', () => {
    expect(checkTrace({ ...trace, machine: { ...trace.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});
