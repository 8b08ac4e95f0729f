/**
 * BlockRunner: a block's reports do not depend on what this machine ran before it. A block taken
 * over from a dead machine after a later block ran here (block 1, then block 0, both seeing no
 * merge record with a lag of 4) reports what fresh engines report: its runs' fresh coverage is
 * not hidden by features the engines learnt from the later block. With a seed corpus, engines
 * reused from block to block learn the seeds once, as fresh engines do: the next block's reports
 * are the same either way.
 */
import { describe, expect, it } from 'vitest';
import { TARGETS } from '../../../src/check/targets.js';
import { allFeatures } from '../../../src/gen/features.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import type { EngineConfig } from '../../../src/fuzz/protocol.js';
import { BlockRunner } from '../../../src/hub/block-runner.js';
import { MergedState } from '../../../src/hub/merged-state.js';
import { addressOf } from '../../../src/fuzz/corpus.js';

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

  it('a seeded campaign: engines reused across blocks learn the seeds once (the reports of fresh engines)', async () => {
    // Seeds: the traces of a few runs of another stream, with their coverage.
    const seeder = new BlockRunner({ ...cfg, root: 'seeds' }, TARGETS.machine, 0, 1, 0);
    const seedReports = await seeder.run(0, 0, 8, new MergedState());
    await seeder.close();
    const entries = seedReports.filter((r) => r.trace !== null).map((r) => ({ hash: addressOf(r.trace!).hash, trace: r.trace! }));
    expect(entries.length).toBeGreaterThan(2);
    const seeded = (): MergedState => {
      const st = new MergedState();
      st.seed({ entries, features: [...new Set(seedReports.flatMap((r) => r.fresh))].sort((a, b) => a - b) });
      return st;
    };
    const state = seeded();
    const reused = new BlockRunner(cfg, TARGETS.machine, 0, 1, 0);
    const block0 = await reused.run(0, 0, 16, state);
    state.apply(state.mergeNext({ block: 0, machine: 'test', reports: block0 }));
    const got = await reused.run(1, 16, 32, state);
    await reused.close();
    const fresh = new BlockRunner(cfg, TARGETS.machine, 0, 1, 0);
    const want = await fresh.run(1, 16, 32, state);
    await fresh.close();
    expect(want.some((r) => r.mutated)).toBe(true);
    expect(got.map((r) => r.trace === null ? null : addressOf(r.trace).hash)).toEqual(want.map((r) => r.trace === null ? null : addressOf(r.trace).hash));
    expect(state.initThrough(1).corpus.slice(0, entries.length)).toEqual(entries);
    expect(state.syncThrough(0, 1).corpus.some((e) => entries.some((x) => x.hash === e.hash))).toBe(false);
  });
});
