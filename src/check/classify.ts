/**
 * Outcomes in rule terms, for failure signatures, `explain` and rule coverage.
 * Contract: pure and value-free: `outcomeClass` names what kind of thing an outcome is (the
 * machine's outcome is classified the same way as the model's: a completed access, a #PF by its
 * cause bits, an EPT violation or misconfiguration, an SPP miss or misconfiguration, a hv result),
 * `fieldDifference` names which field groups of two outcomes of one class differ, never values.
 */
import {
  EXIT_EPT_MISCONFIG, EXIT_EPT_VIOLATION, EXIT_SPP, PF_P, PF_PK, PF_RSVD, QUAL_ADV_USER, QUAL_ADV_WRITABLE,
  QUAL_ADV_XD, QUAL_FETCH, QUAL_GLA_VALID, QUAL_PR, QUAL_PUX, QUAL_PW, QUAL_PX, QUAL_RD, QUAL_WR, QUAL_XLAT, SPP_QUAL_MISS,
} from '../hw/bits.js';
import { pageDiff, type Outcome } from '../hw/outcome.js';
import type { AccessStages, Candidate } from '../model/api.js';
import { hvResultName, hvRuleOf } from '../model/hv/rules.js';
import { NO_RULE, RULE, ruleInfo } from '../model/rules.js';
import { pfCodeNames } from './decode.js';

/** Ops that are guest accesses: one signature class (a defect shows on reads, writes and fetches alike). */
export function opClass(op: string): string {
  return op === 'read' || op === 'write' || op === 'fetch' ? 'access' : op;
}

/**
 * The numeric rule of a model candidate: its own label (the bare model labels every candidate),
 * else, for a candidate without one (the hv model's), the hv catalogue's for its outcome.
 */
export function ruleOfCandidate(op: string, c: Candidate): number {
  if (c.rule !== undefined) return c.rule;
  return hvRuleOf(op, c.outcome);
}

const NO_STAGES: AccessStages = { rightsStage: NO_RULE, keyStage: NO_RULE, keyOtherDenies: false };

/**
 * The stage rules of the part in dispute: the part a #PF names (the target's, else the model's)
 * when the candidate has them per part (NO_RULE when the model's walk of that part never reached
 * the rights check: the model stopped before it), else the first part's.
 */
export function stagesInDispute(c: Candidate, actual: Outcome): AccessStages {
  const expected = c.outcome;
  const cr2 = actual.kind === 'pf' ? actual.cr2 : expected.kind === 'pf' ? expected.cr2 : null;
  if (cr2 !== null && c.stagesAt !== undefined) return c.stagesAt(Math.floor(cr2 / 4096)) ?? NO_STAGES;
  return { rightsStage: c.rightsStage ?? NO_RULE, keyStage: c.keyStage ?? NO_RULE, keyOtherDenies: c.keyOtherDenies ?? false };
}

/** The key-stage rule in dispute (see `disputedRule`), or NO_RULE when the two sides agree on keys. */
export function keyDispute(c: Candidate, actual: Outcome): number {
  const st = stagesInDispute(c, actual);
  const key = st.keyStage;
  if (key === NO_RULE) return NO_RULE;
  const expected = c.outcome;
  const aPk = actual.kind === 'pf' && (actual.code & PF_PK) !== 0;
  // The model's PK applies to the page it faulted on: a target #PF on another page of a
  // page-crossing access disputes that page's verdict, which the model let through.
  const otherPage = actual.kind === 'pf' && expected.kind === 'pf' && Math.floor(actual.cr2 / 4096) !== Math.floor(expected.cr2 / 4096);
  const ePk = expected.kind === 'pf' && (expected.code & PF_PK) !== 0 && !otherPage;
  const exemption = key === RULE.pkFetch || key === RULE.pkruWdWp0 || key === RULE.pksWdWp0;
  if (aPk === ePk && !(aPk && exemption)) return NO_RULE;
  // The model's #PF has PK and an ordinary rights denial too: the target dropped PK for that.
  const rights = st.rightsStage;
  if (ePk && !aPk && actual.kind === 'pf' && rights !== NO_RULE && rights !== RULE.rightsAllow && isDenial(rights)) return RULE.pkWithOrdinary;
  if (!exemption && st.keyOtherDenies === aPk) return RULE.pkRegister;
  return key;
}

