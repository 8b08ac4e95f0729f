/**
 * TLB nondeterminism in the reference model (ref §6, docs/semantics.md "TLBs and invalidation"):
 * a translation that may be cached is offered as a stale candidate until a required invalidation,
 * never after it (then it shows up in `flushed`); a stale entry only ever allows; registers act
 * at once; faults and exits drop the mappings they must.
 */
import { describe, expect, it } from 'vitest';
import { CR4_PAE, CR4_PGE, PTE_A, PTE_D, PTE_G, PTE_P, PTE_RW } from '../../../src/hw/bits.js';
import type { Outcome } from '../../../src/hw/outcome.js';
import type { SpecStep } from '../../../src/model/api.js';
import { ReferenceModel } from '../../../src/model/model.js';
import type { Op } from '../../../src/trace/ops.js';
import { LAYOUT, ScenarioBuilder } from '../../vectors/builder.js';
import { runOps } from '../../vectors/runner.js';
import { config, data, exit48, ok, pf } from '../../vectors/vector.js';

const GPA = LAYOUT.dataGpa;
const LA = LAYOUT.dataLa;
const RW_AD = BigInt(PTE_P | PTE_RW | PTE_A | PTE_D);
const EPTP = BigInt(LAYOUT.eptRoot) | 0x5en;

/** A model with a mapped data page holding 0x1111 and one committed read (the TLB is warm). */
function warm(opts: { leaf?: bigint; eptPerms?: bigint; cr4?: number } = {}): { m: ReferenceModel; b: ScenarioBuilder; hpa: number } {
  const b = new ScenarioBuilder();
  const hpa = b.dataFrame();
  b.eptMap(GPA, hpa, opts.eptPerms ?? 7n).guestMap(LA, GPA, opts.leaf ?? RW_AD);
  if (opts.cr4 !== undefined) b.reg('cr4', opts.cr4);
  b.op({ op: 'phys_write', hpa, size: 2, value: 0x1111n });
  b.read(LA, 2);
  const m = new ReferenceModel(config({ caps: { advExitInfo: false } }));
  const outs = runOps(m, b.ops);
  expect(outs[outs.length - 1]).toEqual(data(0x1111n));
  return { m, b, hpa };
}

function apply(m: ReferenceModel, ...ops: Op[]): Outcome[] {
  return runOps(m, ops);
}

const outcomes = (s: SpecStep): Outcome[] => s.allowed.map((c) => c.outcome);
const read: Op = { op: 'read', cpu: 0, la: LA, size: 2 };

describe('stale EPT translations (guest-physical and combined)', () => {
  it('an EPT downgrade without INVEPT allows the fresh exit and the stale success', () => {
    const { m } = warm();
    apply(m, { op: 'ept_set', cpu: 0, gpa: GPA, level: 1, entry: 0n });
    const s = m.step(read);
    expect(s.allowed[0].outcome).toEqual(exit48(0x181, GPA, LA));
    expect(s.allowed[0].stale).toBe(false);
    expect(outcomes(s)).toContainEqual(data(0x1111n));
    expect(s.allowed.find((c) => c.outcome.kind === 'data')!.stale).toBe(true);
  });

  it('after INVEPT single-context only the fresh outcome is allowed; the stale one is flushed', () => {
    const { m } = warm();
    apply(m, { op: 'ept_set', cpu: 0, gpa: GPA, level: 1, entry: 0n }, { op: 'invept', cpu: 0, type: 1, eptp: EPTP });
    const s = m.step(read);
    expect(outcomes(s)).toEqual([exit48(0x181, GPA, LA)]);
    expect(s.flushed).toContainEqual(data(0x1111n));
  });

  it('INVEPT of another EP4TA does not flush', () => {
    const { m } = warm();
    apply(m, { op: 'ept_set', cpu: 0, gpa: GPA, level: 1, entry: 0n }, { op: 'invept', cpu: 0, type: 1, eptp: 0x90001en });
    expect(outcomes(m.step(read))).toContainEqual(data(0x1111n));
  });

  it('INVEPT all-context flushes', () => {
    const { m } = warm();
    apply(m, { op: 'ept_set', cpu: 0, gpa: GPA, level: 1, entry: 0n }, { op: 'invept', cpu: 0, type: 2, eptp: 0n });
    expect(outcomes(m.step(read))).toEqual([exit48(0x181, GPA, LA)]);
  });

  it('an EPT violation drops what it used: the stale success is not allowed after it', () => {
    const { m } = warm();
    apply(m, { op: 'ept_set', cpu: 0, gpa: GPA, level: 1, entry: 0n });
    const first = m.step(read);
    m.commit(first.allowed[0]); // the machine took the fresh exit
    const s = m.step(read);
    expect(outcomes(s)).toEqual([exit48(0x181, GPA, LA)]);
    expect(s.flushed).toContainEqual(data(0x1111n));
  });

  it('a stale entry only ever allows: a cached read-only mapping does not allow a write', () => {
    const { m } = warm({ eptPerms: 1n });
    apply(m, { op: 'ept_set', cpu: 0, gpa: GPA, level: 1, entry: BigInt(warmHpa()) | 0x37n });
    const s = m.step({ op: 'write', cpu: 0, la: LA, size: 2, value: 5n });
    expect(outcomes(s)).toEqual([ok]);
    expect(s.allowed).toHaveLength(1);
  });

  it('a write after a rights downgrade may use the cached writable mapping', () => {
    const { m, hpa } = warm();
    apply(m, { op: 'write', cpu: 0, la: LA, size: 2, value: 0x2222n }); // EPT D set, combined guest D = 1
    apply(m, { op: 'ept_set', cpu: 0, gpa: GPA, level: 1, entry: BigInt(hpa) | 0x31n | 0x300n }); // r--, A|D kept
    const s = m.step({ op: 'write', cpu: 0, la: LA, size: 2, value: 0x3333n });
    expect(s.allowed[0].outcome).toEqual(exit48(0x18a, GPA, LA));
    const stale = s.allowed.find((c) => c.outcome.kind === 'ok');
    expect(stale?.stale).toBe(true);
    expect(stale?.frames).toContain(Math.floor(hpa / 4096));
    m.commit(stale!);
    expect(m.readPhys(hpa, 2)).toBe(0x3333n);
  });

  it('a cached guest-physical mapping serves a guest paging-structure read', () => {
    const { m, b } = warm();
    const pt = b.guestTableGpa(LA, 1);
    apply(m, { op: 'ept_set', cpu: 0, gpa: pt, level: 1, entry: 0n }, { op: 'invlpg', cpu: 0, la: LA }); // no combined left
    const s = m.step(read);
    expect(s.allowed[0].outcome).toEqual(exit48(0x83, b.guestEntryGpa(LA, 1), LA)); // EPT A/D on: RD|WR|GLA
    expect(outcomes(s)).toContainEqual(data(0x1111n));
  });
});

