/**
 * A target that stops in the second part of a split access, before a check that an allowed path
 * reaching that part passed, is disputed at that check, not as having gone past another path's
 * stop in the first part (src/check/path-in-dispute.ts). Fixture: a minimized run of the planted
 * bug pks-wd-ignores-cr0wp (WD applied to supervisor writes with CR0.WP = 0): a split write after
 * the EPT PML4E was cleared without INVEPT. The model's paths stop at EPT violations: of the first
 * part's final GPA (its EPT translation walked afresh) or, with every translation cached, of the
 * second part's A update. The target used the cached translations and took a PK #PF at the second
 * part's key check; it was filed as having gone past the first part's final GPA
 * (ept.violation.write -> completes). Second fixture (same bug, a 90-second campaign): the first
 * part's fresh walk meets a reserved bit (#PF RSVD) and a cached translation lets the whole write
 * complete; the target took the PK #PF at the second part's key check ('paging.rsvd -> completes').
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

const fixture = (name: string) => parseText(readFileSync(new URL(`./fixtures/${name}.txt`, import.meta.url), 'utf8'));
const trace = () => fixture('pk-split-stop-in-later-part');

describe('a stop in a later part than another allowed path\'s stop', () => {
  it('is disputed at the check the path into that part passed', () => {
    const first = checkTrace(trace(), TARGETS.model).first;
    expect(first?.invariant).toBe('fault.pf-error-code');
    expect(first?.coarse).toBe('pk.pks.wd-wp0 -> PK verdict differs');
  });

  it('is no finding without the planted bug', () => {
    const t = trace();
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});

describe('a stop in a later part than a #PF of the first part\'s fresh walk', () => {
  it('is disputed at the check a completing path passed', () => {
    const t = fixture('pk-split-past-rsvd-completes');
    expect(checkTrace(t, TARGETS.model).first?.coarse).toBe('pk.pks.wd-wp0 -> PK verdict differs');
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});
