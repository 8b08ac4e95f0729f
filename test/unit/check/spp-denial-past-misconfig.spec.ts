/**
 * An EPT violation of the target where the model's path took the write to the SPPT walk stands
 * after that walk, where the sub-page denial does (src/check/progress.ts `sppEligibleAt`): the
 * qualification is that of any write to a read-only page, so a target that did not report the
 * SPPT misconfiguration went past it whether the sub-page then allowed the write (it completes)
 * or denied it (an EPT violation). Fixtures: minimized runs of the planted bug
 * spp-odd-bits-ignored from a 10-minute campaign (seed m10):
 * - spp-odd-bit-subpage-denied: an SPPT leaf with an odd bit set and the touched sub-page's write
 *   bit clear; filed as "spp.misconfig -> ept violation" beside the bug's "-> completes" before;
 * - spp-odd-bit-split-cached-pk: a split write; a fresh walk stops at a PK #PF on the first part,
 *   a cached translation of it lets the write reach the second part's SPPT (odd bit set), where
 *   the target gives the sub-page denial; filed as "pk.register-by-address -> PK verdict differs"
 *   (the target went past the first part's #PF) before.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

const fixture = (name: string) => parseText(readFileSync(new URL(`./fixtures/${name}.txt`, import.meta.url), 'utf8'));
const NAMES = ['spp-odd-bit-subpage-denied', 'spp-odd-bit-split-cached-pk'];

describe('an SPP-eligible write\'s EPT violation where the model stopped at the SPPT walk', () => {
  for (const name of NAMES) {
    it(`${name}: the target went past the SPPT misconfiguration`, () => {
      const r = checkTrace(fixture(name), TARGETS.model);
      expect(r.first?.invariant).toBe('fault.exit-reason');
      expect(r.first?.coarse).toBe('spp.misconfig -> completes');
    });
  }

  it('the same traces pass with the planted bug off (the finding is the bug\'s)', () => {
    for (const name of NAMES) {
      const t = fixture(name);
      expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
    }
  });
});
