/**
 * A lost write and a differing pool count on the same step are filed under the pool count
 * (violation.ts MORE_SPECIFIC): the memory differs because the hypervisor wrote a table into a
 * frame it took otherwise than the model. Fixture: a minimized run of the planted bug
 * ept-walker-stale-pte (a table freed twice, so two tables share a frame) from a 10-minute
 * campaign (seed m11), filed under `mem.no-lost-write` before.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

describe('a lost write with a pool count that differs on the same step', () => {
  it('is filed under hv.pool-count', () => {
    const t = parseText(readFileSync(new URL('./fixtures/pool-count-over-lost-write.txt', import.meta.url), 'utf8'));
    const first = checkTrace(t, TARGETS.model).first;
    expect(first?.invariant).toBe('hv.pool-count');
    expect(first?.coarse).toBe('hv.access.completes: pool frames differ (machine more free)');
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});
