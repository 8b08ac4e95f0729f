/**
 * The rule catalogue as text: the Markdown table in docs/rules.md (kept equal to this by
 * test/unit/model/rules.spec.ts) and the lines `eptfuzz rules` prints.
 * Contract: pure; one row per rule of src/model/rules.ts, in catalogue order.
 */
import { RULES, type RuleInfo } from './rules.js';

const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** The catalogue as one Markdown table (id, mode, mechanism, meaning, source, signature group). */
export function rulesMarkdownTable(rules: readonly RuleInfo[] = RULES): string {
  const lines = ['| id | mode | mechanism | meaning | source | signature group |', '|---|---|---|---|---|---|'];
  for (const r of rules) {
    const meaning = r.unreachable !== undefined ? `${r.meaning} (coverage: ${r.unreachable})` : r.meaning;
    lines.push(`| \`${r.id}\` | ${r.mode} | ${r.mechanism} | ${cell(meaning)} | ${cell(r.source)} | ${r.group === r.id ? '' : `\`${r.group}\``} |`);
  }
  return lines.join('\n') + '\n';
}

/** One line per rule: id, mechanism, meaning, source. */
export function rulesText(rules: readonly RuleInfo[] = RULES): string {
  const w = Math.max(...rules.map((r) => r.id.length));
  return rules.map((r) => `${r.id.padEnd(w)}  [${r.mode} ${r.mechanism}]  ${r.meaning}  — ${r.source}`).join('\n') + '\n';
}
