/**
 * The hub commands (docs/hub.md): `eptfuzz fuzz --hub` (the `runHubFuzz` half of `fuzz`),
 * `eptfuzz status --hub URL --campaign NAME`, `eptfuzz hub stop|resume|delete`, the `pull`
 * subcommands of `crashes` and `corpus`, and the hub half of `crashes list` and `report`
 * (`withHubView`).
 * Contract: every line printed goes through the hub address's mask (the password never appears);
 * hub problems (bad URL, unreachable hub, wrong password, unknown campaign, other options,
 * malformed hub messages) are one line and exit 2.
 */
import { Command } from 'commander';
import type { Target } from '../../check/runner.js';
import type { CampaignOptions } from '../../fuzz/campaign.js';
import { acquireLocks } from '../../fuzz/lock.js';
import { BATCH_RUNS, SYNC_LAG_BATCHES } from '../../fuzz/protocol.js';
import { loadMeta, LOCK_MS_DEFAULT, setCampaignState } from '../../hub/hub-campaign.js';
import { hubRuleCoverage } from '../../hub/hub-rules.js';
import { loadSeeds } from '../../hub/hub-seeds.js';
import { normalizeConfig } from '../../hw/config.js';
import type { SeedCorpus } from '../../hub/hub-messages.js';
import type { RuleCoverageFile } from '../../fuzz/rule-coverage.js';
import { HUB_UNREACHABLE_MS_DEFAULT, openHub, type Hub, type HubConnectOptions } from '../../hub/hub-connection.js';
import { HubError } from '../../hub/hub-error.js';
import { campaignKeys, type CampaignKeys } from '../../hub/hub-keys.js';
import { runHubMachine, type HubMachineSummary } from '../../hub/hub-machine.js';
import { pullCorpus, pullCrashes } from '../../hub/hub-pull.js';
import { pullToTemp, type PulledStore } from '../../hub/hub-view.js';
import { hubCampaignFiles } from '../../report/hub-campaign-files.js';
import type { CampaignFiles } from '../../report/campaign-files.js';
import { campaignStatus } from '../../hub/hub-status.js';
import { deleteCampaign } from '../../hub/hub-delete.js';
import { parseHubUrl, type HubAddress } from '../../hub/hub-url.js';
import { parseCount, parseDuration } from '../args.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';

export interface HubFlags {
  hub?: string;
  campaign?: string;
  blockRuns?: string;
  syncLag?: string;
  lockTimeout?: string;
  hubTimeout?: string;
}

/** The hub options of `eptfuzz fuzz`. */
export function addHubFuzzOptions(c: Command): Command {
  return c
    .option('--hub <url>', 'run as one machine of a campaign on Redis: redis://[:PASSWORD@]HOST[:PORT] or rediss://... (default: $EPTFUZZ_HUB; docs/hub.md)')
    .option('--campaign <name>', 'the hub campaign to create or join (with --hub)')
    .option('--block-runs <n>', `runs per block (a hub job; locally, a batch): default ${BATCH_RUNS}`)
    .option('--sync-lag <n>', `blocks between a block and the merges it sees (default ${SYNC_LAG_BATCHES}); a hub campaign runs about this many blocks at once, so give more machines a larger lag (docs/hub.md); a local campaign given the same values writes the same files`)
    .option('--lock-timeout <time>', `a hub block whose machine is silent this long is given to another (set by the machine creating the campaign; default ${LOCK_MS_DEFAULT / 1000}s)`)
    .option('--hub-timeout <time>', `leave (exit 2) when the hub has not answered for this long (down, or up but hung); default ${HUB_UNREACHABLE_MS_DEFAULT / 1000}s`);
}

/** The hub lines of `eptfuzz fuzz --help`. */
export const HUB_FUZZ_HELP = '\nOne campaign on many machines (docs/hub.md; the same options on every machine, --seed required):\n  $ export EPTFUZZ_HUB=redis://:PASSWORD@hub:6379\n  $ eptfuzz fuzz --campaign nightly --seed 7 --runs 1000000 --workers 8\n  $ eptfuzz status --campaign nightly; eptfuzz crashes pull --campaign nightly out/crashes\nWith --hub, --corpus DIR names seed traces (read once by the machine creating the campaign; the others take them from the hub),\nand --target bochs|qemu needs the target on every machine (one without it refuses to join).\n';

