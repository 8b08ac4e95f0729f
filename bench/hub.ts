/**
 * Hub overhead and cost (issue 13), in one bench run on this machine:
 * - throughput of one campaign run by two `eptfuzz fuzz --hub` processes with one worker each,
 *   against one local campaign with two workers, same seed, options and runs: wall time from the
 *   first process's start to the last one's end, both sides paying process start-up (goal >= 0.9x;
 *   the local figure is the mean of one run before and one after the hub run, to cancel drift);
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
const IDLE_SAMPLE_MS = 3000;

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

export async function benchHub(): Promise<string[]> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) return ['hub: SKIPPED: redis-server is not installed (apt-get install redis-server)'];
  const load = loadavg()[0];
  const before = await localRun();
  const redis = await startRedis();
  const r = new Redis(redis.port, '127.0.0.1');
  let hub: { seconds: number; value: string[] };
  let cost0;
  let cost1;
  let merged = 0;
  let idleCpuPerSecond = 0;
  try {
    // Redis's own housekeeping (serverCron) costs CPU when idle: measured, then taken out.
    const idle0 = await redisCost(r);
    await new Promise((res) => setTimeout(res, IDLE_SAMPLE_MS));
    const idle1 = await redisCost(r);
    idleCpuPerSecond = (idle1.cpu - idle0.cpu) / (IDLE_SAMPLE_MS / 1000);
    cost0 = await redisCost(r);
    const args = ['fuzz', '--hub', redis.url, '--campaign', 'bench', ...ARGS, '--workers', '1'];
    hub = await timed(() => Promise.all([run(args), run(args)]));
    cost1 = await redisCost(r);
    merged = Number(await r.get('eptfuzz:{bench}:merged'));
  } finally {
    r.disconnect();
    await redis.stop();
  }
  const after = await localRun();
  const hubOps = Number(/campaign bench: \d+\/\d+ blocks merged, \d+ runs/.test(hub.value[0]) ? hub.value.reduce((n, out) => n + opsOf(out, /this machine ran \d+ runs in \d+ blocks, (\d+) ops/), 0) : NaN);
  const localRate = (before.ops / before.seconds + after.ops / after.seconds) / 2;
  const hubRate = hubOps / hub.seconds;
  const ratio = hubRate / localRate;
  const commandsPerBlock = (cost1.commands - cost0.commands) / merged;
  const cpuPerBlockMs = (Math.max(0, cost1.cpu - cost0.cpu - idleCpuPerSecond * hub.seconds) * 1000) / merged;
  // On paper: 100 machines, each running blocks of 64 runs at this machine's per-process rate.
  const runsPerSecondPerMachine = (RUNS / hub.seconds) / 2;
  const blocksPerSecond = (MACHINES_ON_PAPER * runsPerSecondPerMachine) / 64;
  const share = (blocksPerSecond * cpuPerBlockMs) / 1000;
  // Redis cost per block is mostly per-block (round trips), so it scales as 1 / block size.
  const blockRunsFor10pct = Math.ceil((64 * share) / REDIS_CORE_SHARE_MAX / 64) * 64;
  return [
    `hub (load average ${load.toFixed(2)} before; ${RUNS} runs of up to 200 ops, seed bench-hub; docs/hub.md "Scaling"):`,
    `  local campaign, 2 workers             ${Math.round(localRate)} ops/s (mean of ${Math.round(before.ops / before.seconds)} before and ${Math.round(after.ops / after.seconds)} after, process start-up included)`,
    `  hub, 2 processes x 1 worker           ${Math.round(hubRate)} ops/s (${hub.seconds.toFixed(1)} s, redis-server on loopback)`,
    `  ratio hub / local                     ${ratio.toFixed(2)}x (goal >= ${GOAL_RATIO}x)${ratio >= GOAL_RATIO ? '' : '  BELOW GOAL'}`,
    `  Redis per merged block (64 runs)      ${commandsPerBlock.toFixed(0)} commands, ${cpuPerBlockMs.toFixed(2)} ms of Redis CPU (${merged} blocks; idle housekeeping, ${(idleCpuPerSecond * 1000).toFixed(1)} ms/s, taken out)`,
    `  on paper, ${MACHINES_ON_PAPER} machines x 1 process     ${blocksPerSecond.toFixed(0)} blocks/s -> ${Math.round(blocksPerSecond * commandsPerBlock)} Redis commands/s, ${(share * 100).toFixed(1)} % of one Redis core at block size 64`,
    `  block size for Redis < 10 % of a core  ${Math.max(64, blockRunsFor10pct)} runs (--block-runs; Redis cost per block taken as constant)`,
  ];
}
