/**
 * The hardware against the reference document's exact expectations: the kvm-unit-tests EPT
 * matrix (every cell, at each level and as large leaves), the guest page-walk matrix with and
 * without EPT A/D, SPP, execute-only / KVM XO, protection keys, and SDM 4.6 rights vectors
 * (test/vectors/, shared with the reference model's tests). Expected outcomes come from
 * ../shared/reference/x86-memory-protection.md, not from either implementation.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../../src/hw/machine.js';
import { formatOutcome, sameOutcome } from '../../../src/hw/outcome.js';
import { eptMatrixVectors } from '../../vectors/ept-matrix.js';
import { paddrExtraVectors, paddrMatrixVectors } from '../../vectors/paddr-matrix.js';
import { sppVectors } from '../../vectors/spp-vectors.js';
import { kvmXoVectors, nativeXoVectors } from '../../vectors/xo-vectors.js';
import { pkVectors } from '../../vectors/pk-vectors.js';
import { rightsVectors } from '../../vectors/rights-vectors.js';
import { eptBitVectors } from '../../vectors/ept-bits.js';
import type { Vector } from '../../vectors/vector.js';

function mismatches(vectors: Vector[]): string[] {
  const bad: string[] = [];
  for (const v of vectors) {
    const m = new Machine(v.config);
    const outs = v.ops.map((op) => m.apply(op));
    const setup = outs.slice(0, -1).findIndex((o) => o.kind !== 'ok');
    const last = outs[outs.length - 1];
    if (setup >= 0) bad.push(`${v.name}: setup op ${setup} (${v.ops[setup].op}) gave ${formatOutcome(outs[setup])}`);
    else if (!sameOutcome(last, v.expect)) bad.push(`${v.name} [${v.ref}]: expected ${formatOutcome(v.expect)}, machine ${formatOutcome(last)}`);
  }
  return bad;
}

const SETS: Array<[string, () => Vector[]]> = [
  ['EPT permission x access matrix (ref §2.3)', eptMatrixVectors],
  ['EPT reserved and ignored bits at every level and leaf size (ref §1.2, §1.3)', eptBitVectors],
  ['guest page-walk matrix, EPT A/D off and on (ref §2.3)', paddrMatrixVectors],
  ['page-walk extras: forced 2 MiB leaf, not-present EPT PDE (ref §2.3)', paddrExtraVectors],
  ['SPP (ref §3.3, §3.4)', sppVectors],
  ['native EPT execute-only (ref §5.1)', nativeXoVectors],
  ['KVM XO design (ref §5.2)', kvmXoVectors],
  ['protection keys (ref §4.3)', pkVectors],
  ['access rights and error codes (ref §4.1, §4.2)', rightsVectors],
];

describe('machine against the reference vectors', () => {
  for (const [name, make] of SETS) {
    it(name, () => {
      const vectors = make();
      expect(vectors.length).toBeGreaterThan(0);
      expect(mismatches(vectors).slice(0, 5)).toEqual([]);
    });
  }
});