/** --block-runs and --sync-lag as campaign options (local and hub campaigns cut runs alike). */
export function blockOptions(flags: HubFlags): { batchRuns?: number; syncLagBatches?: number } {
  const out: { batchRuns?: number; syncLagBatches?: number } = {};
  if (flags.blockRuns !== undefined) out.batchRuns = parseCount('--block-runs', flags.blockRuns, 1, 1_000_000);
  if (flags.syncLag !== undefined) out.syncLagBatches = parseCount('--sync-lag', flags.syncLag, 1, 1_000_000);
  return out;
}

const HUB_OPTION_HELP = 'redis://[:PASSWORD@]HOST[:PORT] or rediss://... (default: $EPTFUZZ_HUB)';

/** Runs `fn` on the hub at `url`, closing it after; every message leaving it is masked. */
async function withHub<T>(url: string, fn: (hub: Hub, address: HubAddress) => Promise<T>, opts: HubConnectOptions = {}): Promise<T> {
  const address = parseHubUrl(url);
  try {
    const hub = await openHub(address, opts);
    try {
      return await fn(hub, address);
    } finally {
      await hub.close();
    }
  } catch (e) {
    if (e instanceof HubError) throw new HubError(address.mask(e.message));
    if (e instanceof Error) { e.message = address.mask(e.message); e.stack = address.mask(e.stack ?? ''); }
    throw e;
  }
}

/** The hub URL: --hub, else the environment (keeps a password out of `ps` and shell history). */
export const HUB_URL_ENV = 'EPTFUZZ_HUB';

function needCampaign(flags: { hub?: string; campaign?: string }): { url: string; keys: CampaignKeys } {
  const url = flags.hub ?? process.env[HUB_URL_ENV];
  if (url === undefined || url === '') throw new UsageError(`--hub <url> is required (or ${HUB_URL_ENV} in the environment)`);
  if (flags.campaign === undefined) throw new UsageError('--campaign <name> is required');
  return { url, keys: campaignKeys(flags.campaign) };
}

function machineSummary(s: HubMachineSummary, campaign: string): string {
  const secs = s.elapsedMs / 1000;
  const blocks = s.blocksTotal === null ? `${s.merged} blocks merged` : `${s.merged}/${s.blocksTotal} blocks merged`;
  return [
    `done: this machine ran ${s.runs} runs in ${s.blocks} blocks, ${s.ops} ops in ${secs.toFixed(1)}s (${Math.round(s.ops / Math.max(secs, 1e-3))} ops/s); stopped by ${s.stoppedBy}`,
    `campaign ${campaign}: ${blocks}, ${s.campaignRuns} runs; coverage ${s.coverage}, corpus ${s.corpus}; ${s.signatures === 0 ? 'no failures' : `failures: ${s.signatures} signature(s) in ${s.hits} runs`}${s.minimizePending > 0 ? `; ${s.minimizePending} minimization(s) pending` : ''}`,
    `pull them with: eptfuzz crashes pull --hub URL --campaign ${campaign} DIR`,
  ].join('\n') + '\n';
}

