/**
 * choices.staleDenial (docs/semantics.md "TLBs and invalidation", ref §6.3): under 'rewalk' a
 * cached entry that denies an access is dropped and the walk redone, so after a rights upgrade
 * without invalidation only the success is allowed; under 'sdm' the fault the cached entry gives
 * is allowed too ("spurious" #PF, SDM Vol. 3A §4.10.4.3; EPT violation, SDM Vol. 3C "Guidelines
 * for Use of the INVEPT Instruction"), at most once: the fault drops the mappings that gave it.
 * A denial from an entry a required invalidation removed is `flushed`, never allowed. The choice
 * is optional in trace headers: absent stays absent, present round-trips.
 */
import { describe, expect, it } from 'vitest';
import { PF_P, PF_W, PTE_A, PTE_D, PTE_P, PTE_RW } from '../../../src/hw/bits.js';
import { type Choices, type StaleDenial, normalizeConfig, validateConfig } from '../../../src/hw/config.js';
import type { Outcome } from '../../../src/hw/outcome.js';
import type { SpecStep } from '../../../src/model/api.js';
import { ReferenceModel } from '../../../src/model/model.js';
import { decodeMsgpack, encodeMsgpack } from '../../../src/trace/msgpack.js';
import type { Op } from '../../../src/trace/ops.js';
import { formatText, parseText } from '../../../src/trace/text.js';
import { SCHEMA_VERSION, type Trace } from '../../../src/trace/trace.js';
import { LAYOUT, ScenarioBuilder } from '../../vectors/builder.js';
import { runOps } from '../../vectors/runner.js';
import { config, data, exit48, ok, pf } from '../../vectors/vector.js';

const GPA = LAYOUT.dataGpa;
const LA = LAYOUT.dataLa;
const EPT_WB = 0x30n;
const EPT_A = 0x100n;
const write: Op = { op: 'write', cpu: 0, la: LA, size: 2, value: 0x2222n };
const outcomes = (s: SpecStep): Outcome[] => s.allowed.map((c) => c.outcome);

/**
 * A model with a data page mapped read-only (guest R/W = 0, or EPT r--) and one committed read,
 * then the rights raised to writable in memory without INVLPG / INVEPT.
 */
function upgraded(stale: StaleDenial, where: 'guest' | 'ept'): { m: ReferenceModel; b: ScenarioBuilder; hpa: number } {
  const b = new ScenarioBuilder();
  const hpa = b.dataFrame();
  const guestLeaf = (rw: boolean): bigint => BigInt(PTE_P | PTE_A | PTE_D | (rw ? PTE_RW : 0));
  b.eptMap(GPA, hpa, where === 'ept' ? 1n : 7n).guestMap(LA, GPA, guestLeaf(where !== 'guest'));
  b.op({ op: 'phys_write', hpa, size: 2, value: 0x1111n });
  b.read(LA, 2);
  const m = new ReferenceModel(config({ caps: { advExitInfo: false }, choices: { staleDenial: stale } }));
  const outs = runOps(m, b.ops);
  expect(outs[outs.length - 1]).toEqual(data(0x1111n));
  if (where === 'guest') runOps(m, [{ op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: BigInt(GPA) | guestLeaf(true) }]);
  else runOps(m, [{ op: 'ept_set', cpu: 0, gpa: GPA, level: 1, entry: BigInt(hpa) | 3n | EPT_WB | EPT_A }]);
  return { m, b, hpa };
}

/** The #PF a write through the cached R/W = 0 combined mapping gives (CPL 0, CR0.WP = 1). */
const SPURIOUS_PF = pf(PF_P | PF_W, LA);
/** The EPT violation a write through the cached r-- mapping gives: WR | PR | GLA | XLAT. */
const SPURIOUS_EXIT = exit48(0x18a, GPA, LA);

