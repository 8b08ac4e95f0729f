/**
 * A failure is filed under its own signature when that is on file, else under the first of its
 * alternative explanations on file, else under its own (src/fuzz/file-under.ts).
 */
import { describe, expect, it } from 'vitest';
import { fileUnder } from '../../../src/fuzz/file-under.js';
import { signatureHash } from '../../../src/check/violation.js';
import type { RunFailure } from '../../../src/fuzz/protocol.js';

const own = { invariant: 'fault.exit-reason', op: 'access', detail: 'spp.subpage-denied -> completes' };
const stale = { invariant: 'tlb.stale-after-flush', op: 'access', detail: 'flushed by tlb.invept.all' };
const other = { invariant: 'mem.no-lost-write', op: 'access', detail: 'paging.ad.update -> entry the op updated: flag bit 5 differs (machine clear)' };

function knownOf(...sigs: (typeof own)[]): (h: string) => boolean {
  const set = new Set(sigs.map(signatureHash));
  return (h) => set.has(h);
}

describe('fileUnder', () => {
  const failure: RunFailure = { signature: stale, step: 3, detail: 'd', alternates: [other, own] };

  it('keeps the own signature when it is on file, whatever the alternatives', () => {
    expect(fileUnder(failure, knownOf(stale, own))).toBe(stale);
  });

  it('takes the first alternative on file when the own signature is new', () => {
    expect(fileUnder(failure, knownOf(own))).toBe(own);
    expect(fileUnder(failure, knownOf(own, other))).toBe(other);
  });

  it('files a new signature under itself', () => {
    expect(fileUnder(failure, knownOf())).toBe(stale);
    expect(fileUnder({ signature: own, step: 0, detail: 'd' }, knownOf(stale))).toBe(own);
  });
});
