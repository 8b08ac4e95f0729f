/**
 * One machine of a hub campaign (`eptfuzz fuzz --hub URL --campaign NAME`): joins (or creates)
 * the campaign, takes blocks from its BullMQ queue and runs them (block-runner.ts), stores each
 * block's reports (SET NX unless already merged: the block's commit), merges what is in (hub-merger.ts), takes
 * minimization jobs (hub-minimizer.ts), and publishes its status for `eptfuzz status`.
 * Contract: a block is taken only once the merge records it must see are committed (else it waits,
 * and after READY_WAIT_MS goes back to the queue for a while, so machines waiting on a dead
 * machine's block never hold all the work); a block whose result or merge already exists is not
 * run again. A dead machine's jobs come back through BullMQ's stalled-job detection after the
 * campaign's lock time. The machine leaves when its own budget (duration, stop file, Ctrl-C) ends,
 * when `eptfuzz hub stop` marks the campaign stopped, or when a runs-bounded campaign is complete
 * (every block merged, every minimization done). It never hangs: every wait on Redis is bounded
 * by the hub's watchdog (hub-connection.ts) and every shutdown step by its own bound, past which the
 * hub is given up on. On an external target the blocks run on it (block-runner.ts) after the
 * target has booted once here (hub-target.ts); a seed corpus from the hub starts the merged state.
 */
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Target } from '../check/runner.js';
import type { CampaignOptions } from '../fuzz/campaign.js';
import { normalizeConfig } from '../hw/config.js';
import { RUN_TIMEOUT_MS_DEFAULT } from '../fuzz/executor.js';
import type { EngineConfig } from '../fuzz/protocol.js';
import { BlockRunner } from './block-runner.js';
import { targetProblem } from './hub-target.js';
import { campaignState, createOrJoin, hubSpec, loadSeedCorpus, type HubMeta } from './hub-campaign.js';
import { seedsTag } from './hub-seeds.js';
import type { Hub } from './hub-connection.js';
import { HubError } from './hub-error.js';
import { campaignKeys, type CampaignKeys } from './hub-keys.js';
import { encodeBlockResult, encodeSeedCorpus, type SeedCorpus } from './hub-messages.js';
import { HubMerger, type BlockJobData } from './hub-merger.js';
import { minimizeProcessor } from './hub-minimizer.js';
import { failingSignatures, sightingsLua } from './hub-sightings.js';
import type { HubAddress } from './hub-url.js';
import type { MachineRecord } from './hub-status.js';

/**
 * How long a taken block may wait for the merges it needs before it goes back to the queue: long
 * enough that a normal wait (the blocks before it finishing) ends in it, short enough that
 * machines waiting on a dead machine's block free themselves soon after that block is re-queued.
 */
const READY_WAIT_MS_MAX = 2000;
const NOT_READY_DELAY_MS = 100;
const READY_POLL_MS = 15;
/** KEYS: result:k, merged, seen; ARGV: k, result, now_ms, then the block's failing signature hashes (their sightings). */
const STORE_RESULT_LUA = `
if tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[1]) then return 0 end
if not redis.call('SET', KEYS[1], ARGV[2], 'NX') then return 0 end
${sightingsLua('KEYS[3]', 'ARGV[3]', 4)}
return 1
`;
/**
 * The machine's own loop: stop conditions, merges a dead machine left behind, the status it
 * publishes. Its Redis cost is per machine whatever the block rate (docs/hub.md "Scaling").
 */
const TICK_MS = 500;
const PUBLISH_EVERY_MS = 2000;
/** BullMQ's retry of a fetch or a completion after a connection error (a Redis restart takes about a second). */
const RUN_RETRY_MS = 250;
/** The bound of each shutdown step that waits on the hub (closing the workers: at least the lock time). */
const SHUTDOWN_STEP_MS = 30_000;

export interface HubMachineOptions {
  address: HubAddress;
  campaign: string;
  /** The campaign's options, as a local campaign would be run with them (runs = the whole campaign's). */
  options: CampaignOptions;
  blockRuns: number;
  syncLag: number;
  /** Lock of a running block (used when this machine creates the campaign). */
  lockMs: number;
  /** The seed corpus of `--corpus DIR` (uploaded when this machine creates the campaign), or null. */
  seeds?: SeedCorpus | null;
}

export interface HubMachineHooks {
  log(line: string): void;
  status?(line: string): void;
  shouldStop?(): boolean;
}

export type HubStopReason = 'complete' | 'duration' | 'stop-file' | 'signal' | 'hub-stop';

