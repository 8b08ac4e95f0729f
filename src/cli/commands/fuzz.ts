/**
 * `eptfuzz fuzz`: runs a campaign and prints a summary. Exit 1 when any run failed (a finding),
 * else 0. Ctrl-C (SIGINT/SIGTERM) or the stop file ends it cleanly after the current run; a second
 * Ctrl-C exits at once.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { allFeatures } from '../../gen/features.js';
import { hvGenConfig } from '../../gen/hv/generate.js';
import { CATALOGUE } from '../../bugs/catalogue.js';
import { normalizeConfig, type MachineConfig } from '../../hw/config.js';
import { formatShard, runCampaign, type CampaignSummary } from '../../fuzz/campaign.js';
import { STABILITY_EVERY_DEFAULT } from '../../fuzz/engine.js';
import { resolveExternal } from '../../target/registry.js';
import { abandonExecutors, RUN_TIMEOUT_MS_DEFAULT } from '../../fuzz/executor.js';
import { formatSignature } from '../../check/violation.js';
import { SHRINK_MS_MAX_DEFAULT } from '../../shrink/minimize.js';
import { collect, parseBugs, parseCount, parseDuration, parseFeatureList, parseShard } from '../args.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import { columnsOf, type Io } from '../io.js';
import { parseOracle, resolveTarget } from '../target.js';
import { addHubFuzzOptions, blockOptions, HUB_FUZZ_HELP, runHubFuzz, type HubFlags } from './hub.js';

export const OPS_MAX_DEFAULT = 200;
/**
 * The crash store when --crashes is not given. Not `crashes`: inside a clone of this repository
 * that is the committed store of planted-bug repros, which a campaign must never rewrite.
 */
export const CRASHES_DIR_DEFAULT = 'eptfuzz-crashes';
/** Hypervisor pool of a hv campaign's base configuration (the generator draws its own per trace). */
export const HV_CAMPAIGN_POOL_FRAMES = 64;

export type FuzzMode = 'bare' | 'hv';

export function parseMode(text: string): FuzzMode {
  if (text !== 'bare' && text !== 'hv') throw new UsageError(`--mode: expected bare or hv, got '${text}'`);
  return text;
}

/**
 * The campaign's base machine configuration for `mode`, after checking that the bugs and the
 * feature list make sense there: a hv-layer bug needs --mode hv (the bare machine has no
 * hypervisor); --features names bare-mode mechanisms, so hv mode refuses it.
 */
export function campaignConfig(mode: FuzzMode, bugs: readonly string[], featuresGiven: boolean): MachineConfig {
  const layer = new Map(CATALOGUE.map((b) => [b.name, b.layer]));
  if (mode === 'bare') {
    const hv = bugs.filter((b) => layer.get(b) === 'hv');
    if (hv.length > 0) throw new UsageError(`--bug ${hv[0]}: a hypervisor-layer bug; it needs --mode hv (see 'eptfuzz bugs')`);
    return normalizeConfig({ bugs: [...bugs] });
  }
  if (featuresGiven) throw new UsageError('--features: restricts bare-mode generation (ept,spp,pk,xo,tlb); hv mode generates the hypervisor workload of docs/hypervisor.md and takes no feature list');
  return hvGenConfig(HV_CAMPAIGN_POOL_FRAMES, bugs);
}
export const FUZZ_SHRINK_STEPS_DEFAULT = 2000;

interface FuzzFlags extends HubFlags {
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
  workers?: string;
  runTimeout: string;
  shard?: string;
  stabilityEvery: string;
  statusEvery?: string;
  swarm: boolean;
  shrinkSteps: string;
  shrinkMs: string;
  oracle: string;
  target: string;
  mode: string;
}

