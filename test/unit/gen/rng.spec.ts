import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/gen/rng.js';

describe('Rng', () => {
  it('is reproducible and derive gives independent named streams (golden first values)', () => {
    const a = new Rng('1');
    const seq = [a.u32(), a.u32(), a.int(100)];
    const b = new Rng('1');
    expect([b.u32(), b.u32(), b.int(100)]).toEqual(seq);
    expect(new Rng('1').derive('run3').seed).toBe('1/run3');
    expect(new Rng('1').derive('run3').u32()).toBe(new Rng('1/run3').u32());
  });

  it('weighted never picks a zero weight', () => {
    const r = new Rng('w');
    for (let i = 0; i < 1000; i++) expect(r.weighted([0, 1, 0, 2])).not.toBe(0);
  });
});
