/**
 * `eptfuzz fuzz`: runs a campaign and prints a summary. Exit 1 when any run failed (a finding),
 * else 0. Ctrl-C (SIGINT/SIGTERM) or the stop file ends it cleanly after the current run; a second
 * Ctrl-C exits at once.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { Command } from 'commander';
import { allFeatures } from '../../gen/features.js';
import { runCampaign, type CampaignSummary } from '../../fuzz/campaign.js';
import { formatSignature } from '../../check/violation.js';
import { SHRINK_MS_MAX_DEFAULT } from '../../shrink/minimize.js';
import { collect, parseBugs, parseCount, parseDuration, parseFeatureList } from '../args.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { resolveTarget } from '../target.js';

export const OPS_MAX_DEFAULT = 200;
export const FUZZ_SHRINK_STEPS_DEFAULT = 2000;

interface FuzzFlags {
  seed?: string;
  runs?: string;
  duration?: string;
  maxOps: string;
  corpus?: string;
  crashes: string;
  out?: string;
  bug: string[];
  features?: string;
  stopFile?: string;
  workers: string;
  swarm: boolean;
  shrinkSteps: string;
  shrinkMs: string;
  oracle: string;
}

function summaryText(s: CampaignSummary, crashesDir: string): string {
  const secs = s.elapsedMs / 1000;
  const lines = [
    `done: ${s.runs} runs, ${s.ops} ops in ${secs.toFixed(1)}s (${Math.round(s.ops / Math.max(secs, 1e-3))} ops/s); coverage ${s.coverage}, corpus ${s.corpus}; stopped by ${s.stoppedBy}`,
  ];
  if (s.crashes.length === 0) {
    lines.push('no failures');
  } else {
    lines.push(`failures: ${s.crashes.length} signature(s)`);
    for (const c of s.crashes) {
      const min = c.opsBefore !== null && c.opsAfter !== null ? `; minimized ${c.opsBefore} -> ${c.opsAfter} ops` : '';
      lines.push(`  ${c.hash}  ${formatSignature(c.signature)}  (${c.count} runs; first run ${c.firstSeenRun}${min}${c.fresh ? '' : '; known before'})  ${path.join(crashesDir, c.hash)}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function fuzzCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('fuzz')
    .description('run a fuzzing campaign: generate and mutate traces, check every op, store minimized failures')
    .option('--seed <seed>', 'campaign seed (any string); default: random, printed first')
    .option('--runs <n>', 'number of runs (traces) to execute')
    .option('--duration <time>', 'time budget, e.g. 30s, 10m, 8h')
    .option('--max-ops <n>', 'ops per trace (setup included)', String(OPS_MAX_DEFAULT))
    .option('--corpus <dir>', 'corpus directory: seed traces loaded at start, new coverage saved')
    .option('--crashes <dir>', 'crash store directory', 'crashes')
    .option('--out <dir>', 'stats directory: stats (key: value) and plot.csv')
    .option('--bug <name>', 'switch on a planted bug (repeatable; see `eptfuzz bugs`)', collect, [])
    .option('--features <list>', 'restrict generation to mechanisms: ept,spp,pk,xo,tlb')
    .option('--stop-file <path>', 'stop cleanly when this file exists')
    .option('--workers <n>', 'worker threads (accepted; campaigns currently run single-threaded)', '1')
    .option('--no-swarm', 'use the balanced op weights for the whole campaign')
    .option('--shrink-steps <n>', 'minimizer budget per new failure (predicate evaluations)', String(FUZZ_SHRINK_STEPS_DEFAULT))
    .option('--shrink-ms <n>', 'minimizer time limit per new failure, ms (a safety net; steps bind first)', String(SHRINK_MS_MAX_DEFAULT))
    .option('--oracle <name>', 'check against: model (reference model) or machine (bug-free machine copy)', 'model')
    .addHelpText('after', '\nExamples:\n  $ eptfuzz fuzz --seed 1 --runs 200\n  $ eptfuzz fuzz --bug canary --duration 30s --crashes crashes --out out\n')
    .action(async (flags: FuzzFlags) => {
      const runs = flags.runs === undefined ? null : parseCount('--runs', flags.runs, 1);
      const durationMs = flags.duration === undefined ? null : parseDuration('--duration', flags.duration);
      const opsMax = parseCount('--max-ops', flags.maxOps, 1, 1_000_000);
      const workers = parseCount('--workers', flags.workers, 1, 256);
      if (flags.seed !== undefined && flags.seed.length === 0) throw new UsageError('--seed: must not be empty');
      const seed = flags.seed ?? randomBytes(8).toString('hex');
      const target = await resolveTarget(flags.oracle);
      const options = {
        seed, runs, durationMs, opsMax,
        features: flags.features === undefined ? allFeatures() : parseFeatureList(flags.features),
        bugs: parseBugs(flags.bug),
        swarm: flags.swarm,
        corpusDir: flags.corpus ?? null,
        crashesDir: flags.crashes,
        outDir: flags.out ?? null,
        stopFile: flags.stopFile ?? null,
        shrinkStepsMax: parseCount('--shrink-steps', flags.shrinkSteps, 1),
        shrinkMsMax: parseCount('--shrink-ms', flags.shrinkMs, 1),
        statusEveryMs: io.errIsTTY ? 1000 : 10_000,
      };
      if (workers > 1) io.err(`note: --workers ${workers}: this version runs campaigns single-threaded\n`);
      if (runs === null && durationMs === null && options.stopFile === null) io.err('note: no --runs or --duration: runs until Ctrl-C\n');

      let stopRequested = false;
      const onSignal = (): void => {
        if (stopRequested) process.exit(130);
        stopRequested = true;
        io.err('\nstopping after the current run (Ctrl-C again to quit at once)\n');
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let statusShown = false;
      try {
        const summary = await runCampaign(options, target, {
          log: (line) => {
            if (statusShown) { io.err('\r\x1b[K'); statusShown = false; }
            io.err(line + '\n');
          },
          status: io.errIsTTY ? (line) => { io.err('\r\x1b[K' + line); statusShown = true; } : undefined,
          shouldStop: () => stopRequested,
        });
        if (statusShown) io.err('\r\x1b[K');
        io.out(summaryText(summary, options.crashesDir));
        setExit(summary.crashes.length > 0 ? EXIT.failure : EXIT.ok);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