/**
 * The other explanation of a key-stage dispute that `keyDispute` files under an exemption rule
 * (WD with CR0.WP = 0, fetches): pk.register-by-address when the other register's verdict is
 * exactly what the target did, else NO_RULE. Both fit: a target that ignores the exemption and
 * one that reads the other register give the same outcome there.
 */
export function keyRegisterAlternative(c: Candidate, actual: Outcome): number {
  const key = keyDispute(c, actual);
  if (key !== RULE.pkFetch && key !== RULE.pkruWdWp0 && key !== RULE.pksWdWp0) return NO_RULE;
  const aPk = actual.kind === 'pf' && (actual.code & PF_PK) !== 0;
  return stagesInDispute(c, actual).keyOtherDenies === aPk ? RULE.pkRegister : NO_RULE;
}

/** Whether a rights-stage rule is an ordinary denial (not an exemption). */
function isDenial(rule: number): boolean {
  return rule === RULE.usUser || rule === RULE.rwUser || rule === RULE.rwSupWp || rule === RULE.smapData || rule === RULE.xdFetch || rule === RULE.smepFetch;
}

/**
 * The rule in dispute when the target's `actual` differs from the model's candidate `c` (outcome
 * `expected`), by the stage where they part (src/model/access.ts stage rules):
 * - the key stage, when exactly one side has PK, or the target has PK where the model let a
 *   key exemption through (WD with CR0.WP = 0, fetches): the model's key rule there, or
 *   pk.register-by-address when the other register's verdict is what the target did;
 * - the rights stage, when the target took a #PF without PK where the model went past the
 *   guest walk (an EPT exit, SPP, XO or completion) of the part the #PF names: the model's rights
 *   rule (an exemption, or paging.rights.allow); a #PF on a part the model never walked (it
 *   stopped at an EPT exit of an earlier part) disputes that stop's rule;
 * Stages are those of the part a #PF names (`stagesInDispute`).
 * - else the rule that produced the model's outcome.
 */
export function disputedRule(op: string, c: Candidate, actual: Outcome): number {
  const expected = c.outcome;
  const key = keyDispute(c, actual);
  if (key !== NO_RULE) return key;
  const rights = stagesInDispute(c, actual).rightsStage;
  if (rights !== NO_RULE && actual.kind === 'pf' && (actual.code & PF_PK) === 0 && expected.kind !== 'pf') return rights;
  return ruleOfCandidate(op, c);
}

/** The signature group of a numeric rule ('none' when unlabelled). */
export function ruleGroup(n: number): string {
  return ruleInfo(n)?.group ?? 'none';
}

/**
 * The signature group of a rule whose application itself is in dispute (the target's outcome is
 * of another class): the EPT violation checks by access kind (a walk that skips the EPT write
 * check of A/D updates and an SPP lookup on an unreadable page are two defects), else `ruleGroup`.
 */
export function classDisputeGroup(n: number): string {
  const info = ruleInfo(n);
  return info?.classGroup ?? info?.group ?? 'none';
}

