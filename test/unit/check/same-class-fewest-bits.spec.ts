/**
 * Of several allowed exits of the target's class at its GPA, the dispute is against the one whose
 * fields differ from the target's in the fewest bits (src/check/path-in-dispute.ts `sameClassAt`).
 * Fixture: a minimized run of the planted bug ept-gla-bits-wrong (bit 8 set on guest
 * paging-structure accesses): a read whose PML4E access is denied; the model allows the fresh
 * walk's table read (RD) and a cached path's A update (RD|WR) at one GPA. The target took the
 * second, with bit 8: only bit 8 is wrong. Disputed against the first, it read as 'access bits,
 * gla/xlat bits differ', a signature of its own.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

const trace = () => parseText(readFileSync(new URL('./fixtures/same-gpa-fewest-bits.txt', import.meta.url), 'utf8'));

describe('the allowed exit at the target\'s GPA a qualification is disputed against', () => {
  it('is the one differing in the fewest bits', () => {
    const first = checkTrace(trace(), TARGETS.model).first;
    expect(first?.coarse).toBe('ept.violation -> ept violation (gla/xlat bits differ)');
    expect(first?.rule).toBe('ept.deny.table-write.l4');
  });

  it('is no finding without the planted bug', () => {
    const t = trace();
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});