function warmHpa(): number {
  return LAYOUT.dataPool;
}

describe('stale guest translations (combined mappings)', () => {
  it('a guest PTE cleared without INVLPG: fresh #PF or the stale success', () => {
    const { m } = warm();
    apply(m, { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: 0n });
    const s = m.step(read);
    expect(s.allowed[0].outcome).toEqual(pf(0, LA));
    expect(outcomes(s)).toContainEqual(data(0x1111n));
  });

  it('after INVLPG only the #PF; the stale success is flushed', () => {
    const { m } = warm();
    apply(m, { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: 0n }, { op: 'invlpg', cpu: 0, la: LA + 0x123 });
    const s = m.step(read);
    expect(outcomes(s)).toEqual([pf(0, LA)]);
    expect(s.flushed).toEqual([data(0x1111n)]);
  });

  it('a remapped PTE gives the new data or the old data', () => {
    const { m, b } = warm();
    const other = b.dataFrame();
    apply(m, { op: 'ept_set', cpu: 0, gpa: GPA + 0x1000, level: 1, entry: BigInt(other) | 0x37n },
      { op: 'phys_write', hpa: other, size: 2, value: 0x2222n },
      { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: BigInt(GPA + 0x1000) | RW_AD });
    const s = m.step(read);
    expect(s.allowed[0].outcome).toEqual(data(0x2222n));
    expect(outcomes(s)).toEqual([data(0x2222n), data(0x1111n)]);
  });

  it('INVVPID individual-address flushes the page; another VPID does not', () => {
    const { m } = warm();
    apply(m, { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: 0n }, { op: 'invvpid', cpu: 0, type: 0, vpid: 2, la: BigInt(LA) });
    expect(outcomes(m.step(read))).toContainEqual(data(0x1111n));
    apply(m, { op: 'invvpid', cpu: 0, type: 0, vpid: 1, la: BigInt(LA) });
    expect(outcomes(m.step(read))).toEqual([pf(0, LA)]);
  });

  it('INVVPID single-context and all-context flush', () => {
    for (const [type, vpid] of [[1, 1], [2, 0], [3, 1]]) {
      const { m } = warm();
      apply(m, { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: 0n }, { op: 'invvpid', cpu: 0, type, vpid, la: 0n });
      expect(outcomes(m.step(read))).toEqual([pf(0, LA)]);
    }
  });

  it('MOV CR3 flushes non-global mappings but keeps global ones (CR4.PGE = 1)', () => {
    for (const global of [false, true]) {
      const { m, b } = warm({ leaf: RW_AD | (global ? BigInt(PTE_G) : 0n), cr4: CR4_PAE | CR4_PGE });
      apply(m, { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: 0n }, { op: 'set_reg', cpu: 0, reg: 'cr3', value: BigInt(b.guestTableGpa(LA, 4)) });
      const s = outcomes(m.step(read));
      if (global) expect(s).toContainEqual(data(0x1111n));
      else expect(s).toEqual([pf(0, LA)]);
    }
  });

  it('toggling CR4.PGE flushes global mappings too', () => {
    const { m } = warm({ leaf: RW_AD | BigInt(PTE_G), cr4: CR4_PAE | CR4_PGE });
    apply(m, { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: 0n }, { op: 'set_reg', cpu: 0, reg: 'cr4', value: BigInt(CR4_PAE) });
    expect(outcomes(m.step(read))).toEqual([pf(0, LA)]);
  });

  it('a #PF drops the combined mapping of its page', () => {
    const { m } = warm();
    apply(m, { op: 'write', cpu: 0, la: LA, size: 2, value: 0x2222n });
    apply(m, { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: BigInt(GPA) | BigInt(PTE_P | PTE_A | PTE_D) }); // read-only
    const w: Op = { op: 'write', cpu: 0, la: LA, size: 2, value: 0x3333n };
    const s = m.step(w);
    expect(s.allowed[0].outcome).toEqual(pf(0x3, LA));
    expect(outcomes(s)).toContainEqual(ok);
    m.commit(s.allowed[0]);
    const after = m.step(w);
    expect(outcomes(after)).toEqual([pf(0x3, LA)]);
    expect(after.flushed).toContainEqual(ok);
  });

  it('registers apply at once: a cached read-only mapping does not serve a write after CR0.WP = 1', () => {
    const { m } = warm({ leaf: BigInt(PTE_P | PTE_A | PTE_D) });
    apply(m, { op: 'set_reg', cpu: 0, reg: 'cr0', value: 0x80000001n });
    expect(apply(m, { op: 'write', cpu: 0, la: LA, size: 2, value: 1n })).toEqual([ok]);
    apply(m, { op: 'set_reg', cpu: 0, reg: 'cr0', value: 0x80010001n });
    const s = m.step({ op: 'write', cpu: 0, la: LA, size: 2, value: 2n });
    expect(outcomes(s)).toEqual([pf(0x3, LA)]);
  });

  it('a cleared guest A bit: fresh sets it again, the stale candidate writes nothing', () => {
    const { m, b } = warm();
    apply(m, { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: BigInt(GPA) | BigInt(PTE_P | PTE_RW) });
    const s = m.step(read);
    expect(outcomes(s)).toEqual([data(0x1111n), data(0x1111n)]);
    const ptFrame = Math.floor(b.guestTableGpa(LA, 1) / 4096);
    expect(s.allowed[0].frames).toContain(ptFrame);
    expect(s.allowed[1].frames).toEqual([]);
    expect(s.allowed[1].stale).toBe(true);
  });

  it('TLBs are per vCPU', () => {
    const b = new ScenarioBuilder();
    const hpa = b.dataFrame();
    b.eptMap(GPA, hpa, 7n).guestMap(LA, GPA, RW_AD);
    b.op({ op: 'set_eptp', cpu: 1, value: EPTP }).op({ op: 'set_reg', cpu: 1, reg: 'cr3', value: BigInt(b.guestTableGpa(LA, 4)) });
    b.read(LA, 2).op({ op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: 0n });
    const m = new ReferenceModel(config());
    runOps(m, b.ops);
    expect(outcomes(m.step({ ...read, cpu: 0 }))).toHaveLength(2);
    expect(outcomes(m.step({ ...read, cpu: 1 }))).toEqual([pf(0, LA)]);
  });

  it('stale candidates are distinct from each other and from the fresh one', () => {
    const { m } = warm();
    apply(m, { op: 'ept_set', cpu: 0, gpa: GPA, level: 1, entry: 0n }, { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: 0n });
    const s = m.step(read);
    const keys = s.allowed.map((c) => JSON.stringify(c.outcome, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + c.frames.join(','));
    expect(new Set(keys).size).toBe(keys.length);
    expect(s.allowed.length).toBeLessThanOrEqual(64);
  });
});

describe('candidates with the same outcome and frames', () => {
  it('agreesWith tells them apart by the bytes they would leave', () => {
    const { m, b } = warm();
    apply(m, { op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: BigInt(GPA) | BigInt(PTE_P | PTE_RW) }); // A cleared
    const s = m.step(read);
    expect(s.allowed).toHaveLength(2);
    const pt = Math.floor(b.guestTableGpa(LA, 1) / 4096);
    const [fresh, stale] = s.allowed as import('../../../src/model/candidate.js').SpecCandidate[];
    const current = (f: number): Uint8Array | null => m.frameBytes(f);
    // a "machine" that did not set the A bit: its frames equal the model's current ones
    expect(stale.agreesWith(current, current)).toBe(true);
    expect(fresh.agreesWith(current, current)).toBe(false);
    // a "machine" that set it
    const withA = (f: number): Uint8Array | null => {
      const bytes = m.frameBytes(f);
      if (f !== pt || bytes === null) return bytes;
      bytes[(b.guestEntryGpa(LA, 1) % 4096)] |= PTE_A;
      return bytes;
    };
    expect(fresh.agreesWith(withA, current)).toBe(true);
    expect(stale.agreesWith(withA, current)).toBe(false);
  });
});