/** What kind of outcome `o` is, in the catalogue's terms (op kind `op` names hv results). */
export function outcomeClass(op: string, o: Outcome): string {
  switch (o.kind) {
    case 'ok': case 'data': return 'completes';
    case 'pf':
      if ((o.code & PF_P) === 0) return 'pf not-present';
      if ((o.code & PF_RSVD) !== 0) return 'pf rsvd';
      return (o.code & PF_PK) !== 0 ? 'pf pk' : 'pf protection';
    case 'exit':
      if (o.reason === EXIT_EPT_VIOLATION) return 'ept violation';
      if (o.reason === EXIT_EPT_MISCONFIG) return 'ept misconfig';
      if (o.reason === EXIT_SPP) return (o.qual & SPP_QUAL_MISS) !== 0 ? 'spp miss' : 'spp misconfig';
      return `exit ${o.reason}`;
    case 'vmfail': return `vmfail ${o.error}`;
    case 'gp': case 'noent': case 'ud': return o.kind;
    case 'ret': return `ret ${hvResultName(op, o)}`;
    // an access the hypervisor resolved: what the guest finally saw (the exits are a field)
    case 'handled': return o.then.kind === 'pf' ? outcomeClass(op, o.then) : 'completes';
    case 'hv_exit': return `hv_exit ${o.exit}`;
    case 'page': return 'page state';
  }
}

/** EPT-violation qualification bits by group (SDM Vol. 3C "Exit Qualification for EPT Violations"). */
const QUAL_GROUPS: ReadonlyArray<[number, string]> = [
  [QUAL_RD | QUAL_WR | QUAL_FETCH, 'access bits'],
  [QUAL_PR | QUAL_PW | QUAL_PX | QUAL_PUX, 'rights bits'],
  [QUAL_GLA_VALID | QUAL_XLAT, 'gla/xlat bits'],
  [QUAL_ADV_USER | QUAL_ADV_WRITABLE | QUAL_ADV_XD, 'advanced bits'],
];

/**
 * Which field groups of `a` and `b` (same class) differ: for a #PF the error-code bits by name
 * (or cr2), for an EPT violation the qualification groups (or gpa, gla), else the field names.
 */
export function fieldDifference(a: Outcome, b: Outcome): string {
  if (a.kind === 'pf' && b.kind === 'pf') {
    const diff = (a.code ^ b.code) >>> 0;
    return diff !== 0 ? `error code ${pfCodeNames(diff)}` : 'cr2';
  }
  if (a.kind === 'exit' && b.kind === 'exit') {
    const diff = (a.qual ^ b.qual) >>> 0;
    if (diff !== 0) {
      if (a.reason !== EXIT_EPT_VIOLATION) return 'qualification';
      const out: string[] = [];
      let known = 0;
      for (const [mask, name] of QUAL_GROUPS) {
        known |= mask;
        if ((diff & mask) !== 0) out.push(name);
      }
      if ((diff & ~known) !== 0) out.push('other qualification bits');
      return out.join(', ');
    }
    return a.gpa !== b.gpa ? 'gpa' : a.gla !== b.gla ? 'gla' : 'fields';
  }
  // The hardware exits an access took on the way (which reasons, how many) are one field: one
  // defect in what the hypervisor maps changes them in many ways (the detail line lists both).
  if (a.kind === 'handled' && b.kind === 'handled') return a.exits.join(',') !== b.exits.join(',') ? 'exits taken' : fieldDifference(a.then, b.then);
  if (a.kind === 'hv_exit' && b.kind === 'hv_exit') return a.gpa !== b.gpa ? 'gpa' : a.size !== b.size ? 'size' : a.info !== b.info ? 'info' : 'exits taken';
  if ((a.kind === 'handled') !== (b.kind === 'handled')) return 'exits taken';
  if (a.kind === 'data' || a.kind === 'ret') return 'value';
  // hv_query: the page-view fields by name (a leaked pool page and a wrong owner are two defects);
  // the memory cache's two views of a page, the caches that hold it and the tables built from it,
  // are one field (one defect in what a cache holds changes either or both).
  if (a.kind === 'page' && b.kind === 'page') return [...new Set(pageDiff(a.page, b.page).map((f) => (f === 'cacheTables' ? 'cache' : f)))].join(', ') || 'fields';
  return 'fields';
}
