/**
 * choices.guestAccessedOnFault (docs/semantics.md "Guest access" step 4, ref §4.4): under 'none'
 * (absent, the built-in machine) a faulting guest walk sets no A flag; under 'sdm' the model also
 * allows A set, in walk order, in a prefix of the entries the walk used before the fault (SDM
 * Vol. 3A §4.8: an entry used as part of linear-address translation gets A), the leaf included
 * after a rights fault, never D, and only while each A update's own EPT write is allowed. The
 * outcome is the fault in every candidate; candidates differ only in the bytes they write. The
 * choice is optional in trace headers: absent stays absent, present round-trips.
 */
import { describe, expect, it } from 'vitest';
import { PF_P, PF_W, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../../../src/hw/bits.js';
import { type Choices, type GuestAccessedOnFault, normalizeConfig, validateConfig } from '../../../src/hw/config.js';
import type { Outcome } from '../../../src/hw/outcome.js';
import type { Candidate, SpecStep } from '../../../src/model/api.js';
import { ReferenceModel } from '../../../src/model/model.js';
import { decodeMsgpack, encodeMsgpack } from '../../../src/trace/msgpack.js';
import type { Op } from '../../../src/trace/ops.js';
import { formatText, parseText } from '../../../src/trace/text.js';
import { SCHEMA_VERSION, type Trace } from '../../../src/trace/trace.js';
import { LAYOUT, ScenarioBuilder } from '../../vectors/builder.js';
import { runOps } from '../../vectors/runner.js';
import { config, exit48, pf } from '../../vectors/vector.js';

const GPA = LAYOUT.dataGpa;
const LA = LAYOUT.dataLa;
/** Upper guest entries with A = 0. */
const UPPER_NO_A = BigInt(PTE_P | PTE_RW | PTE_US);
const read: Op = { op: 'read', cpu: 0, la: LA, size: 8 };
const write: Op = { op: 'write', cpu: 0, la: LA, size: 8, value: 0x1234n };

/** A 4-level mapping of LA with every guest entry's A = 0 (guest tables are identity-mapped: GPA = HPA). */
function scenario(opts: { eptAD?: boolean; leaf?: bigint } = {}): { b: ScenarioBuilder; entryHpa: (level: number) => number } {
  const b = new ScenarioBuilder({ eptAD: opts.eptAD });
  b.eptMap(GPA, b.dataFrame(), b.full).guestMap(LA, GPA, opts.leaf ?? BigInt(PTE_P | PTE_RW), 1, UPPER_NO_A);
  return { b, entryHpa: (level) => b.guestEntryGpa(LA, level) };
}

function model(aof: GuestAccessedOnFault | undefined, ops: readonly Op[]): ReferenceModel {
  const choices: Partial<Choices> = aof === undefined ? {} : { guestAccessedOnFault: aof };
  const m = new ReferenceModel(config({ caps: { advExitInfo: false }, choices }));
  runOps(m, ops);
  return m;
}

/** The levels (4..1) whose guest entry has A set after committing `c`, read through its preview. */
function aLevels(c: Candidate, entryHpa: (level: number) => number): number[] {
  const out: number[] = [];
  for (let level = 4; level >= 1; level--) {
    const hpa = entryHpa(level);
    const bytes = (c as Candidate & { frameAfter(f: number): Uint8Array | null }).frameAfter(Math.floor(hpa / 4096));
    if (bytes !== null && (bytes[hpa % 4096] & PTE_A) !== 0) out.push(level);
  }
  return out;
}

const sorted = (xs: number[][]): string[] => xs.map((x) => x.join(',')).sort();
const outcomes = (s: SpecStep): Outcome[] => s.allowed.map((c) => c.outcome);

describe('choices.guestAccessedOnFault: a 4-level walk whose PTE is not present', () => {
  const setup = (): { ops: Op[]; entryHpa: (level: number) => number } => {
    const { b, entryHpa } = scenario();
    b.guestRaw(LA, 1, 0n);
    return { ops: b.ops, entryHpa };
  };
  const NOT_PRESENT = pf(0, LA);

  it("'none' (absent) allows only the fault with no A set", () => {
    const { ops, entryHpa } = setup();
    for (const aof of [undefined, 'none'] as const) {
      const s = model(aof, ops).step(read);
      expect(outcomes(s)).toEqual([NOT_PRESENT]);
      expect(aLevels(s.allowed[0], entryHpa)).toEqual([]);
    }
  });

  it("'sdm' also allows A in PML4E, PML4E+PDPTE, PML4E+PDPTE+PDE (same fault, not stale)", () => {
    const { ops, entryHpa } = setup();
    const s = model('sdm', ops).step(read);
    expect(s.allowed.every((c) => c.stale === false)).toBe(true);
    expect(outcomes(s)).toEqual(s.allowed.map(() => NOT_PRESENT));
    expect(aLevels(s.allowed[0], entryHpa)).toEqual([]); // allowed[0] stays the fresh walk
    expect(sorted(s.allowed.map((c) => aLevels(c, entryHpa)))).toEqual(sorted([[], [4], [4, 3], [4, 3, 2]]));
  });

  it("'sdm': committing a candidate leaves the model's memory with exactly its A bits", () => {
    const { ops, entryHpa } = setup();
    for (const want of [[4], [4, 3], [4, 3, 2]]) {
      const m = model('sdm', ops);
      const s = m.step(read);
      const c = s.allowed.find((x) => aLevels(x, entryHpa).join() === want.join())!;
      expect(c.frames).toContain(Math.floor(entryHpa(4) / 4096));
      m.commit(c);
      const set = [4, 3, 2, 1].filter((level) => (m.readPhys(entryHpa(level), 8) & BigInt(PTE_A)) !== 0n);
      expect(set).toEqual(want);
      // The fault changed nothing else: the next access faults alike, now with fewer A to set.
      expect(outcomes(m.step(read))[0]).toEqual(NOT_PRESENT);
    }
  });
});

describe('choices.guestAccessedOnFault: a rights fault at the leaf', () => {
  // A read-only 4 KiB leaf, A = D = 0; a supervisor write with CR0.WP = 1 faults after the whole walk.
  const setup = (): { ops: Op[]; entryHpa: (level: number) => number } => {
    const { b, entryHpa } = scenario({ leaf: BigInt(PTE_P) });
    return { ops: b.ops, entryHpa };
  };
  const RIGHTS = pf(PF_P | PF_W, LA);

  it("'none' allows only the fault with no A set", () => {
    const { ops, entryHpa } = setup();
    const s = model(undefined, ops).step(write);
    expect(outcomes(s)).toEqual([RIGHTS]);
    expect(aLevels(s.allowed[0], entryHpa)).toEqual([]);
  });

  it("'sdm' allows the leaf's A too (the leaf was used), and never D", () => {
    const { ops, entryHpa } = setup();
    const s = model('sdm', ops).step(write);
    expect(outcomes(s)).toEqual(s.allowed.map(() => RIGHTS));
    expect(sorted(s.allowed.map((c) => aLevels(c, entryHpa)))).toEqual(sorted([[], [4], [4, 3], [4, 3, 2], [4, 3, 2, 1]]));
    const leaf = entryHpa(1);
    for (const c of s.allowed) {
      const bytes = (c as Candidate & { frameAfter(f: number): Uint8Array | null }).frameAfter(Math.floor(leaf / 4096));
      expect((bytes?.[leaf % 4096] ?? 0) & PTE_D).toBe(0);
    }
  });
});

describe('choices.guestAccessedOnFault: EPT faults', () => {
  it("'sdm': an EPT violation reading the PTE allows A in the three entries above it", () => {
    const { b, entryHpa } = scenario();
    const pt = b.guestTableGpa(LA, 1);
    b.eptMap(pt, pt, 0n); // the page table's GPA is not present in EPT
    const none = model('none', b.ops).step(read);
    expect(none.allowed).toHaveLength(1);
    expect(none.allowed[0].outcome).toMatchObject({ kind: 'exit', reason: 48, gpa: entryHpa(1) });
    const s = model('sdm', b.ops).step(read);
    expect(outcomes(s)).toEqual(s.allowed.map(() => none.allowed[0].outcome));
    expect(sorted(s.allowed.map((c) => aLevels(c, entryHpa)))).toEqual(sorted([[], [4], [4, 3], [4, 3, 2]]));
  });

  it("'sdm': a prefix whose A update EPT would deny is not offered (PD page read-only, EPT A/D off)", () => {
    const { b, entryHpa } = scenario({ eptAD: false });
    const pd = b.guestTableGpa(LA, 2);
    b.eptMap(pd, pd, 1n); // readable: the walk reads the PDE; the PDE's A update (a write) is denied
    b.guestRaw(LA, 1, 0n);
    const s = model('sdm', b.ops).step(read);
    expect(outcomes(s)).toEqual(s.allowed.map(() => pf(0, LA)));
    expect(sorted(s.allowed.map((c) => aLevels(c, entryHpa)))).toEqual(sorted([[], [4], [4, 3]]));
  });

  it("'sdm': a final-GPA EPT violation also allows fewer A than step 4 sets (never D)", () => {
    const { b, entryHpa } = scenario();
    b.eptMap(GPA, 0x900000, 1n); // data page read-only in EPT: a write is an EPT violation at the final GPA
    const none = model(undefined, b.ops).step(write);
    expect(none.allowed).toHaveLength(1);
    const fault = none.allowed[0].outcome;
    expect(fault).toEqual(exit48(0x18a, GPA, LA));
    // 'none': step 4 ran before the final GPA: A everywhere and D in the leaf.
    expect(aLevels(none.allowed[0], entryHpa)).toEqual([4, 3, 2, 1]);
    const s = model('sdm', b.ops).step(write);
    expect(outcomes(s)).toEqual(s.allowed.map(() => fault));
    expect(aLevels(s.allowed[0], entryHpa)).toEqual([4, 3, 2, 1]);
    expect(sorted(s.allowed.map((c) => aLevels(c, entryHpa)))).toEqual(sorted([[4, 3, 2, 1], [], [4], [4, 3], [4, 3, 2], [4, 3, 2, 1]]));
    const leaf = entryHpa(1);
    const withD = s.allowed.filter((c) => {
      const bytes = (c as Candidate & { frameAfter(f: number): Uint8Array | null }).frameAfter(Math.floor(leaf / 4096));
      return ((bytes?.[leaf % 4096] ?? 0) & PTE_D) !== 0;
    });
    expect(withD).toEqual([s.allowed[0]]); // only step 4's own run sets D
  });
});

describe('choices.guestAccessedOnFault in configurations and trace headers', () => {
  const trace = (choices: Partial<Choices> | undefined): Trace => ({
    schema: SCHEMA_VERSION,
    eptfuzz: '0.1.0',
    machine: normalizeConfig({ choices }),
    ops: [{ op: 'read', cpu: 0, la: 0x1000, size: 1 }],
  });

  it('normalizeConfig does not add it; the writers do not emit it when absent', () => {
    const t = trace(undefined);
    expect('guestAccessedOnFault' in t.machine.choices).toBe(false);
    expect(formatText(t)).not.toContain('guestAccessedOnFault');
  });

  it('present values round-trip through text and msgpack (after staleDenial when both are present)', () => {
    for (const v of ['sdm', 'none'] as const) {
      const t = trace({ guestAccessedOnFault: v });
      expect(parseText(formatText(t)).machine.choices.guestAccessedOnFault).toBe(v);
      expect(decodeMsgpack(encodeMsgpack(t)).machine.choices.guestAccessedOnFault).toBe(v);
      expect(formatText(parseText(formatText(t)))).toBe(formatText(t));
    }
    const both = formatText(trace({ guestAccessedOnFault: 'sdm', staleDenial: 'sdm' }));
    expect(both).toContain('"staleDenial":"sdm","guestAccessedOnFault":"sdm"');
  });

  it('other values are refused', () => {
    const bad = normalizeConfig({ choices: { guestAccessedOnFault: 'maybe' as GuestAccessedOnFault } });
    expect(validateConfig(bad)).toMatch(/guestAccessedOnFault/);
    expect(() => parseText(formatText(trace(undefined)).replace('"choices":{', '"choices":{"guestAccessedOnFault":"maybe",'))).toThrow(/guestAccessedOnFault/);
  });
});
