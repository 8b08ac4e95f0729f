import { describe, expect, it } from 'vitest';
import { CORPUS_ENTRIES_MAX, CorpusPool, RARITY_FLOOR, type CorpusEntry } from '../../../src/fuzz/corpus.js';
import { Rng } from '../../../src/gen/rng.js';
import type { Trace } from '../../../src/trace/trace.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import { makeTrace } from '../../../src/gen/generate.js';
import { FEATURES } from '../../../src/gen/features.js';
import { FeatureSet } from '../../../src/fuzz/coverage.js';
import { RunEngine } from '../../../src/fuzz/engine.js';
import type { EngineConfig } from '../../../src/fuzz/protocol.js';
import { TARGETS } from '../../../src/check/targets.js';
import { runWith } from '../../../src/check/runner.js';
import { campaignConfig } from '../../../src/cli/commands/fuzz.js';

const TRACE: Trace = makeTrace(normalizeConfig(), [], { seed: 'schedule-test', options: {} });
const entry = (hash: string): CorpusEntry => ({ hash, trace: TRACE });
const COMMON = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/** 20 entries holding the same 10 features, and `rare` (first, so the newest-entries rule of the old pick never favoured it) holding one more. */
function pool(order: 'rare-first' | 'rare-last' = 'rare-first'): CorpusPool {
  const p = new CorpusPool();
  const common = Array.from({ length: 20 }, (_, i) => i);
  if (order === 'rare-first') p.push(entry('rare'), [...COMMON, 99]);
  for (const i of common) p.push(entry(`c${i}`), COMMON);
  if (order === 'rare-last') p.push(entry('rare'), [99, ...COMMON]);
  return p;
}

function picks(p: CorpusPool, seed: string, n: number): string[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => p.pick(rng).hash);
}

describe('CorpusPool rare-feature schedule', () => {
  it('weighs an entry by the rarity of its features: floor plus the sum of 1 / holders', () => {
    const p = pool();
    const common = RARITY_FLOOR + 10 / 21;
    expect(p.weight(1)).toBeCloseTo(common, 12);
    expect(p.weight(0)).toBeCloseTo(common + 1, 12);
  });

  it('picks an entry holding a feature no other holds far more often than the others', () => {
    const n = 21_000;
    const got = picks(pool(), 'rare', n).filter((h) => h === 'rare').length;
    // Uniform (the old pick, recent or not) gives it n / 21 = 1,000; the weights give ~2.9 times that.
    expect(got).toBeGreaterThan(2_400);
    expect(got).toBeLessThan(3_400);
  });

  it('is deterministic: pools fed the same entries in the same order pick the same for the same rng', () => {
    expect(picks(pool(), 'same', 500)).toEqual(picks(pool(), 'same', 500));
    expect(picks(pool(), 'same', 500)).not.toEqual(picks(pool(), 'other', 500));
  });

  it("gives every entry the same weight whatever the order entries (and an entry's features) came in", () => {
    const a = pool('rare-first');
    const b = pool('rare-last');
    const weights = (p: CorpusPool): Map<string, number> => new Map(p.entries.map((e, i) => [e.hash, p.weight(i)]));
    const wa = weights(a);
    const wb = weights(b);
    for (const [hash, w] of wa) expect(wb.get(hash)).toBeCloseTo(w, 12);
  });

  it('learns from later entries: a feature that becomes common stops lifting its first holder', () => {
    const p = new CorpusPool();
    p.push(entry('first'), [7]);
    p.push(entry('other'), [8]);
    const before = p.weight(0);
    for (let i = 0; i < 9; i++) p.push(entry(`later${i}`), [7]);
    expect(before).toBeCloseTo(RARITY_FLOOR + 1, 12);
    expect(p.weight(0)).toBeCloseTo(RARITY_FLOOR + 0.1, 12);
    const got = picks(p, 'learn', 11_000).filter((h) => h === 'other').length;
    // 'other' (sole holder of 8) weighs 1.05 of 11 * 0.15 + 1.05 = 2.7 in all: ~39 %.
    expect(got / 11_000).toBeGreaterThan(0.33);
    expect(got / 11_000).toBeLessThan(0.45);
  });

  it('forgets the features of evicted entries', () => {
    const p = new CorpusPool();
    p.push(entry('evicted'), [5]);
    p.push(entry('kept'), [5]);
    for (let i = 0; i < CORPUS_ENTRIES_MAX - 1; i++) p.push(entry(`e${i}`), []);
    expect(p.entries[0].hash).toBe('kept');
    expect(p.weight(0)).toBeCloseTo(RARITY_FLOOR + 1, 12);
    expect(p.pick(new Rng('after-eviction')).hash).toBeDefined();
  });
});

describe('the features a run reports for the schedule', () => {
  for (const mode of ['bare', 'hv'] as const) {
    it(`are exactly what a FeatureSet over the trace holds (${mode} mode), so a local engine and a hub engine that recomputes them weigh alike`, () => {
      const config = mode === 'hv' ? campaignConfig('hv', [], false) : normalizeConfig();
      const cfg: EngineConfig = { root: `features-${mode}`, opsMax: 120, features: [...FEATURES], swarm: true, config, oracle: 'machine', stabilityEvery: 3 };
      const engine = new RunEngine(cfg, TARGETS.machine);
      let compared = 0;
      for (let r = 0; r < 12; r++) {
        const rep = engine.runOne(r);
        if (rep.trace === null || rep.failure !== null) {
          expect(rep.features).toBeUndefined();
          continue;
        }
        const set = new FeatureSet();
        runWith(rep.trace, TARGETS.machine, { observer: set });
        expect(rep.features).toEqual([...set.features].sort((a, b) => a - b));
        compared++;
      }
      expect(compared).toBeGreaterThan(3);
    });
  }
});
