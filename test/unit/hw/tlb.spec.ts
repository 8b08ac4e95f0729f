/**
 * The machine's TLBs (ref §6; docs/semantics.md "TLBs and invalidation"): translations really are
 * cached per logical processor, and every required invalidation really removes what it must.
 * A stale result before the invalidation is the machine's documented choice (allowed by the SDM);
 * the result after it is required by the SDM.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../../src/hw/machine.js';
import { normalizeConfig, type MachineConfig } from '../../../src/hw/config.js';
import type { Op } from '../../../src/trace/ops.js';
import type { Outcome } from '../../../src/hw/outcome.js';
import { LAYOUT, ScenarioBuilder } from '../../vectors/builder.js';
import { PTE_A, PTE_D, PTE_G, PTE_P, PTE_RW } from '../../../src/hw/bits.js';

const LA = LAYOUT.dataLa;
const GPA = LAYOUT.dataGpa;
const EPTP = BigInt(LAYOUT.eptRoot) | 0x5en;
const LEAF = BigInt(PTE_P | PTE_RW | PTE_A | PTE_D);

class Rig {
  readonly m: Machine;
  readonly hpa: number;
  constructor(opts: { global?: boolean; eptPerms?: bigint; config?: MachineConfig } = {}) {
    const b = new ScenarioBuilder({});
    this.hpa = b.dataFrame();
    b.eptMap(GPA, this.hpa, opts.eptPerms ?? 7n);
    b.guestMap(LA, GPA, LEAF | (opts.global ? BigInt(PTE_G) : 0n));
    this.m = new Machine(opts.config ?? normalizeConfig({}));
    for (const op of b.ops) expect(this.m.apply(op)).toEqual({ kind: 'ok' });
    // cpu 1 shares the tables: same EPTP and CR3.
    const cr3 = b.guestTableGpa(LA, 4);
    this.do({ op: 'set_eptp', cpu: 1, value: EPTP });
    this.do({ op: 'set_reg', cpu: 1, reg: 'cr3', value: BigInt(cr3) });
    this.do({ op: 'phys_write', hpa: this.hpa, size: 8, value: 0x1122n });
  }
  do(op: Op): Outcome { return this.m.apply(op); }
  read(cpu = 0): Outcome { return this.m.apply({ op: 'read', cpu, la: LA, size: 8 }); }
  clearPte(): void { expect(this.do({ op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: 0n })).toEqual({ kind: 'ok' }); }
  clearEpt(): void { expect(this.do({ op: 'ept_set', cpu: 0, gpa: GPA, level: 1, entry: 0n })).toEqual({ kind: 'ok' }); }
}

const DATA: Outcome = { kind: 'data', value: 0x1122n };
const PF_NP: Outcome = { kind: 'pf', code: 0, cr2: LA };

describe('machine TLBs', () => {
  it('cache per logical processor: a stale entry serves cpu 0 until INVLPG; cpu 1 never cached it', () => {
    const r = new Rig();
    expect(r.read()).toEqual(DATA);
    r.clearPte();
    expect(r.read(1)).toEqual(PF_NP);
    expect(r.read()).toEqual(DATA);
    expect(r.do({ op: 'invlpg', cpu: 1, la: LA })).toEqual({ kind: 'ok' });
    expect(r.read()).toEqual(DATA); // another processor's INVLPG does not reach cpu 0
    r.do({ op: 'invlpg', cpu: 0, la: LA });
    expect(r.read()).toEqual(PF_NP);
  });

  it('MOV CR3 drops non-global entries and keeps global ones; a CR4.PGE change drops both', () => {
    for (const global of [false, true]) {
      const r = new Rig({ global });
      r.do({ op: 'set_reg', cpu: 0, reg: 'cr4', value: 0xa0n }); // PAE | PGE
      expect(r.read()).toEqual(DATA);
      r.clearPte();
      r.do({ op: 'set_reg', cpu: 0, reg: 'cr3', value: BigInt(r.m.vcpus[0].cr3) });
      expect(r.read()).toEqual(global ? DATA : PF_NP);
      r.do({ op: 'set_reg', cpu: 0, reg: 'cr4', value: 0x20n });
      expect(r.read()).toEqual(PF_NP);
    }
  });

  it('INVVPID: type 0 (address), 1 (context), 2 (all), 3 (context, globals kept); another VPID is untouched', () => {
    const cases: Array<[Op, Outcome, boolean]> = [
      [{ op: 'invvpid', cpu: 0, type: 0, vpid: 1, la: BigInt(LA) }, PF_NP, false],
      [{ op: 'invvpid', cpu: 0, type: 0, vpid: 1, la: BigInt(LA + 0x1000) }, DATA, false],
      [{ op: 'invvpid', cpu: 0, type: 1, vpid: 1, la: 0n }, PF_NP, false],
      [{ op: 'invvpid', cpu: 0, type: 1, vpid: 2, la: 0n }, DATA, false],
      [{ op: 'invvpid', cpu: 0, type: 2, vpid: 0, la: 0n }, PF_NP, false],
      [{ op: 'invvpid', cpu: 0, type: 3, vpid: 1, la: 0n }, PF_NP, false],
      [{ op: 'invvpid', cpu: 0, type: 3, vpid: 1, la: 0n }, DATA, true],
    ];
    for (const [op, after, global] of cases) {
      const r = new Rig({ global });
      if (global) r.do({ op: 'set_reg', cpu: 0, reg: 'cr4', value: 0xa0n });
      expect(r.read()).toEqual(DATA);
      r.clearPte();
      expect(r.do(op)).toEqual({ kind: 'ok' });
      expect(r.read()).toEqual(after);
    }
  });

  it('INVVPID keeps guest-physical mappings; INVEPT single-context and all-context drop them', () => {
    for (const invept of [{ type: 1, eptp: EPTP }, { type: 2, eptp: 0n }]) {
      const r = new Rig();
      expect(r.read()).toEqual(DATA);
      r.clearEpt();
      r.do({ op: 'invvpid', cpu: 0, type: 1, vpid: 1, la: 0n });
      expect(r.read()).toEqual(DATA); // the walk reaches the final GPA through the cached guest-physical mapping
      expect(r.do({ op: 'invept', cpu: 0, ...invept })).toEqual({ kind: 'ok' });
      const o = r.read();
      expect(o.kind === 'exit' && o.reason === 48 && o.gpa === GPA).toBe(true);
    }
  });

  it('INVEPT single-context with another EPTP leaves this EP4TA alone', () => {
    const r = new Rig();
    expect(r.read()).toEqual(DATA);
    r.clearEpt();
    r.do({ op: 'invept', cpu: 0, type: 1, eptp: 0x20005en });
    expect(r.read()).toEqual(DATA);
  });

  it('a #PF drops the faulting page\'s entry: no stale hit afterwards', () => {
    const r = new Rig();
    expect(r.read()).toEqual(DATA);
    r.clearPte();
    r.do({ op: 'set_reg', cpu: 0, reg: 'cpl', value: 3n }); // supervisor page: the cached entry denies, re-walk faults
    expect(r.read()).toEqual({ kind: 'pf', code: 4, cr2: LA });
    r.do({ op: 'set_reg', cpu: 0, reg: 'cpl', value: 0n });
    expect(r.read()).toEqual(PF_NP);
  });

  it('an EPT violation drops the guest-physical mapping of its GPA', () => {
    const r = new Rig({ eptPerms: 3n }); // RW, not executable
    expect(r.read()).toEqual(DATA);
    const o = r.do({ op: 'fetch', cpu: 0, la: LA, size: 1 });
    expect(o.kind === 'exit' && o.reason === 48).toBe(true);
    r.clearEpt();
    const after = r.read();
    expect(after).toEqual({ kind: 'exit', reason: 48, qual: 0x581, gpa: GPA, gla: LA }); // RD|GLA|XLAT|writable: not present, so no permission bits
  });

  it('INVEPT / INVVPID operand checks give VM-instruction error 28', () => {
    const r = new Rig();
    const fail = { kind: 'vmfail', error: 28 };
    expect(r.do({ op: 'invept', cpu: 0, type: 0, eptp: EPTP })).toEqual(fail);
    expect(r.do({ op: 'invept', cpu: 0, type: 3, eptp: EPTP })).toEqual(fail);
    expect(r.do({ op: 'invept', cpu: 0, type: 1, eptp: 0x100026n })).toEqual(fail); // 5-level walk
    expect(r.do({ op: 'invvpid', cpu: 0, type: 4, vpid: 1, la: 0n })).toEqual(fail);
    for (const type of [0, 1, 3]) expect(r.do({ op: 'invvpid', cpu: 0, type, vpid: 0, la: 0n })).toEqual(fail);
    expect(r.do({ op: 'invvpid', cpu: 0, type: 0, vpid: 1, la: 0x0000800000000000n })).toEqual(fail);
    expect(r.do({ op: 'invvpid', cpu: 0, type: 0, vpid: 1, la: 0xffff800000000000n })).toEqual({ kind: 'ok' });
    const noTypes = new Rig({ config: normalizeConfig({ caps: { inveptSingle: false, invvpidTypes: [false, true, true, true] } }) });
    expect(noTypes.do({ op: 'invept', cpu: 0, type: 1, eptp: EPTP })).toEqual(fail);
    expect(noTypes.do({ op: 'invvpid', cpu: 0, type: 0, vpid: 1, la: 0n })).toEqual(fail);
  });
});
