import { describe, expect, it } from 'vitest';
import { RunEngine, nondeterminismSignature } from '../../../src/fuzz/engine.js';
import { TARGETS } from '../../../src/check/targets.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import { FEATURES } from '../../../src/gen/features.js';
import type { EngineConfig } from '../../../src/fuzz/protocol.js';
import { FLAKY } from '../../support/flaky-target.js';

const cfg = (over: Partial<EngineConfig> = {}): EngineConfig => ({
  root: 'engine-test', opsMax: 80, features: [...FEATURES], swarm: true, config: normalizeConfig(), oracle: 'machine', stabilityEvery: 4, ...over,
});

describe('RunEngine', () => {
  it('gives the same reports for the same runs, whatever engine instance runs them', () => {
    const a = new RunEngine(cfg(), TARGETS.machine);
    const b = new RunEngine(cfg(), TARGETS.machine);
    const ra = [0, 1, 2, 3, 4, 5].map((r) => a.runOne(r));
    const rb = [0, 1, 2, 3, 4, 5].map((r) => b.runOne(r));
    expect(rb).toEqual(ra);
    expect(ra[0].fresh.length).toBeGreaterThan(0);
    expect(ra[0].trace).not.toBeNull();
    expect(ra[0].trace?.provenance?.seed).toBe('engine-test/run0');
  });

  it('reports only features it has not seen: a sync of them empties the next report', () => {
    const e = new RunEngine(cfg(), TARGETS.machine);
    const first = e.runOne(7);
    const again = new RunEngine(cfg(), TARGETS.machine);
    again.applySync({ corpus: [], features: first.fresh });
    expect(again.runOne(7).fresh).toEqual([]);
  });

  it('mutates corpus entries once it has some', () => {
    const e = new RunEngine(cfg(), TARGETS.machine);
    const seed = e.runOne(0);
    e.applySync({ corpus: [{ hash: 'h0', trace: seed.trace! }], features: [] });
    const reports = Array.from({ length: 16 }, (_, i) => e.runOne(100 + i));
    expect(reports.some((r) => r.mutated)).toBe(true);
    expect(reports.some((r) => !r.mutated)).toBe(true);
  });

  it('the determinism self-check re-executes every n-th run and passes on the real machine', () => {
    const e = new RunEngine(cfg({ stabilityEvery: 2 }), TARGETS.machine);
    const reports = [0, 1, 2, 3].map((r) => e.runOne(r));
    expect(reports.map((r) => r.stable)).toEqual([true, null, true, null]);
  });

  it('a target whose outcomes change between executions is reported as harness.nondeterminism', () => {
    const e = new RunEngine(cfg({ stabilityEvery: 1, opsMax: 200 }), FLAKY);
    const reports = Array.from({ length: 12 }, (_, r) => e.runOne(r));
    const unstable = reports.filter((r) => r.stable === false);
    expect(unstable.length).toBeGreaterThan(0);
    expect(unstable[0].failure?.signature).toEqual(nondeterminismSignature('outcomes'));
    expect(unstable[0].failure?.signature.invariant).toBe('harness.nondeterminism');
    expect(unstable[0].trace).not.toBeNull();
  });
});
