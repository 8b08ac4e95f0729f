/**
 * Stress loop of the hub's "Redis comes back empty" case (issue 13), not a test: N times, one
 * `eptfuzz fuzz --hub` machine on a fresh redis-server without persistence; once two blocks are
 * merged, Redis is restarted empty; the machine must end within HANG_MS with the one line that
 * says the hub lost the campaign's data, exit 2. Prints one line per round and a tally; the
 * stderr of a round that hung or ended otherwise is kept under $TMPDIR/eptfuzz-hub-stress-*.log.
 * Run it under nice on a shared machine:
 *   nice -n 10 npx tsx bench/hub-stress.ts 120            (or node dist-bench/bench/hub-stress.js 120)
 * It found the hang of docs/hub.md "A machine never hangs": 5 rounds of 120 hung before the fix
 * (each with a BullMQ blocking connection disconnected while it waited to reconnect), 0 of 150 after.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis } from '../test/support/redis.js';

const ROUNDS = Number(process.argv[2] ?? 40);
const HANG_MS = Number(process.env.HANG_MS ?? 30_000);
const DOWN_MS = Number(process.env.DOWN_MS ?? 300);

function cliArgs(): string[] {
  const self = import.meta.url;
  return self.endsWith('.ts') ? ['--import', 'tsx', fileURLToPath(new URL('../src/cli/main.ts', self))] : [fileURLToPath(new URL('../src/cli/main.js', self))];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function round(i: number, logs: string): Promise<'ok' | 'hang' | 'other'> {
  const redis = await startRedis();
  try {
    const child = spawn(process.execPath, [...cliArgs(), 'fuzz', '--hub', redis.url, '--campaign', 'gone', '--seed', `stress${i}`, '--runs', '6400', '--bug', 'canary', '--oracle', 'machine', '--max-ops', '120', '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const r = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    r.on('error', () => undefined);
    const t0 = Date.now();
    while (child.exitCode === null && Date.now() - t0 < 60_000 && Number((await r.get('eptfuzz:{gone}:merged')) ?? '0') < 2) await sleep(20);
    r.disconnect();
    await redis.restart(DOWN_MS);
    const up = Date.now();
    const code = await Promise.race([done, sleep(HANG_MS).then(() => 'hang' as const)]);
    const last = err.trim().split('\n').at(-1) ?? '';
    const verdict = code === 'hang' ? 'hang' : code === 2 && /the hub lost the campaign's data/.test(last) ? 'ok' : 'other';
    if (code === 'hang') { child.kill('SIGKILL'); await done; }
    if (verdict !== 'ok') writeFileSync(join(logs, `round-${i}.log`), err);
    console.log(`round ${i}: ${verdict === 'hang' ? `still running ${HANG_MS} ms after the restart` : `exit ${String(code)} ${Date.now() - up} ms after the restart${verdict === 'other' ? `: ${last}` : ''}`}`);
    return verdict;
  } finally {
    await redis.stop();
  }
}

async function main(): Promise<void> {
  const logs = mkdtempSync(join(tmpdir(), 'eptfuzz-hub-stress-'));
  const tally = { ok: 0, hang: 0, other: 0 };
  for (let i = 0; i < ROUNDS; i++) tally[await round(i, logs)]++;
  console.log(`${ROUNDS} rounds: ${tally.ok} ended in one line, exit 2; ${tally.hang} hung; ${tally.other} ended otherwise${tally.ok === ROUNDS ? '' : ` (stderr in ${logs})`}`);
}

await main();
