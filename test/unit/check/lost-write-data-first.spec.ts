/**
 * A lost write is named by a differing data byte of the op before an A/D flag in another frame
 * (src/check/runner.ts, as checkers.ts lostWrite does within one frame). Fixture: a minimized run
 * of the canary (a 2-byte page-crossing write drops its last byte) whose EPT table frame, checked
 * first, also differs in an EPT A flag; it was filed as `ept.ad.update -> entry the op updated`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

describe('a lost write across frames', () => {
  it('is filed under the data byte the op wrote', () => {
    const t = parseText(readFileSync(new URL('./fixtures/canary-ept-a-and-data.txt', import.meta.url), 'utf8'));
    expect(checkTrace(t, TARGETS.model).first?.coarse).toBe('access.write.complete -> data byte the op wrote: data bytes differ');
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});