export interface HubMachineSummary {
  machine: string;
  created: boolean;
  runs: number;
  ops: number;
  blocks: number;
  elapsedMs: number;
  stoppedBy: HubStopReason;
  merged: number;
  blocksTotal: number | null;
  campaignRuns: number;
  coverage: number;
  corpus: number;
  signatures: number;
  hits: number;
  minimizePending: number;
}

function engineConfig(o: CampaignOptions, meta: HubMeta): EngineConfig {
  const features = [...o.features].sort();
  return {
    root: o.seed,
    opsMax: o.opsMax,
    features,
    swarm: o.swarm,
    config: normalizeConfig({ ...(o.config ?? {}), bugs: [...o.bugs] }),
    oracle: o.oracle ?? 'model',
    stabilityEvery: meta.spec.stability_every,
  };
}

/**
 * Runs this machine on `hub` (opened by the caller, who closes it). An error met after the hub was
 * given up on (unreachable too long, a shutdown step out of time) is reported as that reason,
 * unless it is a hub error of its own (lost data, other options): the first cause is the one said.
 */
export async function runHubMachine(hub: Hub, h: HubMachineOptions, target: Target, hooks: HubMachineHooks): Promise<HubMachineSummary> {
  const keys = campaignKeys(h.campaign);
  const log = (line: string): void => hooks.log(h.address.mask(line));
  try {
    const given = h.seeds ?? null;
    const spec = hubSpec(h.options, h.blockRuns, h.syncLag, given === null ? undefined : seedsTag(given));
    const external = h.options.external;
    if (external !== undefined) {
      const why = await targetProblem(external);
      if (why !== null) throw new HubError(`--target ${external.profile.name}: the target does not run on this machine (${why}); it cannot join campaign ${keys.name}`);
    }
    const { meta, created } = await createOrJoin(hub, keys, spec, h.lockMs, given === null ? null : { blob: encodeSeedCorpus(given), count: given.entries.length, features: given.features.length });
    // Every machine starts from the hub's copy of the seeds (the creator's included).
    const seeds = await loadSeedCorpus(hub, keys, meta);
    if ((await campaignState(hub, keys)) === 'stopped') {
      throw new HubError(`campaign ${keys.name} is stopped; 'eptfuzz hub resume --hub URL --campaign ${keys.name}' lets machines join again`);
    }
    if (seeds !== null) log(`hub: campaign ${keys.name} starts from a seed corpus of ${seeds.entries.length} traces (${created ? 'uploaded by this machine' : 'from the hub'})`);
    return await new Machine(h, meta, created, hub, keys, target, hooks, log, seeds).run();
  } catch (e) {
    if (!(e instanceof HubError) && hub.failure !== null) throw hub.failure;
    throw e;
  }
}

class Machine {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
  private readonly started = Date.now();
  private stopping = false;
  private runs = 0;
  private ops = 0;
  private blocks = 0;
  private hits = 0;
  private lastFindMs: number | null = null;
  private readonly workers: number;

  constructor(
    private readonly h: HubMachineOptions,
    private readonly meta: HubMeta,
    private readonly created: boolean,
    private readonly hub: Hub,
    private readonly keys: CampaignKeys,
    private readonly target: Target,
    private readonly hooks: HubMachineHooks,
    private readonly log: (line: string) => void,
    private readonly seeds: SeedCorpus | null,
  ) {
    this.workers = h.options.workers ?? 0;
  }

  private record(state: MachineRecord['state'], merger: HubMerger): MachineRecord {
    return {
      id: this.id, host: hostname(), pid: process.pid, workers: this.workers,
      started_ms: this.started, updated_ms: Date.now(),
      runs: this.runs, ops: this.ops, blocks: this.blocks, hits: this.hits,
      last_find_ms: this.lastFindMs, coverage: merger.state.coverageCount, state,
    };
  }

  private async publish(state: MachineRecord['state'], merger: HubMerger): Promise<void> {
    await this.hub.redis.hset(this.keys.machines, this.id, JSON.stringify(this.record(state, merger)));
  }

  private stopReason(): HubStopReason | null {
    const o = this.h.options;
    if (this.hooks.shouldStop?.() === true) return 'signal';
    if (o.durationMs !== null && Date.now() - this.started >= o.durationMs) return 'duration';
    if (o.stopFile !== null && fs.existsSync(o.stopFile)) return 'stop-file';
    return null;
  }

