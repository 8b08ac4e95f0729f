/**
 * The reference model against the SPP (§3), XO (§5), protection-key (§4.3) and access-rights
 * (§4.1-§4.2, §4.4) vectors of test/vectors; expectations come from the reference document.
 */
import { describe, expect, it } from 'vitest';
import { PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../../../src/hw/bits.js';
import { ReferenceModel } from '../../../src/model/model.js';
import { pkVectors } from '../../vectors/pk-vectors.js';
import { adScenario, rightsVectors } from '../../vectors/rights-vectors.js';
import { runOps } from '../../vectors/runner.js';
import { sppVectors } from '../../vectors/spp-vectors.js';
import { config } from '../../vectors/vector.js';
import type { Vector } from '../../vectors/vector.js';
import { kvmXoVectors, nativeXoVectors } from '../../vectors/xo-vectors.js';
import { runVectorOnSpec } from './vectors.js';

function suite(title: string, vectors: Vector[]): void {
  describe(title, () => {
    it('has vectors', () => expect(vectors.length).toBeGreaterThan(5));
    it.each(vectors.map((v) => [v.name, v] as const))('%s', (_n, v) => {
      const r = runVectorOnSpec(v);
      expect(r.setupFailures).toEqual([]);
      expect(r.actual).toEqual(v.expect);
    });
  });
}

suite('SPP (ref §3.3-§3.4)', sppVectors());
suite('native execute-only (ref §5.1)', nativeXoVectors());
suite('KVM XO #PF conversion (ref §5.2, semantics.md step 7)', kvmXoVectors());
suite('protection keys (ref §4.3)', pkVectors());
suite('access rights and #PF codes (ref §4.1-§4.2)', rightsVectors());

describe('guest A/D bits (ref §4.4, semantics.md step 4)', () => {
  const run = (access: 'read' | 'write', leaf: number, cpl = 0): { pte: bigint; pde: bigint; last: string } => {
    const s = adScenario(access, leaf, cpl);
    const m = new ReferenceModel(config());
    const outs = runOps(m, s.ops);
    // guest tables are identity-mapped: GPA = HPA
    return { pte: m.readPhys(s.pteGpa, 8), pde: m.readPhys(s.pdeGpa, 8), last: outs[outs.length - 1].kind };
  };
  it('a read sets A in the leaf and in the PDE, not D', () => {
    const r = run('read', PTE_P | PTE_RW);
    expect(r.last).toBe('data');
    expect(r.pte & BigInt(PTE_A | PTE_D)).toBe(BigInt(PTE_A));
    expect(r.pde & BigInt(PTE_A)).toBe(BigInt(PTE_A));
  });
  it('a write sets A and D in the leaf', () => {
    const r = run('write', PTE_P | PTE_RW);
    expect(r.last).toBe('ok');
    expect(r.pte & BigInt(PTE_A | PTE_D)).toBe(BigInt(PTE_A | PTE_D));
    expect(r.pde & BigInt(PTE_A | PTE_D)).toBe(BigInt(PTE_A)); // D only in the leaf
  });
  it('a faulting access leaves the PTE and PDE unchanged', () => {
    const r = run('write', PTE_P, 3); // user write to a supervisor read-only page
    expect(r.last).toBe('pf');
    expect(r.pte & BigInt(PTE_A | PTE_D)).toBe(0n);
    expect(r.pde & BigInt(PTE_A)).toBe(0n);
  });
  it('entries whose bits are already set are not written', () => {
    const s = adScenario('read', PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
    const m = new ReferenceModel(config());
    runOps(m, s.ops.slice(0, -1));
    const step = m.step(s.ops[s.ops.length - 1]);
    // upper entries have A = 0 (they are written); the leaf is not
    expect(step.allowed[0].frames).not.toContain(Math.floor(s.pteGpa / 4096));
    expect(step.allowed[0].frames).toContain(Math.floor(s.pdeGpa / 4096));
  });
});
