/**
 * The reference model against the reserved/ignored EPT bit vectors (test/vectors/ept-bits.ts);
 * the machine runs the same vectors in test/unit/hw/reference-vectors.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import { formatOutcome, sameOutcome } from '../../../src/hw/outcome.js';
import { eptBitVectors } from '../../vectors/ept-bits.js';
import { runVectorOnSpec } from './vectors.js';

describe('model: reserved and ignored EPT bits', () => {
  it('every vector gives the reference outcome', () => {
    const vectors = eptBitVectors();
    expect(vectors.length).toBeGreaterThan(500);
    const bad: string[] = [];
    for (const v of vectors) {
      const { setupFailures, actual } = runVectorOnSpec(v);
      if (setupFailures.length > 0) bad.push(`${v.name}: ${setupFailures[0]}`);
      else if (!sameOutcome(actual, v.expect)) bad.push(`${v.name}: expected ${formatOutcome(v.expect)}, model ${formatOutcome(actual)}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });
});
