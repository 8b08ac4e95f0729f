/**
 * Rule coverage through the hub's hash (src/hub/hub-rules.ts): a block's counts under the names
 * RuleCoverage.toFields gives, added back with addFields, are the file a local campaign's merge of
 * the same reports writes (rules, #PF codes, qualification patterns, exit reasons, findings by
 * invariant); a name this build does not know is left out.
 */
import { describe, expect, it } from 'vitest';
import { RuleCoverage } from '../../../src/fuzz/rule-coverage.js';
import { blockRuleFields } from '../../../src/hub/hub-rules.js';
import { RULES } from '../../../src/model/rules.js';

const PF = RULES.length;
const QUAL = PF + 128;
const EXIT = QUAL + 4096;

const reports = [
  { rules: [0, 2, 5, 1, PF + 0x5, 1, QUAL + 0x181, 1, EXIT + 48, 1], failure: null },
  { rules: [5, 3, PF + 0x7, 2, EXIT + 48, 2, EXIT + 66, 1], failure: { signature: { invariant: 'fault.exit-reason', op: 'access', detail: 'x' }, step: 3, detail: 'x' } },
  { rules: [], failure: { signature: { invariant: 'fault.exit-reason', op: 'access', detail: 'y' }, step: 1, detail: 'y' } },
] as const;

describe('hub rule coverage', () => {
  it('the hash names of a block add up to the local merge of its reports', () => {
    const local = new RuleCoverage('bare');
    for (const r of reports) {
      local.add([...r.rules]);
      if (r.failure !== null) local.addFinding(r.failure.signature.invariant);
    }
    const fields = blockRuleFields(reports as never);
    const pairs: Array<[string, number]> = [];
    for (let i = 0; i < fields.length; i += 2) pairs.push([fields[i], Number(fields[i + 1])]);
    expect(pairs).toEqual([[RULES[0].id, 2], [RULES[5].id, 4], ['pf:5', 1], ['pf:7', 2], ['qual:385', 1], ['exit:48', 3], ['exit:66', 1], ['finding:fault.exit-reason', 2]]);
    const back = new RuleCoverage('bare');
    back.addFields([...pairs, ['no.such.rule', 9], ['pf:999', 1]]);
    expect(back.toJson()).toEqual(local.toJson());
  });
});
