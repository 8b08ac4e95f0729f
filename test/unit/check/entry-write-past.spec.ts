/**
 * hv mode: a target whose memory shows the guest A/D update the model stopped with an SPP exit
 * went past that stop (src/check/hv/entry-write.ts): the signature reads as if it had completed
 * the access there, whatever stopped it later. Fixtures: minimized runs of the planted bug
 * spp-lost-on-wrprotect (dirty logging or aging drops EPT bit 61 of a protected page for good):
 * the guest's page table lies in a write-protected sub-page, so the walk's A update exits with
 * SPP in the model; the target sets A and goes on to the final GPA, where a memslot-less GPA
 * exits with MMIO, or the XO alias gives the guest a #PF.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

const load = (name: string): ReturnType<typeof parseText> => parseText(readFileSync(new URL(`./fixtures/${name}.txt`, import.meta.url), 'utf8'));

describe('a target that made the guest A/D write the model stopped at', () => {
  for (const name of ['spp-ad-update-past-mmio', 'spp-ad-update-past-pf']) {
    it(`went past the model's stop (${name})`, () => {
      const t = load(name);
      const first = checkTrace(t, TARGETS.model).first;
      expect(first?.invariant).toBe('fault.exit-reason');
      expect(first?.coarse).toBe('kvm.spp.parked-bit-restored -> completes');
      expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
    });
  }
});
