import { describe, expect, it } from 'vitest';
import { mutate } from '../../../src/fuzz/mutate.js';
import { Rng } from '../../../src/gen/rng.js';
import { generateTrace } from '../../../src/gen/generate.js';
import { allFeatures } from '../../../src/gen/features.js';
import { DEFAULT_WEIGHTS } from '../../../src/gen/weights.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import { decodeMsgpack, encodeMsgpack } from '../../../src/trace/msgpack.js';

const opts = { opsMax: 150, features: allFeatures(), weights: { ...DEFAULT_WEIGHTS }, config: normalizeConfig() };

describe('mutate', () => {
  const parent = generateTrace(new Rng('p'), opts);
  const other = generateTrace(new Rng('q'), opts);

  it('is deterministic in the rng', () => {
    expect(mutate(parent.ops, other.ops, new Rng('m1'), opts)).toEqual(mutate(parent.ops, other.ops, new Rng('m1'), opts));
  });

  it('gives valid traces within opsMax and leaves the parent alone', () => {
    const before = encodeMsgpack(parent);
    for (let i = 0; i < 200; i++) {
      const child = mutate(parent.ops, other.ops, new Rng(`m${i}`), opts);
      expect(child.ops.length).toBeGreaterThan(0);
      expect(child.ops.length).toBeLessThanOrEqual(opts.opsMax);
      const t = { ...parent, ops: child.ops };
      expect(decodeMsgpack(encodeMsgpack(t)).ops).toEqual(child.ops);
    }
    expect(encodeMsgpack(parent)).toEqual(before);
  });

  it('uses every mutation kind', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) for (const m of mutate(parent.ops, other.ops, new Rng(`k${i}`), opts).applied) seen.add(m);
    expect([...seen].sort()).toEqual(['append', 'bitflip', 'delete', 'insert', 'operands', 'splice']);
  });
});
