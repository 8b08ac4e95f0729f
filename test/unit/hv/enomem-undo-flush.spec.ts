/**
 * An access answered -ENOMEM takes back the tables it linked (docs/hypervisor.md "The page pool")
 * and flushes: its first part may have filled a TLB through them before a later fault ran dry.
 * Fixture (no planted bug on; found by a 10-minute spp-hugepage-not-split campaign, seed m11): a
 * read that crosses from a lazily mapped page into an SPP-protected one whose SPPT tables the pool
 * cannot supply; without the flush cpu 1 kept the first page's translation (hv.no-stale-access).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

describe('an access answered -ENOMEM', () => {
  it('leaves no translation of the tables it took back', () => {
    const t = parseText(readFileSync(new URL('./fixtures/enomem-undo-stale.txt', import.meta.url), 'utf8'));
    expect(t.machine.bugs).toEqual([]);
    const r = checkTrace(t, TARGETS.model);
    expect(r.first).toBeNull();
    expect(r.opsRun).toBe(t.ops.length);
  });
});
