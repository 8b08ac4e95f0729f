/**
 * The rule of a hv-mode outcome: the op's result (a transition, an error path, or the way a guest
 * access ended), looked up in the catalogue's HV_OP_RESULTS (src/model/rules.ts).
 * Contract: pure, total: a result the catalogue does not list maps to RULE_HV_UNLISTED (rule
 * coverage reports it), never throws. Both the hv model's allowed outcomes and the machine's
 * actual outcome are labelled by this one function, so they are classified the same way.
 */
import type { Outcome } from '../../hw/outcome.js';
import { HV_ERRNO_RESULT, HV_RULE, HV_STATUS_RESULT, RULE_HV_UNLISTED } from '../rules.js';

/** The result name of `outcome` for op kind `op` (the key of HV_OP_RESULTS[op].results). */
export function hvResultName(op: string, outcome: Outcome): string {
  switch (outcome.kind) {
    case 'ret':
      if (op === 'vtl_protect') return HV_STATUS_RESULT[outcome.value] ?? `status${outcome.value}`;
      return outcome.value >= 0 ? 'ok' : HV_ERRNO_RESULT[-outcome.value] ?? `errno${-outcome.value}`;
    case 'handled': return outcome.then.kind === 'pf' ? 'handled-pf' : 'handled';
    case 'hv_exit': return outcome.exit;
    case 'data': return 'ok';
    default: return outcome.kind;
  }
}

/** The numeric rule of a hv-mode outcome (RULE_HV_UNLISTED for a result the catalogue lacks). */
export function hvRuleOf(op: string, outcome: Outcome): number {
  return BY_OP.get(op)?.get(hvResultName(op, outcome)) ?? RULE_HV_UNLISTED;
}

/** HV_RULE as op -> result -> rule (no string built per lookup). */
const BY_OP: ReadonlyMap<string, ReadonlyMap<string, number>> = (() => {
  const m = new Map<string, Map<string, number>>();
  for (const [key, n] of HV_RULE) {
    const dot = key.indexOf('.');
    const op = key.slice(0, dot);
    let r = m.get(op);
    if (r === undefined) m.set(op, (r = new Map()));
    r.set(key.slice(dot + 1), n);
  }
  return m;
})();
