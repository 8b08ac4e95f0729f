/**
 * A lost write on a step whose outcome only cached translations allow gets the fresh path's
 * dispute as its alternative explanation (src/check/runner.ts `withFreshWalkAlternative`): the
 * target's memory shows it walked afresh, and the fresh walk must end otherwise. Fixtures:
 * minimized runs of the planted bug spp-subpage-cross (a write across two sub-pages checks only
 * the first) from a 10-minute campaign (seed m10). Each write's page was made read-only with
 * bit 61 after a translation of it was cached, so the model allows the write to complete only
 * through the cached translation; the target walks afresh, passes the first sub-page only, and
 * completes: it sets the EPT leaf's D flag (spp-cross-cached-ept-dirty) or the guest PTE's D flag
 * (spp-cross-cached-guest-dirty) that the cached path leaves alone, or writes the frame the walk
 * gives now rather than the cached one (spp-cross-cached-old-frame). They were filed under three
 * mem.no-lost-write signatures, apart from the bug's "spp.subpage-denied -> completes".
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import type { Violation } from '../../../src/check/violation.js';
import { parseText } from '../../../src/trace/text.js';

const fixture = (name: string) => parseText(readFileSync(new URL(`./fixtures/${name}.txt`, import.meta.url), 'utf8'));
const NAMES = ['spp-cross-cached-ept-dirty', 'spp-cross-cached-guest-dirty', 'spp-cross-cached-old-frame'];

describe('a lost write where only a cached translation allows the outcome', () => {
  for (const name of NAMES) {
    it(`${name}: the fresh walk's dispute is an alternative explanation`, () => {
      const first = checkTrace(fixture(name), TARGETS.model).first as Violation | null;
      expect(first?.invariant).toBe('mem.no-lost-write');
      expect(first?.alternates).toContainEqual({ invariant: 'fault.exit-reason', coarse: 'spp.subpage-denied -> completes' });
    });
  }

  it('the same traces pass with the planted bug off (the finding is the bug\'s)', () => {
    for (const name of NAMES) {
      const t = fixture(name);
      expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
    }
  });
});
