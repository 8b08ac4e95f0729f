/**
 * `eptfuzz report [OUT...] [--hub URL --campaign NAME] -o report.html`: one self-contained HTML
 * page for a campaign, several shards together, a hub campaign, or all of these (src/report/).
 * Exit 0 when written; 2 on bad input (a missing or unparsable stats directory, a bad
 * rule-coverage.json, a --crashes that is not a crash store, an output name that is not .html, a
 * bad or unreachable hub, an unknown hub campaign), one line, nothing written.
 */
import { Command } from 'commander';
import { EPTFUZZ_VERSION } from '../../gen/generate.js';
import { writeFileAtomic } from '../../fuzz/atomic.js';
import { buildReport } from '../../report/build.js';
import { renderReport } from '../../report/html.js';
import { collect } from '../args.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import { captureIo, type Io } from '../io.js';
import { Progress } from '../progress.js';
import { replayCommand } from './replay.js';
import { addHubViewOptions, withHubView } from './hub.js';

/** What `eptfuzz replay --verbose FILE` prints (stdout and stderr, in order). */
async function verboseReplay(file: string): Promise<string> {
  let text = '';
  const io: Io = { ...captureIo(), out: (t) => { text += t; }, err: (t) => { text += t; } };
  const cmd = replayCommand(io, () => {}).exitOverride();
  cmd.configureOutput({ writeOut: (s) => { text += s; }, writeErr: (s) => { text += s; } });
  try {
    await cmd.parseAsync(['--verbose', file], { from: 'user' });
  } catch (e) {
    text += `eptfuzz: ${(e as Error).message.split('\n')[0]}\n`;
  }
  return text;
}

export function reportCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return addHubViewOptions(new Command('report')
    .description('write one self-contained HTML page for a campaign, several shards or a hub campaign: plots over time, rule coverage, crashes with their decoded replay')
    .argument('[out...]', 'the --out directories of the campaigns (stats, plot.csv, rule-coverage.json)')
    .requiredOption('-o, --output <file>', 'the page to write (.html)')
    .option('--crashes <dir>', 'crash store to list (repeatable); default: the one each campaign recorded in its stats, else OUT/crashes', collect, []))
    .addHelpText('after', '\nThe page loads nothing from the network (the plotting library is inlined): open it anywhere.\nWith --hub and --campaign the hub campaign is one more campaign of the page: its totals, its series\nover time and its crash store come from the hub (docs/hub.md).\n\nExamples:\n  $ eptfuzz report out -o report.html\n  $ eptfuzz report out/stats0 out/stats1 out/stats2 out/stats3 --crashes out/crashes -o night.html\n  $ eptfuzz report --hub "$EPTFUZZ_HUB" --campaign nightly -o nightly.html\n')
    .action(async (outDirs: string[], flags: { output: string; crashes: string[]; hub?: string; campaign?: string }) => {
      if (!/\.html?$/i.test(flags.output)) throw new UsageError(`${flags.output}: the report is HTML; name it .html`);
      if (outDirs.length === 0 && flags.campaign === undefined && flags.hub === undefined) throw new UsageError('report: give the --out directories of the campaigns, or --hub URL --campaign NAME');
      const input = await withHubView(flags, { campaign: true }, async (view) => {
        const progress = new Progress(io, 'report: replaying crashes', 0, 'crashes');
        const built = await buildReport({
          outDirs,
          crashDirs: flags.crashes,
          generatedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          eptfuzzVersion: EPTFUZZ_VERSION,
          explain: verboseReplay,
          onCrash: (done, total) => progress.set(done, total),
          moreCampaigns: view?.campaign === null || view === null ? [] : [view.campaign],
          moreStores: view === null ? [] : [view.store.dir],
          show: view === null ? undefined : view.store.show,
        });
        progress.end();
        return built;
      });
      writeFileAtomic(flags.output, renderReport(input), { durable: false });
      const rules = input.ruleCoverage === null ? 'no rule coverage' : `${input.ruleCoverage.rules.filter((r) => r.hits > 0).length}/${input.ruleCoverage.rules.length} rules reached`;
      io.out(`wrote ${flags.output}: ${input.campaigns.length} campaign(s), ${input.crashes.length} signature(s) from ${input.crashStores.length} crash store(s), ${rules}\n`);
      setExit(EXIT.ok);
    });
}
