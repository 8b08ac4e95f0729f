/**
 * BlockRunner: a block's reports do not depend on what this machine ran before it. A block taken
 * over from a dead machine after a later block ran here (block 1, then block 0, both seeing no
 * merge record with a lag of 4) reports what fresh engines report: its runs' fresh coverage is
 * not hidden by features the engines learnt from the later block.
 */
import { describe, expect, it } from 'vitest';
import { TARGETS } from '../../../src/check/targets.js';
import { allFeatures } from '../../../src/gen/features.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import type { EngineConfig } from '../../../src/fuzz/protocol.js';
import { BlockRunner } from '../../../src/hub/block-runner.js';
import { MergedState } from '../../../src/hub/merged-state.js';

const cfg: EngineConfig = { root: 'block-runner', opsMax: 60, features: [...allFeatures()].sort(), swarm: true, config: normalizeConfig({}), oracle: 'machine', stabilityEvery: 0 };

describe('BlockRunner', () => {
  it('a lower block after a higher one gets the reports of fresh engines', async () => {
    const state = new MergedState();
    const fresh = new BlockRunner(cfg, TARGETS.machine, 0, 4, 0);
    const want = await fresh.run(0, 0, 16, state);
    await fresh.close();
    const reused = new BlockRunner(cfg, TARGETS.machine, 0, 4, 0);
    await reused.run(1, 16, 32, state);
    const got = await reused.run(0, 0, 16, state);
    await reused.close();
    expect(want.some((r) => r.fresh.length > 0)).toBe(true);
    expect(got.map((r) => r.fresh)).toEqual(want.map((r) => r.fresh));
    expect(got.map((r) => r.trace === null)).toEqual(want.map((r) => r.trace === null));
  });
});
