/**
 * `eptfuzz status --hub URL --campaign NAME`: the whole campaign as the hub holds it, readable
 * while machines run and after they are all gone.
 * Contract: one header line, one line per machine that ever joined (its own runs, ops/s over its
 * lifetime, the campaign coverage it had merged, the failing runs in its blocks, its last find,
 * and `live`, `left` or `silent` when it stopped publishing without leaving: a dead machine), and
 * one total line (campaign runs, summed ops/s of live machines, coverage, corpus, failing runs
 * and signatures, last find, blocks queued/running/done). Wall-clock facts live only here and in
 * the machines' records, never in anything a campaign decides.
 */
import { Queue } from 'bullmq';
import type { Hub } from './hub-connection.js';
import { blockCount, campaignState, loadMeta } from './hub-campaign.js';
import type { CampaignKeys } from './hub-keys.js';

export interface MachineRecord {
  id: string;
  host: string;
  pid: number;
  workers: number;
  started_ms: number;
  updated_ms: number;
  runs: number;
  ops: number;
  blocks: number;
  hits: number;
  last_find_ms: number | null;
  coverage: number;
  state: 'running' | 'left';
}

/** A machine that has not published for this long is reported silent (presumed dead). */
const SILENT_AFTER_MS = 10_000;

/** The machines of the campaign that are live (running and publishing), by id. */
export async function liveMachines(hub: Hub, keys: CampaignKeys, now = Date.now()): Promise<string[]> {
  const all = Object.values(await hub.redis.hgetall(keys.machines)).map(parseMachine).filter((m): m is MachineRecord => m !== null);
  return all.filter((m) => m.state !== 'left' && now - m.updated_ms <= SILENT_AFTER_MS).map((m) => m.id).sort();
}

function parseMachine(text: string): MachineRecord | null {
  try {
    const m = JSON.parse(text) as Partial<MachineRecord>;
    if (typeof m.id !== 'string' || typeof m.runs !== 'number' || typeof m.ops !== 'number' || typeof m.started_ms !== 'number' || typeof m.updated_ms !== 'number') return null;
    return m as MachineRecord;
  } catch {
    return null;
  }
}

export function ago(ms: number | null, now: number): string {
  if (ms === null || ms <= 0) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

export interface CampaignStatus {
  lines: string[];
  merged: number;
  blocksTotal: number | null;
  signatures: number;
}

export async function campaignStatus(hub: Hub, keys: CampaignKeys, now = Date.now()): Promise<CampaignStatus> {
  const meta = await loadMeta(hub, keys);
  const state = await campaignState(hub, keys);
  const merged = Number((await hub.redis.get(keys.merged)) ?? '0');
  const totals = await hub.redis.hgetall(keys.totals);
  const pending = await hub.redis.scard(keys.minimizePending);
  const machines = Object.values(await hub.redis.hgetall(keys.machines)).map(parseMachine).filter((m): m is MachineRecord => m !== null).sort((a, b) => a.started_ms - b.started_ms || a.id.localeCompare(b.id));
  const queue = new Queue(keys.blocksQueue, { connection: hub.connection(), prefix: keys.queuePrefix });
  queue.on('error', () => undefined);
  let counts: Record<string, number>;
  try {
    counts = await queue.getJobCounts('wait', 'delayed', 'prioritized', 'active');
  } finally {
    await queue.close();
  }
  const total = blockCount(meta.spec);
  const n = (k: string): number => Number(totals[k] ?? '0');
  const lines = [`campaign ${keys.name}: ${state}; seed ${meta.spec.seed}; ${meta.spec.runs === null ? 'open-ended' : `${meta.spec.runs} runs`} in blocks of ${meta.spec.block_runs}; ${merged}${total === null ? '' : `/${total}`} blocks merged; ${pending} minimization(s) pending`];
  let liveOps = 0;
  let live = 0;
  for (const m of machines) {
    const silent = m.state !== 'left' && now - m.updated_ms > SILENT_AFTER_MS;
    const tag = m.state === 'left' ? 'left' : silent ? 'silent' : 'live';
    const secs = Math.max(1e-3, (m.updated_ms - m.started_ms) / 1000);
    const opsPerSec = Math.round(m.ops / secs);
    if (tag === 'live') { liveOps += opsPerSec; live++; }
    lines.push(`machine ${m.id} (${tag}, ${m.workers} worker${m.workers === 1 ? '' : 's'}): runs ${m.runs}, ${opsPerSec} ops/s, coverage ${m.coverage}, findings ${m.hits}, last find ${ago(m.last_find_ms, now)}, blocks ${m.blocks}`);
  }
  const queued = (counts.wait ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
  const lastFind = totals.last_find_ms === undefined ? null : Number(totals.last_find_ms);
  lines.push(`total (${machines.length} machine${machines.length === 1 ? '' : 's'}, ${live} live): runs ${n('runs')}, ${liveOps} ops/s, coverage ${n('coverage')}, corpus ${n('corpus')}, findings ${n('hits')} (${n('signatures')} signatures), last find ${ago(lastFind, now)}, blocks queued ${queued} / running ${counts.active ?? 0} / done ${merged}`);
  return { lines, merged, blocksTotal: total, signatures: n('signatures') };
}
