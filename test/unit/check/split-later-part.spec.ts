/**
 * A target that stopped in a later part of a split access than one allowed path's stop, where
 * another allowed path (a cached translation of the first part) got past the target's stop, is
 * disputed at the check it stopped at in its own part (src/check/path-in-dispute.ts
 * `reachedLaterPart`). Fixtures: minimized runs of the planted bug pk-on-fetch from a 10-minute
 * campaign (seed m10), each a split fetch whose first part a fresh walk stops at (an EPT
 * violation at the final GPA, a not-present PTE, an EPT-denied table read) and a cached
 * translation lets through; the target takes a PK #PF on the second part, where the model's
 * cached path applies the fetch exemption. They were filed as "<first part's rule> -> completes"
 * (the target went past the first part's stop) before.
 * An exit with no linear address at the final GPA of a part no allowed path reached is placed at
 * that part by a debug walk of memory (src/check/progress.ts `laterPartAt`). Fixture
 * spp-odd-bit-next-part-misconfig (planted spp-odd-bits-ignored, same campaign): a split write
 * whose first part must give the SPPT misconfiguration; the target went on to the second part's
 * EPT misconfiguration, filed as "spp.misconfig -> ept misconfig" before.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

const fixture = (name: string) => parseText(readFileSync(new URL(`./fixtures/${name}.txt`, import.meta.url), 'utf8'));
const NAMES = ['pk-fetch-split-exit-later-part', 'pk-fetch-split-pf-later-part', 'pk-fetch-split-table-later-part'];

describe('a split access stopped in a later part than a fresh walk', () => {
  for (const name of NAMES) {
    it(`${name}: the key check of the part the target stopped in is in dispute`, () => {
      const r = checkTrace(fixture(name), TARGETS.model);
      expect(r.first?.invariant).toBe('fault.pf-error-code');
      expect(r.first?.coarse).toBe('pk.fetch-exempt -> PK verdict differs');
    });
  }

  it('the same traces pass with the planted bug off (the finding is the bug\'s)', () => {
    for (const name of NAMES) {
      const t = fixture(name);
      expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
    }
  });
});

describe('an exit without a linear address at the final GPA of a part no path reached', () => {
  it('spp-odd-bit-next-part-misconfig: the target went past the first part\'s stop', () => {
    const t = fixture('spp-odd-bit-next-part-misconfig');
    expect(checkTrace(t, TARGETS.model).first?.coarse).toBe('spp.misconfig -> completes');
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});
