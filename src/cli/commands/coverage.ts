/**
 * `eptfuzz coverage [OUT...] [--hub URL --campaign NAME]`: the rule coverage of one campaign or
 * several shards (summed), a hub campaign's included (its machines' merged runs), as a table per
 * mechanism: rules reached of those enumerated, the share, and every rule never reached, with the
 * reason when the catalogue knows it cannot be reached.
 */
import { Command } from 'commander';
import { mergeRuleCoverage, readRuleCoverage, RuleCoverageError, type RuleCoverageFile } from '../../fuzz/rule-coverage.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { readHubRuleCoverage } from './hub.js';

/** The printed table (also used by tests). */
export function formatRuleCoverage(f: RuleCoverageFile, showAll: boolean): string {
  const byMech = new Map<string, RuleCoverageFile['rules']>();
  for (const r of f.rules) {
    let l = byMech.get(r.mechanism);
    if (l === undefined) byMech.set(r.mechanism, (l = []));
    l.push(r);
  }
  const lines: string[] = [];
  lines.push(`${'mechanism'.padEnd(10)} ${'reached'.padStart(9)} ${'share'.padStart(6)}  hits`);
  let reached = 0;
  let total = 0;
  for (const [m, rules] of byMech) {
    const counted = rules.filter((r) => r.unreachable === undefined);
    const hit = counted.filter((r) => r.hits > 0).length;
    const hits = rules.reduce((a, r) => a + r.hits, 0);
    reached += hit;
    total += counted.length;
    const share = counted.length === 0 ? '-' : `${Math.round((100 * hit) / counted.length)}%`;
    lines.push(`${m.padEnd(10)} ${`${hit}/${counted.length}`.padStart(9)} ${share.padStart(6)}  ${hits}`);
  }
  lines.push(`${'all'.padEnd(10)} ${`${reached}/${total}`.padStart(9)} ${`${total === 0 ? 0 : Math.round((100 * reached) / total)}%`.padStart(6)}`);
  lines.push('');
  lines.push('never reached:');
  for (const [m, rules] of byMech) {
    for (const r of rules) {
      if (r.hits > 0) continue;
      lines.push(`  ${m.padEnd(8)} ${r.id}${r.unreachable !== undefined ? `  (unreachable: ${r.unreachable})` : ''}`);
    }
  }
  if (showAll) {
    lines.push('');
    lines.push('reached:');
    for (const r of f.rules) if (r.hits > 0) lines.push(`  ${String(r.hits).padStart(10)}  ${r.id}`);
    for (const [name, table] of Object.entries(f.extra)) {
      lines.push('');
      lines.push(`${name}:`);
      for (const [k, v] of Object.entries(table)) lines.push(`  ${String(v).padStart(10)}  ${k}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function coverageCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('coverage')
    .description('print the rule coverage of campaigns (OUT/rule-coverage.json, summed over shards): per mechanism, and the rules never reached')
    .argument('[out...]', 'stats directories of campaigns (--out), or rule-coverage.json files')
    .option('--all', 'also list every reached rule with its hits, #PF codes, qualification patterns and exit reasons')
    .option('--json', 'print the merged rule-coverage.json instead of the table')
    .option('--hub <url>', 'with --campaign: add a hub campaign\'s rule coverage (every machine\'s merged runs); redis://[:PASSWORD@]HOST[:PORT] or rediss://... (default: $EPTFUZZ_HUB)')
    .option('--campaign <name>', 'the hub campaign')
    .addHelpText('after', '\nExamples:\n  $ eptfuzz fuzz --runs 500 --out out/stats --crashes out/crashes\n  $ eptfuzz coverage out/stats\n  $ eptfuzz coverage out/stats0 out/stats1 --all\n  $ eptfuzz coverage --hub redis://:PASS@hub:6379 --campaign nightly\n')
    .action(async (dirs: string[], flags: { all?: boolean; json?: boolean; hub?: string; campaign?: string }) => {
      let files: RuleCoverageFile[];
      try {
        files = dirs.map(readRuleCoverage);
      } catch (e) {
        if (e instanceof RuleCoverageError) throw new UsageError(e.message);
        throw e;
      }
      const hub = await readHubRuleCoverage(flags);
      if (hub !== null) files.push(hub);
      if (files.length === 0) throw new UsageError('coverage: give stats directories (OUT...) or --hub URL --campaign NAME');
      const merged = files.length === 1 ? files[0] : mergeRuleCoverage(files);
      io.out(flags.json === true ? JSON.stringify(merged, null, 1) + '\n' : formatRuleCoverage(merged, flags.all === true));
      setExit(EXIT.ok);
    });
}
