/**
 * `OUT/rule-coverage.json`, read for the report: which of the reference model's rules a campaign
 * made fire, and how often. The campaign writes it (src/fuzz/rule-coverage.ts); this module only
 * reads and merges it.
 * Format (version 1):
 *   {"format": "eptfuzz-rule-coverage", "version": 1,
 *    "rules": [{"id": string, "mechanism": string, "source": string, "hits": integer >= 0,
 *               "unreachable"?: string (why the default generator cannot reach it)}],
 *    "extra": {name: {key: integer}}   (other tallies: exit reasons, #PF codes, ...; optional)}
 * Contract: an absent file reads as null; a file that is there but does not follow the format is
 * refused with a ReportInputError naming the file and the first problem. Merging shards sums hits
 * per rule id (and per extra key); a rule is unreachable when any shard says so and none hit it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ReportInputError } from './input-error.js';

export const RULE_COVERAGE_FILE = 'rule-coverage.json';
export const RULE_COVERAGE_FORMAT = 'eptfuzz-rule-coverage';

export interface RuleHits {
  id: string;
  mechanism: string;
  source: string;
  hits: number;
  unreachable?: string;
}

export interface RuleCoverage {
  rules: RuleHits[];
  extra: Record<string, Record<string, number>>;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Validates a parsed file; `file` names it in errors. */
export function parseRuleCoverage(file: string, raw: unknown): RuleCoverage {
  const bad = (what: string): never => { throw new ReportInputError(`${file}: ${what}`); };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('expected a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.format !== RULE_COVERAGE_FORMAT) bad(`"format" must be "${RULE_COVERAGE_FORMAT}", got ${JSON.stringify(r.format)}`);
  if (r.version !== 1) bad(`"version" ${JSON.stringify(r.version)} is not one this eptfuzz reads (1)`);
  if (!Array.isArray(r.rules)) bad('"rules" must be an array');
  const rules: RuleHits[] = [];
  const ids = new Set<string>();
  (r.rules as unknown[]).forEach((x, i) => {
    if (typeof x !== 'object' || x === null) bad(`rules[${i}]: expected an object`);
    const e = x as Record<string, unknown>;
    for (const k of ['id', 'mechanism', 'source'] as const) {
      if (typeof e[k] !== 'string' || (e[k] as string).length === 0) bad(`rules[${i}].${k}: expected a non-empty string`);
    }
    if (!isCount(e.hits)) bad(`rules[${i}].hits: expected a whole number >= 0, got ${JSON.stringify(e.hits)}`);
    if (e.unreachable !== undefined && typeof e.unreachable !== 'string') bad(`rules[${i}].unreachable: expected a string (the reason)`);
    const id = e.id as string;
    if (ids.has(id)) bad(`rules[${i}].id: '${id}' appears twice`);
    ids.add(id);
    const rule: RuleHits = { id, mechanism: e.mechanism as string, source: e.source as string, hits: e.hits as number };
    if (typeof e.unreachable === 'string') rule.unreachable = e.unreachable;
    rules.push(rule);
  });
  const extra: RuleCoverage['extra'] = {};
  if (r.extra !== undefined) {
    if (typeof r.extra !== 'object' || r.extra === null || Array.isArray(r.extra)) bad('"extra" must be an object');
    for (const [name, tally] of Object.entries(r.extra as Record<string, unknown>)) {
      if (typeof tally !== 'object' || tally === null || Array.isArray(tally)) bad(`extra.${name}: expected an object of counts`);
      const counts: Record<string, number> = {};
      for (const [k, v] of Object.entries(tally as Record<string, unknown>)) {
        if (!isCount(v)) bad(`extra.${name}.${k}: expected a whole number >= 0`);
        counts[k] = v as number;
      }
      extra[name] = counts;
    }
  }
  return { rules, extra };
}

/** `dir/rule-coverage.json`, or null when absent. */
export function readRuleCoverage(dir: string): RuleCoverage | null {
  const file = path.join(dir, RULE_COVERAGE_FILE);
  if (!fs.existsSync(file)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new ReportInputError(`${file}: not JSON (${(e as Error).message.split('\n')[0]})`);
  }
  return parseRuleCoverage(file, raw);
}

/** Shards merged: hits summed per rule and per extra key; rule order is the first file's, then new ids. */
export function mergeRuleCoverage(parts: readonly RuleCoverage[]): RuleCoverage | null {
  if (parts.length === 0) return null;
  const byId = new Map<string, RuleHits>();
  const extra: RuleCoverage['extra'] = {};
  for (const p of parts) {
    for (const r of p.rules) {
      const have = byId.get(r.id);
      if (have === undefined) { byId.set(r.id, { ...r }); continue; }
      have.hits += r.hits;
      if (have.unreachable === undefined && r.unreachable !== undefined) have.unreachable = r.unreachable;
    }
    for (const [name, tally] of Object.entries(p.extra)) {
      const into = (extra[name] ??= {});
      for (const [k, v] of Object.entries(tally)) into[k] = (into[k] ?? 0) + v;
    }
  }
  for (const r of byId.values()) if (r.hits > 0) delete r.unreachable;
  return { rules: [...byId.values()], extra };
}

/** Per mechanism: rules, rules hit, rules declared unreachable. */
export function mechanismShares(c: RuleCoverage): Array<{ mechanism: string; rules: number; hit: number; unreachable: number }> {
  const m = new Map<string, { mechanism: string; rules: number; hit: number; unreachable: number }>();
  for (const r of c.rules) {
    const row = m.get(r.mechanism) ?? { mechanism: r.mechanism, rules: 0, hit: 0, unreachable: 0 };
    row.rules++;
    if (r.hits > 0) row.hit++;
    else if (r.unreachable !== undefined) row.unreachable++;
    m.set(r.mechanism, row);
  }
  return [...m.values()];
}
