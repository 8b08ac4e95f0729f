/**
 * Hub overhead and cost (issue 13), in one bench run on this machine:
 * - throughput of one campaign run by two `eptfuzz fuzz --hub` processes with one worker each,
 *   against one local campaign with two workers, same seed, options and runs: wall time from the
 *   first process's start to the last one's end, both sides paying process start-up (goal >= 0.9x);
 *   runs interleaved local, hub, local, hub, local and medians compared, to cancel drift;
 * - what the hub costs Redis per block, measured on the redis-server the hub run used: commands
 *   (INFO stats total_commands_processed) and CPU seconds (INFO cpu used_cpu_user + used_cpu_sys)
 *   per merged block, and from them the on-paper figures of docs/hub.md: Redis commands/s and CPU
 *   share at 100 machines, and the block size that keeps Redis under 10 % of one core.
 * Without redis-server on PATH the section says so and measures nothing.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis } from '../test/support/redis.js';

const GOAL_RATIO = 0.9;
const RUNS = 3200;
const ARGS = ['--seed', 'bench-hub', '--runs', String(RUNS), '--max-ops', '200'];
const MACHINES_ON_PAPER = 100;
const REDIS_CORE_SHARE_MAX = 0.1;
const IDLE_SAMPLE_MS = 2000;
/** Local runs (hub runs: one fewer, in between). */
const ROUNDS = 3;

function cliCommand(): { file: string; args: string[] } {
  const self = import.meta.url;
  if (self.endsWith('.ts')) return { file: process.execPath, args: ['--import', 'tsx', fileURLToPath(new URL('../src/cli/main.ts', self))] };
  return { file: process.execPath, args: [fileURLToPath(new URL('../src/cli/main.js', self))] };
}

function run(args: string[]): Promise<string> {
  const { file, args: pre } = cliCommand();
  return new Promise((resolve) => {
    execFile(file, [...pre, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 }, (_e, stdout) => resolve(stdout));
  });
}

async function timed<T>(f: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { seconds: (performance.now() - t0) / 1000, value };
}

function opsOf(out: string, re: RegExp): number {
  const m = re.exec(out);
  if (m === null) throw new Error(`no summary: ${out.slice(0, 300)}`);
  return Number(m[1]);
}

async function localRun(): Promise<{ seconds: number; ops: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'eptfuzz-bench-hub-'));
  try {
    const r = await timed(() => run(['fuzz', ...ARGS, '--workers', '2', '--crashes', join(dir, 'crashes')]));
    return { seconds: r.seconds, ops: opsOf(r.value, /^done: \d+ runs.*?, (\d+) ops in/m) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function redisCost(r: Redis): Promise<{ commands: number; cpu: number }> {
  const stats = await r.info('stats');
  const cpu = await r.info('cpu');
  const num = (text: string, key: string): number => Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 'NaN');
  return { commands: num(stats, 'total_commands_processed'), cpu: num(cpu, 'used_cpu_user') + num(cpu, 'used_cpu_sys') };
}

interface HubRun { seconds: number; ops: number; commands: number; cpu: number; merged: number }

/** One hub campaign by two processes on a fresh redis-server, with what it cost Redis. */
async function hubRun(): Promise<HubRun> {
  const redis = await startRedis();
  const r = new Redis(redis.port, '127.0.0.1');
  try {
    // Redis's own housekeeping (serverCron) costs CPU when idle: measured here, taken out below.
    const idle0 = await redisCost(r);
    await new Promise((res) => setTimeout(res, IDLE_SAMPLE_MS));
    const idle1 = await redisCost(r);
    const idlePerSecond = (idle1.cpu - idle0.cpu) / (IDLE_SAMPLE_MS / 1000);
    const cost0 = await redisCost(r);
    const args = ['fuzz', '--hub', redis.url, '--campaign', 'bench', ...ARGS, '--workers', '1'];
    const t = await timed(() => Promise.all([run(args), run(args)]));
    const cost1 = await redisCost(r);
    const merged = Number(await r.get('eptfuzz:{bench}:merged'));
    const ops = t.value.reduce((n, out) => n + opsOf(out, /this machine ran \d+ runs in \d+ blocks, (\d+) ops/), 0);
    return { seconds: t.seconds, ops, commands: cost1.commands - cost0.commands, cpu: Math.max(0, cost1.cpu - cost0.cpu - idlePerSecond * t.seconds), merged };
  } finally {
    r.disconnect();
    await redis.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function benchHub(): Promise<string[]> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) return ['hub: SKIPPED: redis-server is not installed (apt-get install redis-server)'];
  const load = loadavg()[0];
  // Interleaved (local, hub, local, hub, local): drift on a shared machine hits both sides alike.
  const locals: number[] = [];
  const hubs: HubRun[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const l = await localRun();
    locals.push(l.ops / l.seconds);
    if (i < ROUNDS - 1) hubs.push(await hubRun());
  }
  const localRate = median(locals);
  const hubRates = hubs.map((h) => h.ops / h.seconds);
  const hubRate = median(hubRates);
  const ratio = hubRate / localRate;
  const merged = hubs.reduce((n, h) => n + h.merged, 0);
  const commandsPerBlock = hubs.reduce((n, h) => n + h.commands, 0) / merged;
  const cpuPerBlockMs = (hubs.reduce((n, h) => n + h.cpu, 0) * 1000) / merged;
  // On paper: 100 machines, each one process running blocks of 64 runs at this machine's rate.
  const runsPerSecondPerProcess = median(hubs.map((h) => RUNS / h.seconds / 2));
  const blocksPerSecond = (MACHINES_ON_PAPER * runsPerSecondPerProcess) / 64;
  const share = (blocksPerSecond * cpuPerBlockMs) / 1000;
  // Redis cost per block taken as constant, so its share scales as 1 / block size.
  const blockRunsFor10pct = Math.max(64, Math.ceil(share / REDIS_CORE_SHARE_MAX) * 64);
  return [
    `hub (load average ${load.toFixed(2)} before; ${RUNS} runs of up to 200 ops, seed bench-hub; docs/hub.md "Scaling"):`,
    `  local campaign, 2 workers             ${Math.round(localRate)} ops/s (median of ${locals.map(Math.round).join(', ')}; process start-up included)`,
    `  hub, 2 processes x 1 worker           ${Math.round(hubRate)} ops/s (median of ${hubRates.map(Math.round).join(', ')}; redis-server on loopback)`,
    `  ratio hub / local                     ${ratio.toFixed(2)}x (goal >= ${GOAL_RATIO}x)${ratio >= GOAL_RATIO ? '' : '  BELOW GOAL'}`,
    `  Redis per merged block (64 runs)      ${commandsPerBlock.toFixed(0)} commands (those inside Lua scripts included), ${cpuPerBlockMs.toFixed(2)} ms of Redis CPU (${merged} blocks; idle housekeeping taken out)`,
    `  on paper, ${MACHINES_ON_PAPER} machines x 1 process     ${blocksPerSecond.toFixed(0)} blocks/s -> ${Math.round(blocksPerSecond * commandsPerBlock)} Redis commands/s, ${(share * 100).toFixed(1)} % of one Redis core at block size 64`,
    `  block size for Redis < 10 % of a core  ${blockRunsFor10pct} runs (--block-runs; with --sync-lag >= the machines, docs/hub.md)`,
  ];
}
