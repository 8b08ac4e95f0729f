/**
 * Under kvmXo a target's #PF that is exactly step 7's report of an EPT violation at the XO alias
 * (docs/semantics.md) is read as that violation where the model stopped at another EPT exit of
 * the same final GPA (src/check/xo-report.ts). Fixture: a minimized run of the planted bug
 * ept-misconfig-priority: a read through a guest PDE into the XO alias whose EPT PML4E is W
 * without R. The model requires the misconfiguration (exit 49); the target reported a violation,
 * which kvmXo turned into #PF P. It was filed as a rights-check dispute (paging.rights.allow ->
 * pf protection), apart from the bug's own signature. Second fixture: a minimized run of
 * ept-gla-bits-wrong (bit 8 set on guest paging-structure accesses): a guest table at the XO
 * alias behind a not-present EPT entry; the table read's violation, with bit 8 wrongly set, was
 * converted to #PF P, and filed as if the target had walked on (ept.violation.table-read ->
 * completes).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';
import { alternateSignatures, type Violation } from '../../../src/check/violation.js';

const trace = () => parseText(readFileSync(new URL('./fixtures/xo-alias-misconfig-reported.txt', import.meta.url), 'utf8'));

describe('a kvmXo #PF that reports an EPT violation', () => {
  it('is disputed as that violation, with the rights-check reading as its alternative', () => {
    const first = checkTrace(trace(), TARGETS.model).first;
    expect(first?.invariant).toBe('fault.exit-reason');
    expect(first?.coarse).toBe('ept.misconfig -> ept violation');
    // the detail says what the target did: the #PF, not an exit with made-up rights bits
    expect(first?.detail).toContain('machine pf code=0x1 cr2=0xef673c');
    expect(alternateSignatures(first as Violation).map((a) => a.detail)).toContain('paging.rights.allow -> pf protection');
  });

  it('is no finding without the planted bug', () => {
    const t = trace();
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });

  it('gets the signature the same target gives without kvmXo, where its violation stays an exit', () => {
    const t = trace();
    const plain = checkTrace({ ...t, machine: { ...t.machine, kvmXo: false } }, TARGETS.model).first;
    expect(plain?.detail.startsWith('exit48 instead of exit49')).toBe(true);
    expect(plain?.coarse).toBe(checkTrace(t, TARGETS.model).first?.coarse);
  });
});

describe('a kvmXo #PF at a guest table read whose violation says final translation', () => {
  const table = () => parseText(readFileSync(new URL('./fixtures/xo-alias-table-read-xlat.txt', import.meta.url), 'utf8'));

  it('is that violation with bit 8 set: a qualification dispute', () => {
    const first = checkTrace(table(), TARGETS.model).first;
    expect(first?.invariant).toBe('fault.ept-qualification');
    expect(first?.coarse).toBe('ept.violation -> ept violation (gla/xlat bits differ)');
  });

  it('is no finding without the planted bug', () => {
    const t = table();
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });

  it('gets the signature the same target gives without kvmXo', () => {
    const t = table();
    expect(checkTrace({ ...t, machine: { ...t.machine, kvmXo: false } }, TARGETS.model).first?.coarse).toBe(checkTrace(t, TARGETS.model).first?.coarse);
  });
});
