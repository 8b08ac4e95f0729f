/**
 * A stale-translation finding names the flush of the explanation that used the fewest recently
 * flushed mappings (src/model/model.ts `flushedMatching`). Fixture: a minimized run of the planted
 * bug invept-keeps-combined (a single-context INVEPT leaves combined mappings): a split write
 * whose second page an INVLPG flushed (the target walks it afresh) and whose first page the
 * INVEPT flushed (the target still uses it). A flushed run that used both mappings also matches;
 * it named the INVLPG before.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

describe('the flush a stale-translation finding names', () => {
  it('is that of the fewest flushed mappings that explain the target', () => {
    const t = parseText(readFileSync(new URL('./fixtures/stale-split-two-flushes.txt', import.meta.url), 'utf8'));
    expect(checkTrace(t, TARGETS.model).first?.coarse).toBe('flushed by tlb.invept.single');
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});
