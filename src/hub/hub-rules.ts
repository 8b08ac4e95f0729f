/**
 * Rule coverage of a hub campaign: the local campaign's OUT/rule-coverage.json (src/fuzz/rule-coverage.ts)
 * summed over the merged runs of every machine.
 * Contract: the commit of block k (hub-merger.ts) adds the rule counts of block k's runs, summed as
 * a local campaign's merge sums them (each run's rule pairs, and one finding per failing run by its
 * invariant), to the campaign's `rules` hash under the names RuleCoverage.toFields gives (rule ids,
 * `pf:N`, `qual:N`, `exit:N`, `finding:INVARIANT`): committed once with the record, so the hash is
 * the local campaign's totals over the same runs whichever machines ran and merged what.
 * `hubRuleCoverage` reads it back as the file a local campaign writes.
 */
import type { RunReport } from '../fuzz/protocol.js';
import { RuleCoverage, type RuleCoverageFile } from '../fuzz/rule-coverage.js';
import type { Hub } from './hub-connection.js';
import type { CampaignKeys } from './hub-keys.js';
import type { HubMeta } from './hub-campaign.js';

/** A block's rule counts as the commit script takes them: name, count, name, count, ... */
export function blockRuleFields(reports: readonly Pick<RunReport, 'rules' | 'failure'>[]): string[] {
  const cov = new RuleCoverage();
  for (const rep of reports) {
    cov.add(rep.rules);
    if (rep.failure !== null) cov.addFinding(rep.failure.signature.invariant);
  }
  return cov.toFields().flatMap(([name, n]) => [name, String(n)]);
}

/** Lua adding the (name, count) pairs ARGV[from..] to hash `key` (a fragment of a commit script). */
export function ruleFieldsLua(key: string, from: string): string {
  return `for j = ${from}, #ARGV - 1, 2 do redis.call('HINCRBY', ${key}, ARGV[j], ARGV[j + 1]) end`;
}

/** The campaign's rule coverage as the file a local campaign writes (its mode's rules counted). */
export async function hubRuleCoverage(hub: Hub, keys: CampaignKeys, meta: HubMeta): Promise<RuleCoverageFile> {
  const raw = await hub.redis.hgetall(keys.rules);
  const cov = new RuleCoverage(meta.spec.mode);
  cov.addFields(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  return cov.toJson();
}