  async run(): Promise<HubMachineSummary> {
    const { hub, keys, meta } = this;
    const connection = { prefix: keys.queuePrefix };
    const queues = {
      blocks: new Queue(keys.blocksQueue, { connection: hub.connection(), ...connection }),
      minimize: new Queue(keys.minimizeQueue, { connection: hub.connection(), ...connection }),
    };
    // Connection errors while Redis restarts are expected (the connections retry); without a
    // listener BullMQ would print them with a stack.
    for (const q of [queues.blocks, queues.minimize]) q.on('error', () => undefined);
    const merger = new HubMerger(hub, keys, meta, queues, this.log);
    if (this.seeds !== null) merger.state.seed(this.seeds);
    const external = this.h.options.external ?? null;
    const runner = new BlockRunner(engineConfig(this.h.options, meta), this.target, this.workers, meta.spec.sync_lag, this.h.options.runTimeoutMs ?? RUN_TIMEOUT_MS_DEFAULT, external);
    this.log(`hub ${this.h.address.display}: ${this.created ? 'created' : 'joined'} campaign ${keys.name} (seed ${meta.spec.seed}, ${merger.blocksTotal === null ? 'open-ended' : `${meta.spec.runs} runs in ${merger.blocksTotal} blocks`} of ${meta.spec.block_runs}); machine ${this.id}, ${external !== null ? `target ${external.profile.name}, ${Math.max(1, this.workers)} target process(es) at once` : this.workers === 0 ? 'inline' : `${this.workers} worker${this.workers === 1 ? '' : 's'}`}`);
    await merger.catchUp();
    await merger.topUp();
    await merger.requeuePendingMinimizations();
    await merger.mergeAvailable();
    await this.publish('running', merger);

    const workerOptions = {
      ...connection,
      concurrency: 1,
      lockDuration: meta.lock_ms,
      // A dead machine's lock expires after lock_ms; the check every lock_ms / 2 re-queues its block soon after.
      stalledInterval: Math.max(250, Math.round(meta.lock_ms / 2)),
      // A block may come back any number of times (each time its machine died): never give up on it.
      maxStalledCount: 1_000_000,
      drainDelay: 1,
      // Pause before BullMQ retries a fetch or a job's completion that met a connection error
      // (default 15 s, which a machine leaving after a lost hub would sit out).
      runRetryDelay: RUN_RETRY_MS,
    };
    // Named: BullMQ records the machine that processed each job (`processedBy`), for inspection.
    const blockWorker = new Worker(keys.blocksQueue, (job: Job, token?: string) => this.processBlock(job, token, merger, runner), { connection: hub.connection(), name: this.id, ...workerOptions });
    const minimizeWorker = new Worker(keys.minimizeQueue, minimizeProcessor(hub, keys, meta, this.target, external, () => this.stopping, this.log), { connection: hub.connection(), ...workerOptions });
    // Failed attempts are retried by BullMQ; say why, once per attempt.
    for (const w of [blockWorker, minimizeWorker]) {
      w.on('failed', (job, e) => { if (!this.stopping && !(e instanceof DelayedError) && !(e instanceof UnrecoverableError)) this.log(`hub: job ${job?.id ?? '?'} failed on this machine: ${e.message.split('\n')[0]}`); });
      w.on('error', () => undefined);
    }

    let stoppedBy: HubStopReason = 'complete';
    let lastPublish = Date.now();
    try {
      for (;;) {
        await sleep(TICK_MS);
        const why = this.stopReason();
        if (why !== null) { stoppedBy = why; break; }
        // One round trip: the campaign's state, its merge count, whether its metadata is still there.
        // What this machine had merged is taken first: a merge may commit while the reply is awaited.
        const seen = merger.state.blocks;
        const [state, merged, metaThere] = ((await hub.redis.pipeline().get(keys.state).get(keys.merged).exists(keys.meta).exec()) ?? []).map(([e, v]) => {
          if (e !== null) throw e;
          return v;
        });
        if (state === 'stopped') { stoppedBy = 'hub-stop'; break; }
        if (this.blockFault !== null) throw this.blockFault;
        merger.checkIntact(Number(merged ?? '0'), seen);
        if (metaThere === 0) throw new HubError(`campaign ${keys.name}: its metadata is gone from the hub: the hub lost the campaign's data (Redis restarted without appendonly?)`);
        if (merger.blocksTotal !== null) {
          await merger.mergeAvailable();
          if (merger.state.blocks >= merger.blocksTotal && (await hub.redis.scard(keys.minimizePending)) === 0) break;
        }
        if (Date.now() - lastPublish >= PUBLISH_EVERY_MS) {
          lastPublish = Date.now();
          await this.publish('running', merger);
          merger.requeuePendingMinimizations().catch(() => undefined);
          const line = `machine ${this.id}: ${this.runs} runs, ${this.blocks} blocks; campaign ${merger.state.blocks}${merger.blocksTotal === null ? '' : `/${merger.blocksTotal}`} blocks merged, coverage ${merger.state.coverageCount}, ${merger.state.crashes.size} signatures`;
          (this.hooks.status ?? this.log)(line);
        }
      }
    } finally {
      // Every step is bounded: one out of time gives up on the hub (all its connections end, every
      // pending command rejects), so the steps after it, and the process, end at once.
      this.stopping = true;
      // The block in hand finishes (its merge included) unless the machine is told to abandon it.
      await this.bounded('closing the block and minimization workers', Promise.all([blockWorker.close(), minimizeWorker.close()]), Math.max(SHUTDOWN_STEP_MS, meta.lock_ms));
      await runner.close();
      if (hub.failure === null) {
        await this.bounded('the last merge', merger.catchUp(), SHUTDOWN_STEP_MS).catch(() => undefined);
        await this.bounded('the last status', this.publish('left', merger), SHUTDOWN_STEP_MS).catch(() => undefined);
      }
      await this.bounded('closing the queues', Promise.all([queues.blocks.close(), queues.minimize.close()]), SHUTDOWN_STEP_MS);
    }
    const pending = await hub.redis.scard(keys.minimizePending);
    const totals = await hub.redis.hgetall(keys.totals);
    return {
      machine: this.id,
      created: this.created,
      runs: this.runs,
      ops: this.ops,
      blocks: this.blocks,
      elapsedMs: Date.now() - this.started,
      stoppedBy,
      merged: merger.state.blocks,
      blocksTotal: merger.blocksTotal,
      campaignRuns: merger.state.runs,
      coverage: merger.state.coverageCount,
      corpus: merger.state.corpus,
      signatures: merger.state.crashes.size,
      hits: Number(totals.hits ?? merger.state.hits),
      minimizePending: pending,
    };
  }

