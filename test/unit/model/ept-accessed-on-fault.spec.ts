/**
 * choices.eptAccessedOnFault (docs/semantics.md "EPT translation of one GPA"): under 'none'
 * (absent, the built-in machine) an EPT walk that ends in an EPT exit sets no EPT accessed flag;
 * under 'sdm' the model also allows A (bit 8) set, in walk order, in a prefix of the EPT entries
 * the walk used (SDM Vol. 3C "Accessed and Dirty Flags for EPT": an entry used as part of
 * guest-physical-address translation gets A): every entry above a not-present one, and every
 * entry, the leaf included, of a walk that reached a leaf whose rights deny. Never D. Only with
 * EPTP[6] = 1. The outcome is the exit in every candidate.
 */
import { describe, expect, it } from 'vitest';
import { EPT_A, EPT_D, EXIT_EPT_VIOLATION, PTE_A, PTE_D, PTE_P, PTE_RW } from '../../../src/hw/bits.js';
import type { Choices, EptAccessedOnFault } from '../../../src/hw/config.js';
import type { Candidate, SpecStep } from '../../../src/model/api.js';
import { ReferenceModel } from '../../../src/model/model.js';
import type { Op } from '../../../src/trace/ops.js';
import { LAYOUT, ScenarioBuilder } from '../../vectors/builder.js';
import { runOps } from '../../vectors/runner.js';
import { config } from '../../vectors/vector.js';

const GPA = LAYOUT.dataGpa;
const LA = LAYOUT.dataLa;
const write: Op = { op: 'write', cpu: 0, la: LA, size: 8, value: 0x1234n };
const GUEST_LEAF = BigInt(PTE_P | PTE_RW | PTE_A | PTE_D);

/** The data GPA's EPT walk ends at `leaf` (a 4 KiB EPT PTE; 0: not present); guest A/D all set. */
function scenario(leaf: bigint | null, eptAD = true): { ops: Op[]; entryHpa: (level: number) => number } {
  const b = new ScenarioBuilder({ eptAD });
  b.eptMap(GPA, b.dataFrame(), 1n).guestMap(LA, GPA, GUEST_LEAF);
  if (leaf !== null) b.eptRaw(GPA, 1, leaf);
  return { ops: b.ops, entryHpa: (level) => b.eptEntryHpa(GPA, level) };
}

function step(eaof: EptAccessedOnFault | undefined, ops: readonly Op[]): SpecStep {
  const choices: Partial<Choices> = eaof === undefined ? {} : { eptAccessedOnFault: eaof };
  const m = new ReferenceModel(config({ caps: { advExitInfo: false }, choices }));
  runOps(m, ops);
  return m.step(write);
}

/** The EPT levels (4..1) whose entry has the given flag set after committing `c`. */
function flagged(c: Candidate, entryHpa: (level: number) => number, flag: number): number[] {
  const out: number[] = [];
  for (let level = 4; level >= 1; level--) {
    const hpa = entryHpa(level);
    const bytes = (c as Candidate & { frameAfter(f: number): Uint8Array | null }).frameAfter(Math.floor(hpa / 4096));
    const word = bytes === null ? 0 : bytes[hpa % 4096] | (bytes[(hpa % 4096) + 1] << 8);
    if ((word & flag) !== 0) out.push(level);
  }
  return out;
}

const isViolation = (c: Candidate): boolean => c.outcome.kind === 'exit' && c.outcome.reason === EXIT_EPT_VIOLATION;

describe('choices.eptAccessedOnFault', () => {
  it("'none' (absent or explicit): the violation leaves every EPT A flag clear", () => {
    const { ops, entryHpa } = scenario(null);
    for (const eaof of [undefined, 'none'] as const) {
      const s = step(eaof, ops);
      expect(s.allowed).toHaveLength(1);
      expect(isViolation(s.allowed[0])).toBe(true);
      expect(flagged(s.allowed[0], entryHpa, EPT_A)).toEqual([]);
    }
  });

  it("'sdm', a write to a read-only leaf: A in PML4E, +PDPTE, +PDE, +PTE (the leaf was used), never D", () => {
    const { ops, entryHpa } = scenario(null);
    const s = step('sdm', ops);
    expect(s.allowed.every(isViolation)).toBe(true);
    expect(s.allowed.every((c) => c.stale === false)).toBe(true);
    expect(s.allowed.map((c) => flagged(c, entryHpa, EPT_A).join(','))).toEqual(['', '4', '4,3', '4,3,2', '4,3,2,1']);
    expect(s.allowed.every((c) => flagged(c, entryHpa, EPT_D).length === 0)).toBe(true);
  });

  it("'sdm', a not-present leaf: only the three entries above it", () => {
    const { ops, entryHpa } = scenario(0n);
    const s = step('sdm', ops);
    expect(s.allowed.every(isViolation)).toBe(true);
    expect(s.allowed.map((c) => flagged(c, entryHpa, EPT_A).join(','))).toEqual(['', '4', '4,3', '4,3,2']);
  });

  it("'sdm' with EPT A/D off (EPTP[6] = 0) adds nothing", () => {
    const { ops } = scenario(null, false);
    expect(step('sdm', ops).allowed).toHaveLength(1);
  });
});
