/**
 * A target's EPT exit at the GPA where the model requires the other EPT exit (a violation where a
 * misconfiguration is required) is disputed against that exit: it is the same access to the same
 * entry (src/check/path-in-dispute.ts `exitAtSameGpa`, src/check/progress.ts `otherEptExitAt`).
 * Fixtures: minimized runs of the planted bug ept-misconfig-priority (a denial at an upper EPT
 * level reported before the misconfiguration below it):
 * - misconfig-violation-same-gpa-walk: a guest table read whose EPT walk meets a reserved bit at
 *   level 2 under an L4 without W; placed among the walk's table reads, the target's violation
 *   was disputed against the fresh walk's violation at another GPA ('gpa differ');
 * - misconfig-violation-same-gpa-ad: the misconfiguration is that of a guest A update through
 *   cached tables; the target's violation was placed among the table reads ('access bits, rights
 *   bits differ').
 * - misconfig-violation-table-gpa-xlat: a campaign with ept-gla-bits-wrong on as well (bit 8 set on
 *   guest paging-structure accesses): the early violation at the PML4E's GPA also says final
 *   translation; placed at the final GPA by bit 8, it read as having gone past the table read
 *   ('ept.misconfig -> completes'). The GPA, no part's final GPA, names the access.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

const fixture = (name: string) => parseText(readFileSync(new URL(`./fixtures/${name}.txt`, import.meta.url), 'utf8'));
const NAMES = ['misconfig-violation-same-gpa-walk', 'misconfig-violation-same-gpa-ad'];

describe('an EPT exit at the GPA of the other required EPT exit', () => {
  for (const name of NAMES) {
    it(`${name}: is disputed as the misconfiguration the model required there`, () => {
      const first = checkTrace(fixture(name), TARGETS.model).first;
      expect(first?.invariant).toBe('fault.exit-reason');
      expect(first?.coarse).toBe('ept.misconfig -> ept violation');
    });
  }

  it('the same traces pass with the planted bug off', () => {
    for (const name of NAMES) {
      const t = fixture(name);
      expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
    }
  });
});

describe('an EPT exit at a table GPA whose qualification wrongly says final translation', () => {
  it('is placed by its GPA: the same signature as without the bit 8 defect', () => {
    const t = fixture('misconfig-violation-table-gpa-xlat');
    expect(t.machine.bugs).toEqual(['ept-gla-bits-wrong', 'ept-misconfig-priority']);
    const both = checkTrace(t, TARGETS.model).first;
    expect(both?.coarse).toBe('ept.misconfig -> ept violation');
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: ['ept-misconfig-priority'] } }, TARGETS.model).first?.coarse).toBe(both?.coarse);
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});
