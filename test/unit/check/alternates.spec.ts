/**
 * A finding whose step two explanations fit equally carries the other as an alternative
 * (checkers.ts Finding.alternates; a campaign files it under the one already on file,
 * src/fuzz/file-under.ts). Fixtures: minimized runs of two planted bugs from 10-minute campaigns.
 * - spp-subpage-cross (the SPP check of a write's first sub-page only): the write completes where
 *   the model takes the SPP exit, and a translation an INVEPT (all contexts) removed would also
 *   have completed it, with the same memory: the stale translation is named, the sub-page rule is
 *   the alternative.
 * - invept-keeps-combined (a single-context INVEPT leaves combined mappings): the access completes
 *   where the model's #PF has PK, which is both the other key register's verdict and what the
 *   translation the INVEPT removed gives: the key register is named, the flush is the alternative.
 * Without the bug each trace passes (so the alternative is the classifier's, not the fixture's).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { alternateSignatures, formatSignature, type Violation } from '../../../src/check/violation.js';
import { parseText } from '../../../src/trace/text.js';
import { main } from '../../../src/cli/main.js';
import { captureIo } from '../../../src/cli/io.js';

function signed(fixture: string): { own: string; alternates: string[]; clean: boolean } {
  const t = parseText(readFileSync(new URL(`./fixtures/${fixture}`, import.meta.url), 'utf8'));
  const first = checkTrace(t, TARGETS.model).first as Violation | null;
  expect(first).not.toBeNull();
  const clean = checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first === null;
  return { own: `${first!.invariant}: ${first!.coarse}`, alternates: alternateSignatures(first!).map(formatSignature), clean };
}

describe('alternative explanations', () => {
  it('a stale translation and the sub-page rule the write broke on the current path', () => {
    const s = signed('alt-stale-or-subpage.txt');
    expect(s.own).toBe('tlb.stale-after-flush: flushed by tlb.invept.all');
    expect(s.alternates).toEqual(['fault.exit-reason @ access: spp.subpage-denied -> completes']);
    expect(s.clean).toBe(true);
  });

  it('the other key register and a stale translation', () => {
    const s = signed('alt-register-or-stale.txt');
    expect(s.own).toBe('fault.pf-error-code: pk.register-by-address -> PK verdict differs');
    expect(s.alternates).toEqual(['tlb.stale-after-flush @ access: flushed by tlb.invept.single']);
    expect(s.clean).toBe(true);
  });

  it('explain lists the alternatives under the finding', async () => {
    const io = captureIo();
    const file = new URL('./fixtures/alt-stale-or-subpage.txt', import.meta.url).pathname;
    expect(await main(['explain', file], io)).toBe(1);
    expect(io.stdout()).toContain('also fits: fault.exit-reason: spp.subpage-denied -> completes');
  });

  it("a stale translation named by memory alone carries the lost write's alternatives too", () => {
    // spp-subpage-cross, 10-minute campaign seed m11 (an unminimized run): the write completes as
    // the model's cached path does, but memory is a flushed translation's; the lost write it also
    // is fits the sub-page rule on the fresh path, so that is an alternative of the finding too.
    const s = signed('alt-memory-stale-carries-lost-write-alts.txt');
    expect(s.own).toBe('tlb.stale-after-flush: flushed by ept.misconfig');
    expect(s.alternates).toContain('fault.exit-reason @ access: spp.subpage-denied -> completes');
    expect(s.clean).toBe(true);
  });
});
