/**
 * The hub's merge files a failure as a local campaign does (src/fuzz/file-under.ts): under its own
 * signature when on file, else under the first alternative on file (earlier in the same block or
 * in an earlier block), else as a new signature.
 */
import { describe, expect, it } from 'vitest';
import { MergedState } from '../../../src/hub/merged-state.js';
import { signatureHash } from '../../../src/check/violation.js';
import type { RunReport } from '../../../src/fuzz/protocol.js';
import type { Signature } from '../../../src/trace/trace.js';
import { makeTrace } from '../../../src/gen/generate.js';
import { normalizeConfig } from '../../../src/hw/config.js';

const trace = makeTrace(normalizeConfig({}), [], { seed: 'fold', options: {} });
const subpage: Signature = { invariant: 'fault.exit-reason', op: 'access', detail: 'spp.subpage-denied -> completes' };
const stale: Signature = { invariant: 'tlb.stale-after-flush', op: 'access', detail: 'flushed by tlb.invept.all' };
const other: Signature = { invariant: 'fault.exit-reason', op: 'access', detail: 'paging.rights.allow -> pf protection' };

function failing(run: number, signature: Signature, alternates?: Signature[]): RunReport {
  return { run, ops: 1, mutated: false, fresh: [], trace, failure: { signature, step: 0, detail: 'd', ...(alternates !== undefined ? { alternates } : {}) }, stable: null, rules: [] };
}

describe('hub merge: alternatives', () => {
  it('files a new signature under an alternative on file, in the same block and across blocks', () => {
    const state = new MergedState();
    const r0 = state.mergeNext({ block: 0, machine: 'm', reports: [failing(0, subpage), failing(1, stale, [other, subpage]), failing(2, other, [stale])] });
    expect(r0.crashes.map((c) => [c.hash, c.first])).toEqual([[signatureHash(subpage), true], [signatureHash(subpage), false], [signatureHash(other), true]]);
    state.apply(r0);
    const r1 = state.mergeNext({ block: 1, machine: 'm', reports: [failing(3, stale, [other])] });
    expect(r1.crashes.map((c) => [c.hash, c.first])).toEqual([[signatureHash(other), false]]);
    const r2 = state.mergeNext({ block: 1, machine: 'm', reports: [failing(3, stale)] });
    expect(r2.crashes.map((c) => [c.hash, c.first])).toEqual([[signatureHash(stale), true]]);
  });
});