/** `eptfuzz fuzz --hub ...`: `options` are those a local campaign would run with. */
export async function runHubFuzz(flags: HubFlags & { shard?: string; corpus?: string; out?: string; seed?: string }, options: CampaignOptions, target: Target, io: Io, setExit: (code: ExitCode) => void, shouldStop: () => boolean): Promise<void> {
  const { url } = needCampaign(flags);
  if (flags.seed === undefined) throw new UsageError('--hub: give --seed (every machine of a campaign runs the same seed)');
  if (flags.shard !== undefined) throw new UsageError('--hub: the hub cuts the run space itself; drop --shard');
  if (flags.out !== undefined) throw new UsageError('--hub: the campaign stats live on the hub (eptfuzz status --hub); drop --out');
  const blockRuns = options.batchRuns ?? BATCH_RUNS;
  const syncLag = options.syncLagBatches ?? SYNC_LAG_BATCHES;
  const lockMs = flags.lockTimeout === undefined ? LOCK_MS_DEFAULT : parseDuration('--lock-timeout', flags.lockTimeout);
  if (lockMs < 500) throw new UsageError(`--lock-timeout: at least 500ms, got '${flags.lockTimeout}'`);
  const unreachableMs = flags.hubTimeout === undefined ? HUB_UNREACHABLE_MS_DEFAULT : parseDuration('--hub-timeout', flags.hubTimeout);
  if (unreachableMs < 1000) throw new UsageError(`--hub-timeout: at least 1s, got '${flags.hubTimeout}'`);
  // --corpus names seeds (read here, uploaded by the machine creating the campaign); the campaign's
  // corpus lives on the hub (eptfuzz corpus pull writes it locally).
  let seeds: SeedCorpus | null = null;
  if (flags.corpus !== undefined) {
    const loaded = loadSeeds(flags.corpus, normalizeConfig({ ...(options.config ?? {}), bugs: [...options.bugs] }), target, options.external !== undefined);
    // No seed trace at all is no seed corpus (as a local campaign with an empty --corpus runs).
    seeds = loaded.seeds.entries.length > 0 ? loaded.seeds : null;
    io.err(`corpus: ${loaded.seeds.entries.length} seed traces in ${flags.corpus}${loaded.skipped > 0 ? `, ${loaded.skipped} unreadable skipped` : ''}${loaded.ignored > 0 ? `, ${loaded.ignored} of the other mode left out` : ''}\n`);
  }
  const summary = await withHub(url, async (hub, address) => runHubMachine(
    hub,
    { address, campaign: flags.campaign!, options, blockRuns, syncLag, lockMs, seeds },
    target,
    { log: (line) => io.err(line + '\n'), shouldStop },
  ), { unreachableMs });
  io.out(machineSummary(summary, flags.campaign!));
  setExit(summary.signatures > 0 ? EXIT.failure : EXIT.ok);
}

export function statusCommand(io: Io): Command {
  return new Command('status')
    .description('whole-campaign status of a hub campaign: one line per machine and a total')
    .option('--hub <url>', HUB_OPTION_HELP)
    .requiredOption('--campaign <name>', 'the campaign')
    .action(async (flags: { hub?: string; campaign: string }) => {
      const { url, keys } = needCampaign(flags);
      const st = await withHub(url, (hub) => campaignStatus(hub, keys));
      io.out(st.lines.join('\n') + '\n');
    });
}

export function hubCommand(io: Io): Command {
  const state = (name: 'stop' | 'resume', value: 'stopped' | 'running', what: string): Command => new Command(name)
    .description(what)
    .option('--hub <url>', HUB_OPTION_HELP)
    .requiredOption('--campaign <name>', 'the campaign')
    .action(async (flags: { hub?: string; campaign: string }) => {
      const { url, keys } = needCampaign(flags);
      await withHub(url, (hub) => setCampaignState(hub, keys, value));
      io.out(`campaign ${keys.name}: ${value}\n`);
    });
  const remove = new Command('delete')
    .description('delete a hub campaign: every key of it (records, crashes, corpus, queues, status) and nothing else; refused while its machines run')
    .option('--hub <url>', HUB_OPTION_HELP)
    .requiredOption('--campaign <name>', 'the campaign')
    .option('--force', 'delete even while machines run (they leave with one line, exit 2)')
    .action(async (flags: { hub?: string; campaign: string; force?: boolean }) => {
      const { url, keys } = needCampaign(flags);
      const r = await withHub(url, (hub) => deleteCampaign(hub, keys, flags.force === true));
      io.out(`campaign ${keys.name}: deleted (${r.keys} keys)${r.machines.length > 0 ? `; ${r.machines.length} machine(s) were running` : ''}\n`);
    });
  return new Command('hub')
    .description('control a hub campaign (docs/hub.md)')
    .addCommand(state('stop', 'stopped', 'stop a hub campaign: its machines finish their block and leave; nothing is lost'))
    .addCommand(state('resume', 'running', 'let machines join a stopped campaign again (start `eptfuzz fuzz --hub` on them)'))
    .addCommand(remove);
}