function summaryText(s: CampaignSummary, crashesDir: string): string {
  const secs = s.elapsedMs / 1000;
  const total = s.runsTotal !== s.runs ? ` (${s.runsTotal} in all sessions)` : '';
  const lines = [
    `done: ${s.runs} runs${total}, ${s.ops} ops in ${secs.toFixed(1)}s (${Math.round(s.ops / Math.max(secs, 1e-3))} ops/s, ${s.workers === 0 ? 'inline' : `${s.workers} worker${s.workers === 1 ? '' : 's'}`}, cpu ${(s.cpuMs / 1000).toFixed(1)}s); coverage ${s.coverage}, corpus ${s.corpus}; stability ${s.stabilityPct.toFixed(1)}% (${s.stabilityChecked} re-executed); stopped by ${s.stoppedBy}`,
  ];
  if (s.crashes.length === 0) {
    lines.push('no failures');
  } else {
    lines.push(`failures: ${s.crashes.length} signature(s)`);
    for (const c of s.crashes) {
      const min = c.opsBefore !== null && c.opsAfter !== null ? `; minimized ${c.opsBefore} -> ${c.opsAfter} ops` : c.fresh ? '; not minimized' : '';
      lines.push(`  ${c.hash}  ${formatSignature(c.signature)}  (${c.count} runs; first run ${c.firstSeenRun}${min}${c.fresh ? '' : '; known before'})  ${path.join(crashesDir, c.hash)}`);
    }
  }
  if (s.minimizePending > 0) lines.push(`${s.minimizePending} minimization(s) unfinished: the next campaign on ${crashesDir} finishes them`);
  return lines.join('\n') + '\n';
}