  /**
   * Waits for `step` at most `ms`; past that, gives up on the hub (so `step` and every other wait
   * on it settle at once) and goes on. Rejects as `step` does.
   */
  private async bounded<T>(what: string, step: Promise<T>, ms: number): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), ms); });
    try {
      const r = await Promise.race([step, late]);
      if (r !== 'late') return r as T;
      step.catch(() => undefined);
      this.hub.abandon(new HubError(`hub ${this.h.address.display}: leaving: ${what} did not finish within ${Math.round(ms / 1000)} s`));
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A hub error met inside a job (lost data, a record that differs): the machine loop stops on it. */
  private blockFault: HubError | null = null;

  private async processBlock(job: Job, token: string | undefined, merger: HubMerger, runner: BlockRunner): Promise<string> {
    try {
      return await this.processBlockOnce(job, token, merger, runner);
    } catch (e) {
      if (e instanceof HubError) this.blockFault ??= e;
      throw e;
    }
  }

  private async processBlockOnce(job: Job, token: string | undefined, merger: HubMerger, runner: BlockRunner): Promise<string> {
    const data = job.data as Partial<BlockJobData> | null;
    const k = data?.block;
    if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 0 || (merger.blocksTotal !== null && k >= merger.blocksTotal)) {
      const line = `hub: rejected block job ${job.id ?? '?'}: its data names no block of this campaign`;
      this.log(line);
      throw new UnrecoverableError(line);
    }
    if (this.stopping) throw new Error('this machine is leaving');
    await merger.mergeAvailable();
    if (merger.state.blocks > k || (await this.hub.redis.exists(this.keys.result(k))) === 1) return 'done before';
    const need = runner.needs(k);
    const until = Date.now() + Math.min(READY_WAIT_MS_MAX, this.meta.lock_ms / 4);
    while (merger.state.blocks < need) {
      if (this.stopping) throw new Error('this machine is leaving');
      if (Date.now() > until) {
        await job.moveToDelayed(Date.now() + NOT_READY_DELAY_MS, token);
        throw new DelayedError();
      }
      await sleep(READY_POLL_MS);
      // One GET per poll: the machine that stores a result merges it itself; a result whose
      // machine died before merging is merged by the machine loop's tick (mergeAvailable).
      if ((await merger.mergedCount()) > merger.state.blocks) await merger.mergeAvailable();
    }
    const { start, end } = merger.range(k);
    const reports = await runner.run(k, start, end, merger.state);
    const blob = encodeBlockResult({ block: k, machine: this.id, reports });
    // The block's commit: stored once, and never after its merge (a block run twice, its lock lost
    // under load, must not leave a result nobody will merge).
    // The wall-clock sightings of its failing signatures go with it (hub-sightings.ts).
    await this.hub.redis.eval(STORE_RESULT_LUA, 3, this.keys.result(k), this.keys.merged, this.keys.seen, String(k), blob, String(Date.now()), ...failingSignatures(reports));
    this.blocks++;
    for (const r of reports) {
      this.runs++;
      this.ops += r.ops;
      if (r.failure !== null) { this.hits++; this.lastFindMs = Date.now(); }
    }
    await merger.mergeAvailable();
    return 'ran';
  }
}