function pullCommand(io: Io, what: 'crashes' | 'corpus'): Command {
  return new Command('pull')
    .description(what === 'crashes' ? 'write a hub campaign\'s crash store into DIR (the layout a local campaign writes)' : 'write a hub campaign\'s corpus into DIR (<sha256>.msgpack files)')
    .argument('<dir>', 'destination directory (created if absent)')
    .option('--hub <url>', HUB_OPTION_HELP)
    .requiredOption('--campaign <name>', 'the campaign')
    .action(async (dir: string, flags: { hub?: string; campaign: string }) => {
      const { url, keys } = needCampaign(flags);
      const locks = acquireLocks([{ dir, role: what === 'crashes' ? 'crash' : 'corpus' }]);
      try {
        const s = await withHub(url, (hub) => (what === 'crashes' ? pullCrashes(hub, keys, dir) : pullCorpus(hub, keys, dir)));
        const merged = s.blocksTotal === null ? `${s.merged} blocks merged` : `${s.merged}/${s.blocksTotal} blocks merged`;
        io.out(`${dir}: ${s.written} ${what === 'crashes' ? 'signature(s)' : 'new corpus entries'} from campaign ${keys.name} (${merged}${s.pending > 0 ? `; ${s.pending} not minimized yet` : ''})\n`);
      } finally {
        locks.release();
      }
    });
}

export const crashesPullCommand = (io: Io): Command => pullCommand(io, 'crashes');

/** The options of a command that also reads a hub campaign (`crashes list`, `report`). */
export function addHubViewOptions(c: Command): Command {
  return c
    .option('--hub <url>', `with --campaign: read a hub campaign too; ${HUB_OPTION_HELP}`)
    .option('--campaign <name>', 'the hub campaign to read (its crash store pulled into a temporary directory, as `crashes pull` writes it)');
}

/** A hub campaign as read by `crashes list` and `report`: its crash store pulled (and its stats). */
export interface HubView {
  store: PulledStore;
  /** With `campaign`: the campaign as the report reads a stats directory. */
  campaign: CampaignFiles | null;
}

/**
 * Runs `fn` with the hub campaign of `--hub`/`--campaign` (null without --campaign or --hub: no
 * hub is contacted, even with $EPTFUZZ_HUB set). The hub is closed before `fn` runs; the pulled
 * store is removed after it.
 */
export async function withHubView<T>(flags: { hub?: string; campaign?: string }, what: { campaign: boolean }, fn: (view: HubView | null) => Promise<T> | T): Promise<T> {
  if (flags.campaign === undefined && flags.hub === undefined) return fn(null);
  const { url, keys } = needCampaign(flags);
  const view = await withHub(url, async (hub) => {
    const store = await pullToTemp(hub, keys);
    try {
      return { store, campaign: what.campaign ? await hubCampaignFiles(hub, keys, store.label) : null };
    } catch (e) {
      store.remove();
      throw e;
    }
  });
  try {
    return await fn(view);
  } finally {
    view.store.remove();
  }
}
export const corpusPullCommand = (io: Io): Command => pullCommand(io, 'corpus');

/**
 * The rule coverage of the hub campaign of `--hub`/`--campaign` (`eptfuzz coverage --hub`), as a
 * local campaign's rule-coverage.json; null without --campaign or --hub (no hub contacted).
 */
export async function readHubRuleCoverage(flags: { hub?: string; campaign?: string }): Promise<RuleCoverageFile | null> {
  if (flags.campaign === undefined && flags.hub === undefined) return null;
  const { url, keys } = needCampaign(flags);
  return withHub(url, async (hub) => hubRuleCoverage(hub, keys, await loadMeta(hub, keys)));
}