export function fuzzCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return addHubFuzzOptions(new Command('fuzz'))
    .description('run a fuzzing campaign: generate and mutate traces, check every op, store minimized failures')
    .option('--seed <seed>', 'campaign seed (any string); default: random, printed first')
    .option('--runs <n>', 'runs (traces) to execute in this session (a resumed campaign continues its run index)')
    .option('--duration <time>', 'time budget, e.g. 30s, 10m, 8h')
    .option('--max-ops <n>', 'ops per trace (setup included)', String(OPS_MAX_DEFAULT))
    .option('--corpus <dir>', 'corpus directory: seed traces loaded at start, new coverage saved')
    .option('--crashes <dir>', 'crash store directory (created if absent)', CRASHES_DIR_DEFAULT)
    .option('--out <dir>', 'stats directory: stats (key: value) and plot.csv')
    .option('--bug <name>', 'switch on a planted bug (repeatable; see `eptfuzz bugs`; [hv] bugs need --mode hv)', collect, [])
    .option('--mode <mode>', 'bare: the hardware alone; hv: the hypervisor model over it (docs/hypervisor.md)', 'bare')
    .option('--features <list>', 'restrict bare-mode generation to mechanisms: ept,spp,pk,xo,tlb')
    .option('--stop-file <path>', 'stop cleanly when this file exists')
    .option('--workers <n>', `worker threads (0: run on the main thread); default: the number of cores (${availableParallelism()} here)`)
    .option('--run-timeout <time>', 'per-run time limit on worker threads, e.g. 30s, 5m (0: off): a worker stuck on one run longer is stopped and restarted, the run recorded as a harness fault; the inline executor (--workers 0) cannot interrupt a run, so the limit applies to worker threads only', `${RUN_TIMEOUT_MS_DEFAULT / 1000}s`)
    .option('--shard <i/n>', 'run shard i of n (0-based) of the seed\'s run space, for many machines; merge outputs with `eptfuzz corpus merge` and `eptfuzz crashes merge`')
    .option('--status-every <ms>', 'status period: the live line on a terminal (default 1000), plain lines otherwise (default 10000)')
    .option('--stability-every <n>', 're-execute every n-th trace and compare outcomes (0: off)', String(STABILITY_EVERY_DEFAULT))
    .option('--no-swarm', 'use the balanced op weights for the whole campaign')
    .option('--shrink-steps <n>', 'minimizer budget per new failure (predicate evaluations)', String(FUZZ_SHRINK_STEPS_DEFAULT))
    .option('--shrink-ms <n>', 'minimizer time limit per new failure, ms (a safety net; steps bind first)', String(SHRINK_MS_MAX_DEFAULT))
    .option('--oracle <name>', 'check against: model (reference model) or machine (bug-free machine copy)', 'model')
    .option('--target <name>', 'run the traces on: machine (built-in), bochs, qemu, or exec:CMD (an adapter, docs/targets.md); --workers target processes run at once', 'machine')
    .addHelpText('after', '\nThe same seed and options give byte-identical crash and corpus files, whatever --workers is.\nRestarting on the same --crashes/--corpus/--out resumes: run index, counters, corpus and coverage continue;\na resume with another --mode, --bug list or --target, or without the --corpus the campaign kept, is refused.\n\nExamples:\n  $ eptfuzz fuzz --seed 1 --runs 200                                    # failures go to ./' + CRASHES_DIR_DEFAULT + '\n  $ eptfuzz fuzz --bug canary --duration 30s --crashes out/crashes --out out/stats\n  $ eptfuzz fuzz --mode hv --bug pkvm-reclaim-no-zero --runs 300 --crashes out/hv-crashes\n  $ eptfuzz fuzz --seed 7 --shard 0/4 --duration 8h --crashes out/crashes0 --corpus out/corpus0 --out out/stats0   # machine 0 of 4\n  $ eptfuzz crashes merge out/crashes out/crashes0 out/crashes1 out/crashes2 out/crashes3\n  $ eptfuzz corpus merge out/corpus out/corpus0 out/corpus1 out/corpus2 out/corpus3\n')
    .addHelpText('after', HUB_FUZZ_HELP)
    .action(async (flags: FuzzFlags) => {
      const runs = flags.runs === undefined ? null : parseCount('--runs', flags.runs, 1);
      const durationMs = flags.duration === undefined ? null : parseDuration('--duration', flags.duration);
      // Like --runs 0: a budget of nothing is a mistake, not a campaign (Ctrl-C or --stop-file end an open one).
      if (durationMs === 0) throw new UsageError(`--duration: must be more than 0, got '${flags.duration}'`);
      const opsMax = parseCount('--max-ops', flags.maxOps, 1, 1_000_000);
      const workers = flags.workers === undefined ? availableParallelism() : parseCount('--workers', flags.workers, 0, 256);
      const runTimeoutMs = parseDuration('--run-timeout', flags.runTimeout);
      const shard = flags.shard === undefined ? null : parseShard(flags.shard);
      if (flags.seed !== undefined && flags.seed.length === 0) throw new UsageError('--seed: must not be empty');
      const seed = flags.seed ?? randomBytes(8).toString('hex');
      const oracle = parseOracle(flags.oracle);
      const target = await resolveTarget(oracle);
      const mode = parseMode(flags.mode);
      const bugs = parseBugs(flags.bug);
      const external = resolveExternal(flags.target);
      if (external !== null && mode !== 'bare') throw new UsageError(`--target ${flags.target}: runs bare-mode campaigns only (--mode hv is the built-in hypervisor)`);
      if (external !== null && bugs.length > 0) throw new UsageError(`--bug: planted bugs exist only in the built-in machine, not on --target ${flags.target}`);
      const config = external !== null ? external.profile.config : campaignConfig(mode, bugs, flags.features !== undefined);
      const options = {
        seed, runs, durationMs, opsMax,
        features: flags.features === undefined ? allFeatures() : parseFeatureList(flags.features),
        bugs,
        config,
        swarm: flags.swarm,
        corpusDir: flags.corpus ?? null,
        crashesDir: flags.crashes,
        outDir: flags.out ?? null,
        stopFile: flags.stopFile ?? null,
        shrinkStepsMax: parseCount('--shrink-steps', flags.shrinkSteps, 1),
        shrinkMsMax: parseCount('--shrink-ms', flags.shrinkMs, 1),
        statusEveryMs: flags.statusEvery === undefined ? (io.errIsTTY ? 1000 : 10_000) : parseCount('--status-every', flags.statusEvery, 1),
        workers,
        runTimeoutMs,
        shard,
        oracle,
        stabilityEvery: parseCount('--stability-every', flags.stabilityEvery, 0),
        ...blockOptions(flags),
        ...(external !== null ? { external } : {}),
      };
      if (flags.hub !== undefined || flags.campaign !== undefined) {
        let stop = false;
        const onStop = (): void => { if (stop) process.exit(130); stop = true; abandonExecutors(); };
        process.on('SIGINT', onStop);
        process.on('SIGTERM', onStop);
        try {
          await runHubFuzz(flags, options, target, io, setExit, () => stop);
        } finally {
          process.off('SIGINT', onStop);
          process.off('SIGTERM', onStop);
        }
        return;
      }
      if (external !== null) io.err(`target ${external.profile.name}: ${external.profile.description}; ${Math.max(1, workers)} target process(es) at once\n`);
      if (shard !== null) io.err(`shard ${formatShard(shard)} of seed ${seed}\n`);
      if (runs === null && durationMs === null && options.stopFile === null) io.err('note: no --runs or --duration: runs until Ctrl-C\n');

      let stopRequested = false;
      const onSignal = (): void => {
        if (stopRequested) process.exit(130);
        stopRequested = true;
        abandonExecutors(); // runs in flight are dropped (a resumed campaign runs them again)
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
          columns: () => columnsOf(io),
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
