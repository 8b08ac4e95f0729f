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
import type { Outcome } from '../hw/outcome.js';
import type { Candidate } from '../spec/api.js';
import { hvResultName, hvRuleOf } from '../spec/hv/rules.js';
import { NO_RULE, ruleInfo } from '../spec/rules.js';
import { pfCodeNames } from './decode.js';

/** Ops that are guest accesses: one signature class (a defect shows on reads, writes and fetches alike). */
export function opClass(op: string): string {
  return op === 'read' || op === 'write' || op === 'fetch' ? 'access' : op;
}

/** Hardware ops whose outcomes the bare model labels itself (in hv mode the hv catalogue labels them). */
const HV_OPS_SHARED = new Set(['read', 'write', 'fetch', 'set_reg', 'invlpg']);

/** The numeric rule of a model candidate: its own label, else the hv catalogue's for its outcome. */
export function ruleOfCandidate(op: string, c: Candidate): number {
  if (c.rule !== undefined && c.rule !== NO_RULE) return c.rule;
  return isHvOutcome(c.outcome) || !HV_OPS_SHARED.has(op) ? hvRuleOf(op, c.outcome) : NO_RULE;
}

function isHvOutcome(o: Outcome): boolean {
  return o.kind === 'ret' || o.kind === 'handled' || o.kind === 'hv_exit' || o.kind === 'ud';
}

/** The signature group of a numeric rule ('none' when unlabelled). */
export function ruleGroup(n: number): string {
  return ruleInfo(n)?.group ?? 'none';
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
    case 'handled': return o.then.kind === 'pf' ? 'handled pf' : 'handled';
    case 'hv_exit': return `hv_exit ${o.exit}`;
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
  if (a.kind === 'handled' && b.kind === 'handled') return a.exits.join(',') !== b.exits.join(',') ? 'exits taken' : fieldDifference(a.then, b.then);
  if (a.kind === 'hv_exit' && b.kind === 'hv_exit') return a.gpa !== b.gpa ? 'gpa' : a.size !== b.size ? 'size' : a.info !== b.info ? 'info' : 'exits taken';
  if (a.kind === 'data' || a.kind === 'ret') return 'value';
  return 'fields';
}
