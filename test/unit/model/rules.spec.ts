/**
 * The rule catalogue: stable unique ids, docs/rules.md in step with it, the model labelling its
 * outcomes where it decides them, and the rule in dispute of a disagreement (src/check/classify.ts).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PF_P, PF_PK, PF_W, PTE_A, PTE_D, PTE_P, PTE_RW } from '../../../src/hw/bits.js';
import type { Outcome } from '../../../src/hw/outcome.js';
import type { Candidate } from '../../../src/model/api.js';
import { ReferenceModel } from '../../../src/model/model.js';
import { rulesMarkdownTable } from '../../../src/model/rules-doc.js';
import { HV_OP_RESULTS, NO_RULE, RULE, RULES, ruleId, ruleNumber } from '../../../src/model/rules.js';
import { hvRuleOf } from '../../../src/model/hv/rules.js';
import { disputedRule, outcomeClass } from '../../../src/check/classify.js';
import { HV_OP_NAMES, type Op } from '../../../src/trace/ops.js';
import { LAYOUT, ScenarioBuilder } from '../../vectors/builder.js';
import { runOps } from '../../vectors/runner.js';
import { config } from '../../vectors/vector.js';

const GPA = LAYOUT.dataGpa;
const LA = LAYOUT.dataLa;
const RW_AD = BigInt(PTE_P | PTE_RW | PTE_A | PTE_D);

/** The rule id of the model's fresh candidate for the last op of `ops`. */
function ruleOfLast(ops: Op[]): string {
  const m = new ReferenceModel(config());
  runOps(m, ops.slice(0, -1));
  const s = m.step(ops[ops.length - 1]);
  return ruleId(s.allowed[0].rule ?? NO_RULE);
}

describe('rule catalogue', () => {
  it('ids are unique, every rule has a mechanism, meaning and source, and numbers round-trip', () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of RULES) {
      expect(r.meaning.length, r.id).toBeGreaterThan(10);
      expect(r.source.length, r.id).toBeGreaterThan(5);
      expect(ruleId(ruleNumber(r.id))).toBe(r.id);
    }
  });

  it('docs/rules.md lists exactly the catalogue (regenerate: eptfuzz rules --markdown)', () => {
    const doc = readFileSync(new URL('../../../docs/rules.md', import.meta.url), 'utf8');
    const table = doc.slice(doc.indexOf('## The catalogue'));
    expect(table).toContain(rulesMarkdownTable());
  });

  it('hv results are listed for real hv ops (and the hardware ops a hv trace may run)', () => {
    for (const op of Object.keys(HV_OP_RESULTS)) expect(HV_OP_NAMES.has(op) || ['read', 'write', 'fetch', 'set_reg', 'invlpg'].includes(op), op).toBe(true);
    expect(ruleId(hvRuleOf('host_share_guest', { kind: 'ret', value: -1 }))).toBe('pkvm.host_share_guest.eperm');
    expect(ruleId(hvRuleOf('vtl_protect', { kind: 'ret', value: 6 }))).toBe('vtl.vtl_protect.access_denied');
    expect(ruleId(hvRuleOf('host_share_guest', { kind: 'ret', value: -99 }))).toBe('hv.unlisted');
  });
});

describe('the model labels its outcomes', () => {
  it('register, VMX operand and path-op rules', () => {
    expect(ruleOfLast([{ op: 'set_reg', cpu: 0, reg: 'cr0', value: 1n << 32n }])).toBe('reg.cr0.gp');
    expect(ruleOfLast([{ op: 'invvpid', cpu: 0, type: 1, vpid: 0, la: 0n }])).toBe('vmx.invvpid.vmfail.vpid0');
    expect(ruleOfLast([{ op: 'invept', cpu: 0, type: 1, eptp: 0x1en }])).toBe('tlb.invept.single');
    expect(ruleOfLast([{ op: 'set_eptp', cpu: 0, value: 0x1fn }])).toBe('vmx.eptp.vmfail');
  });

  it('guest paging, rights and EPT rules at the level that decided', () => {
    const b = new ScenarioBuilder();
    b.eptMap(GPA, b.dataFrame(), 1n).guestMap(LA, GPA, RW_AD); // EPT read-only leaf
    expect(ruleOfLast([...b.ops, { op: 'write', cpu: 0, la: LA, size: 8, value: 1n }])).toBe('ept.deny.write.l1');
    expect(ruleOfLast([...b.ops, { op: 'read', cpu: 0, la: LA, size: 8 }])).toBe('access.read.complete');
    const ro = new ScenarioBuilder();
    ro.eptMap(GPA, ro.dataFrame(), 7n).guestMap(LA, GPA, BigInt(PTE_P | PTE_A | PTE_D));
    expect(ruleOfLast([...ro.ops, { op: 'write', cpu: 0, la: LA, size: 1, value: 1n }])).toBe('paging.rw.supervisor-write-wp');
    expect(ruleOfLast([...ro.ops, { op: 'set_reg', cpu: 0, reg: 'cr0', value: 0x80000001n }, { op: 'write', cpu: 0, la: LA, size: 1, value: 1n }])).toBe('paging.rw.supervisor-write-wp0');
    expect(ruleOfLast([...ro.ops, { op: 'read', cpu: 0, la: LA + 0x200000, size: 1 }])).toMatch(/^paging\.not-present\.l[12]$/);
  });
});

