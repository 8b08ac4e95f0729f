/**
 * The reference model against the kvm-unit-tests EPT matrices of ref §2.3 (expectations are the
 * reference's, in test/vectors/ept-matrix.ts and paddr-matrix.ts).
 */
import { describe, expect, it } from 'vitest';
import { eptMatrixVectors } from '../../vectors/ept-matrix.js';
import { paddrExtraVectors, paddrMatrixVectors } from '../../vectors/paddr-matrix.js';
import { runVectorOnSpec } from './vectors.js';

describe('EPT access matrix (ref §2.3)', () => {
  const vectors = eptMatrixVectors();
  it('covers every row, placement and access', () => {
    expect(vectors.length).toBeGreaterThan(600);
  });
  it.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const r = runVectorOnSpec(v);
    expect(r.setupFailures).toEqual([]);
    expect(r.actual).toEqual(v.expect);
  });
});

describe('guest page-walk (paddr) matrix (ref §2.3)', () => {
  it.each(paddrMatrixVectors().map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const r = runVectorOnSpec(v);
    expect(r.setupFailures).toEqual([]);
    expect(r.actual).toEqual(v.expect);
  });
  it.each(paddrExtraVectors().map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const r = runVectorOnSpec(v);
    expect(r.setupFailures).toEqual([]);
    expect(r.actual).toEqual(v.expect);
  });
});
