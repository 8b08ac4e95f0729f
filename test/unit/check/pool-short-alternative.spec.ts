/**
 * A hypercall that succeeds where the model requires -ENOMEM for want of pool frames is filed under
 * the pool-count explanation, the return value in dispute being its alternative
 * (src/check/hv/pool-short.ts, checkers.ts `withPoolShort`): the target's transition took fewer pool
 * frames than the model's, and with one more free frame the same trace shows just that, so the
 * signature does not depend on how full the pool was. Fixture: a minimized run of the planted bug spp-hugepage-not-split (spp_set leaves a
 * 2 MiB leaf unsplit, so it takes no pool frame): with 16 pool frames the model has none left for
 * the split and answers -ENOMEM while the target returns npages; with 17 the model splits and
 * counts one free frame fewer than the target.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { runWith } from '../../../src/check/runner.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

const trace = parseText(readFileSync(new URL('./fixtures/spp-split-pool-short.txt', import.meta.url), 'utf8'));
const withPool = (frames: number): typeof trace => {
  const hv = trace.machine.hv!;
  return { ...trace, machine: { ...trace.machine, hv: { ...hv, poolFrames: frames } } };
};

describe('a call that succeeds where the pool was short', () => {
  it('is filed as the pool-count finding of a fuller pool, the return value being its alternative', () => {
    const short = runWith(withPool(16), TARGETS.model, { stopAtFirst: true }).first;
    const full = checkTrace(withPool(17), TARGETS.model).first;
    expect(full?.invariant).toBe('hv.pool-count');
    expect(short?.step).toBe(full?.step);
    expect({ invariant: short?.invariant, coarse: short?.coarse }).toEqual({ invariant: full?.invariant, coarse: full?.coarse });
    expect(short?.alternates).toEqual([{ invariant: 'fault.exit-reason', coarse: 'kvm.spp_set.enomem -> ret ok' }]);
  });

  it('passes with the bug off', () => {
    expect(checkTrace({ ...trace, machine: { ...trace.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});