describe('the rule in dispute', () => {
  const pf = (code: number): Outcome => ({ kind: 'pf', code, cr2: 0 });
  const cand = (outcome: Outcome, rule: number, stages: Partial<Candidate> = {}): Candidate => ({ outcome, stale: false, frames: [], rule, ...stages });

  it('a target PK fault where the model let a WD exemption through names the exemption', () => {
    const c = cand({ kind: 'ok' }, RULE.accessWrite, { keyStage: RULE.pksWdWp0, rightsStage: RULE.rightsAllow, keyOtherDenies: false });
    expect(ruleId(disputedRule('write', c, pf(PF_P | PF_W | PF_PK)))).toBe('pk.pks.wd-wp0');
  });

  it('a PK verdict the other key register gives names pk.register-by-address', () => {
    const c = cand({ kind: 'ok' }, RULE.accessRead, { keyStage: RULE.pkruAllow, rightsStage: RULE.rightsAllow, keyOtherDenies: true });
    expect(ruleId(disputedRule('read', c, pf(PF_P | PF_PK)))).toBe('pk.register-by-address');
  });

  it('PK dropped where an ordinary denial also applies names pk.bit-with-ordinary-denial', () => {
    const c = cand(pf(PF_P | PF_PK | 4), RULE.pksAd, { keyStage: RULE.pksAd, rightsStage: RULE.usUser, keyOtherDenies: false });
    expect(ruleId(disputedRule('read', c, pf(PF_P | 4)))).toBe('pk.bit-with-ordinary-denial');
  });

  it('a target #PF where the model went on to EPT names the rights-stage rule; otherwise the outcome rule', () => {
    const exit: Outcome = { kind: 'exit', reason: 48, qual: 0x181, gpa: 0, gla: 0 };
    const c = cand(exit, RULE.eptDeny[0][1], { keyStage: RULE.pkruAllow, rightsStage: RULE.smapAc, keyOtherDenies: false });
    expect(ruleId(disputedRule('read', c, pf(PF_P)))).toBe('paging.smap.ac-override');
    expect(ruleId(disputedRule('read', c, { kind: 'exit', reason: 49, qual: 0, gpa: 0, gla: null }))).toBe('ept.deny.read.l1');
    expect(outcomeClass('read', { kind: 'exit', reason: 49, qual: 0, gpa: 0, gla: null })).toBe('ept misconfig');
  });

  it('a target #PF on a later page than the model\'s EPT exit names the exit\'s rule (the target went past the stop)', () => {
    const exit: Outcome = { kind: 'exit', reason: 48, qual: 0xab, gpa: 0, gla: 0x1201ff9 };
    const first = { keyStage: RULE.pkruAllow, rightsStage: RULE.rightsAllow, keyOtherDenies: false };
    const c = cand(exit, RULE.eptDeny[3][1], { ...first, stagesAt: (page: number) => (page === 0x1201 ? first : null) });
    expect(ruleId(disputedRule('fetch', c, { kind: 'pf', code: 0x10, cr2: 0x1202000 }))).toBe(ruleId(RULE.eptDeny[3][1]));
    expect(ruleId(disputedRule('fetch', c, { kind: 'pf', code: 0x10, cr2: 0x1201ff9 }))).toBe('paging.rights.allow');
  });

  it('a target PK #PF on the first page where the model faults on the second disputes the first page\'s verdict', () => {
    const part1 = { keyStage: RULE.pksOff, rightsStage: RULE.rightsAllow, keyOtherDenies: true };
    const part2 = { keyStage: RULE.pkruWd, rightsStage: RULE.rightsAllow, keyOtherDenies: false };
    const c = cand({ kind: 'pf', code: PF_P | PF_W | PF_PK, cr2: 0x8e3000 }, RULE.pkruWd, { ...part1, stagesAt: (page: number) => (page === 0x8e2 ? part1 : page === 0x8e3 ? part2 : null) });
    expect(ruleId(disputedRule('write', c, { kind: 'pf', code: PF_P | PF_W | PF_PK, cr2: 0x8e2fff }))).toBe('pk.register-by-address');
    expect(ruleId(disputedRule('write', c, { kind: 'pf', code: PF_P | PF_W | PF_PK, cr2: 0x8e3000 }))).toBe('pk.pkru.wd');
  });

  it('the key stage in dispute is that of the part the #PF names (a split read whose second page is supervisor)', () => {
    // Part 1: a user page whose key allows; part 2: a supervisor page (U/S #PF) whose key PKRU would deny.
    const part1 = { keyStage: RULE.pkruAllow, rightsStage: RULE.rightsAllow, keyOtherDenies: false };
    const part2 = { keyStage: RULE.pksOff, rightsStage: RULE.usUser, keyOtherDenies: true };
    const c = cand({ kind: 'pf', code: PF_P | 4, cr2: 0xb98000 }, RULE.usUser, { ...part1, stagesAt: (page: number) => (page === 0xb97 ? part1 : page === 0xb98 ? part2 : null) });
    expect(ruleId(disputedRule('read', c, { kind: 'pf', code: PF_P | 4 | PF_PK, cr2: 0xb98000 }))).toBe('pk.register-by-address');
    const { stagesAt: _unused, ...firstOnly } = c;
    expect(ruleId(disputedRule('read', firstOnly, { kind: 'pf', code: PF_P | 4 | PF_PK, cr2: 0xb98000 }))).not.toBe('pk.register-by-address');
  });
});
