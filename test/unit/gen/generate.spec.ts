import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/gen/rng.js';
import { generateTrace, type GenOptions } from '../../../src/gen/generate.js';
import { allFeatures, parseFeatures, type Feature } from '../../../src/gen/features.js';
import { DEFAULT_WEIGHTS, restrictWeights, swarmWeights } from '../../../src/gen/weights.js';
import { defaultConfig } from '../../../src/hw/config.js';
import { EPT_SPP_HI, PTE_PKEY_MASK_HI } from '../../../src/hw/bits.js';
import { decodeMsgpack, encodeMsgpack } from '../../../src/trace/msgpack.js';

function opts(features: ReadonlySet<Feature> = allFeatures(), opsMax = 300): GenOptions {
  return { opsMax, features, weights: restrictWeights({ ...DEFAULT_WEIGHTS }, features), config: defaultConfig() };
}

describe('generator', () => {
  it('same seed and options give the same ops', () => {
    for (const seed of ['1', '2', 'abc']) {
      expect(generateTrace(new Rng(seed), opts()).ops).toEqual(generateTrace(new Rng(seed), opts()).ops);
    }
  });

  it('different seeds give different traces', () => {
    expect(generateTrace(new Rng('1'), opts()).ops).not.toEqual(generateTrace(new Rng('2'), opts()).ops);
  });

  it('respects opsMax, starts with controls and setup, and every op is valid (round-trips the strict decoder)', () => {
    for (let i = 0; i < 40; i++) {
      const t = generateTrace(new Rng(`v${i}`), opts(allFeatures(), 120));
      expect(t.ops.length).toBe(120);
      expect(t.ops[0].op).toBe('set_ctls2');
      expect(decodeMsgpack(encodeMsgpack(t)).ops).toEqual(t.ops);
    }
  });

  it('mixes guest accesses, page-crossing ones included', () => {
    let crossing = 0;
    let accesses = 0;
    for (let i = 0; i < 20; i++) {
      for (const op of generateTrace(new Rng(`x${i}`), opts()).ops) {
        if (op.op !== 'read' && op.op !== 'write' && op.op !== 'fetch') continue;
        accesses++;
        if ((op.la % 4096) + op.size > 4096) crossing++;
      }
    }
    expect(accesses).toBeGreaterThan(500);
    expect(crossing).toBeGreaterThan(20);
  });

  it('without spp: no SPPT ops, no SPP control, no EPT bit 61', () => {
    const f = parseFeatures('ept,pk,xo,tlb') as ReadonlySet<Feature>;
    for (let i = 0; i < 20; i++) {
      for (const op of generateTrace(new Rng(`s${i}`), opts(f)).ops) {
        expect(op.op).not.toBe('sppt_set');
        expect(op.op).not.toBe('set_spptp');
        if (op.op === 'set_ctls2') expect(op.value & (1 << 23)).toBe(0);
        if (op.op === 'ept_set') expect(Number(op.entry >> 32n) & EPT_SPP_HI).toBe(0);
      }
    }
  });

  it('without pk: no key registers and no keys in guest entries', () => {
    const f = parseFeatures('ept,spp,xo,tlb') as ReadonlySet<Feature>;
    for (let i = 0; i < 20; i++) {
      for (const op of generateTrace(new Rng(`k${i}`), opts(f)).ops) {
        if (op.op === 'set_reg') expect(['pkru', 'pkrs']).not.toContain(op.reg);
        if (op.op === 'gpt_set') expect(Number(op.entry >> 32n) & PTE_PKEY_MASK_HI).toBe(0);
      }
    }
  });

  it('without tlb: no invalidations', () => {
    const f = parseFeatures('ept,spp,pk,xo') as ReadonlySet<Feature>;
    const kinds = new Set(generateTrace(new Rng('t'), opts(f, 2000)).ops.map((o) => o.op));
    for (const k of ['invlpg', 'invvpid', 'invept']) expect(kinds.has(k as never)).toBe(false);
  });

  it('parseFeatures rejects unknown names', () => {
    expect(parseFeatures('ept,bogus')).toMatch(/unknown feature 'bogus'/);
  });
});

describe('swarm weights', () => {
  it('are deterministic in the seed and keep some guest access on', () => {
    for (let i = 0; i < 50; i++) {
      const a = swarmWeights(new Rng(`w${i}`), allFeatures());
      expect(a).toEqual(swarmWeights(new Rng(`w${i}`), allFeatures()));
      expect(a.read + a.write + a.fetch).toBeGreaterThan(0);
    }
  });

  it('switch some kinds off in some campaigns', () => {
    let off = 0;
    for (let i = 0; i < 20; i++) off += Object.values(swarmWeights(new Rng(`o${i}`), allFeatures())).filter((w) => w === 0).length;
    expect(off).toBeGreaterThan(20);
  });
});