describe('choices.staleDenial: a guest R/W 0->1 upgrade without INVLPG', () => {
  it("'rewalk' (the default) allows only the success", () => {
    const { m } = upgraded('rewalk', 'guest');
    const s = m.step(write);
    expect(outcomes(s)).toEqual([ok]);
  });

  it("'sdm' allows the spurious #PF too, marked stale, with no memory effects", () => {
    const { m } = upgraded('sdm', 'guest');
    const s = m.step(write);
    expect(s.allowed[0].outcome).toEqual(ok);
    expect(s.allowed[0].stale).toBe(false);
    expect(outcomes(s)).toHaveLength(2);
    const spurious = s.allowed.find((c) => c.outcome.kind === 'pf');
    expect(spurious?.outcome).toEqual(SPURIOUS_PF);
    expect(spurious?.stale).toBe(true);
    expect(spurious?.frames).toEqual([]);
  });

  it("'sdm': at most once: after the #PF is committed the same write allows only the success", () => {
    const { m } = upgraded('sdm', 'guest');
    const s = m.step(write);
    m.commit(s.allowed.find((c) => c.outcome.kind === 'pf')!);
    expect(outcomes(m.step(write))).toEqual([ok]);
  });

  it("'sdm': after INVLPG the spurious #PF is flushed, not allowed", () => {
    const { m } = upgraded('sdm', 'guest');
    runOps(m, [{ op: 'invlpg', cpu: 0, la: LA }]);
    const s = m.step(write);
    expect(outcomes(s)).toEqual([ok]);
    expect(s.flushed).toContainEqual(SPURIOUS_PF);
  });

  it("'sdm': a cached entry that allows is still offered beside the denial (a read after the upgrade)", () => {
    const { m } = upgraded('sdm', 'guest');
    expect(outcomes(m.step({ op: 'read', cpu: 0, la: LA, size: 2 }))).toEqual([data(0x1111n)]);
  });
});

describe('choices.staleDenial: an EPT W 0->1 upgrade without INVEPT', () => {
  it("'rewalk' allows only the success", () => {
    const { m } = upgraded('rewalk', 'ept');
    expect(outcomes(m.step(write))).toEqual([ok]);
  });

  it("'sdm' allows the spurious EPT violation too (qualification from the cached r-- rights), marked stale", () => {
    const { m, hpa } = upgraded('sdm', 'ept');
    const s = m.step(write);
    expect(s.allowed[0].outcome).toEqual(ok);
    expect(s.allowed[0].frames).toContain(Math.floor(hpa / 4096)); // the data, and EPT D in memory
    expect(outcomes(s)).toHaveLength(2);
    const spurious = s.allowed.find((c) => c.outcome.kind === 'exit');
    expect(spurious?.outcome).toEqual(SPURIOUS_EXIT);
    expect(spurious?.stale).toBe(true);
    expect(spurious?.frames).toEqual([]); // no EPT A/D, no guest A/D (both already set), no data
  });

  it("'sdm': at most once: after the exit is committed the same write allows only the success", () => {
    const { m } = upgraded('sdm', 'ept');
    const s = m.step(write);
    m.commit(s.allowed.find((c) => c.outcome.kind === 'exit')!);
    expect(outcomes(m.step(write))).toEqual([ok]);
  });

  it("'sdm': the guest-physical mapping alone (combined one gone after INVLPG) still gives the violation", () => {
    // INVLPG removes the combined mapping, not the guest-physical one (ref §6.2).
    const { m } = upgraded('sdm', 'ept');
    runOps(m, [{ op: 'invlpg', cpu: 0, la: LA }]);
    const s = m.step(write);
    expect(outcomes(s)).toEqual([ok, SPURIOUS_EXIT]);
    m.commit(s.allowed[1]);
    expect(outcomes(m.step(write))).toEqual([ok]);
  });

  it("'sdm': after INVEPT the spurious violation is flushed, not allowed", () => {
    const { m } = upgraded('sdm', 'ept');
    runOps(m, [{ op: 'invept', cpu: 0, type: 2, eptp: 0n }]);
    const s = m.step(write);
    expect(outcomes(s)).toEqual([ok]);
    expect(s.flushed).toContainEqual(SPURIOUS_EXIT);
  });
});

describe('choices.staleDenial in configurations and trace headers', () => {
  const trace = (choices: Partial<Choices> | undefined): Trace => ({
    schema: SCHEMA_VERSION,
    eptfuzz: '0.1.0',
    machine: normalizeConfig({ choices }),
    ops: [{ op: 'read', cpu: 0, la: 0x1000, size: 1 }],
  });

  it('normalizeConfig does not add it; the writers do not emit it when absent', () => {
    const t = trace(undefined);
    expect('staleDenial' in t.machine.choices).toBe(false);
    expect(formatText(t)).not.toContain('staleDenial');
  });

  it('present values round-trip through text and msgpack', () => {
    for (const v of ['sdm', 'rewalk'] as const) {
      const t = trace({ staleDenial: v });
      expect(parseText(formatText(t)).machine.choices.staleDenial).toBe(v);
      expect(decodeMsgpack(encodeMsgpack(t)).machine.choices.staleDenial).toBe(v);
      expect(formatText(parseText(formatText(t)))).toBe(formatText(t));
    }
  });

  it('other values are refused', () => {
    const bad = normalizeConfig({ choices: { staleDenial: 'maybe' as StaleDenial } });
    expect(validateConfig(bad)).toMatch(/staleDenial/);
    expect(() => parseText(formatText(trace(undefined)).replace('"choices":{', '"choices":{"staleDenial":"maybe",'))).toThrow(/staleDenial/);
  });
});
