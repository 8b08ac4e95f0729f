/**
 * A hub machine never hangs (issue 13): every wait on Redis is bounded.
 * - The hang found by a stress loop of "Redis comes back empty" (1 in 20-80 runs): BullMQ's
 *   Worker.close() awaits the 'end' of its blocking connection after disconnecting it, and an
 *   ioredis client disconnected while it waits to reconnect never emits 'end'. Here that timing
 *   is made certain (Redis down, so every connection is waiting to reconnect, then close): a
 *   worker on a hub connection closes at once. The premise (ioredis alone never ends) is checked
 *   too, so an ioredis that fixes it shows up here.
 * - Redis gone for good, and Redis up but hung (SIGSTOP): a machine leaves within its
 *   --hub-timeout, one line, exit 2, and its process ends.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { openHub } from '../../src/hub/hub-connection.js';
import { HubError } from '../../src/hub/hub-error.js';
import { parseHubUrl } from '../../src/hub/hub-url.js';
import { suiteSeed } from './helpers.js';
import { spawnCli } from '../support/hub.js';
import { redisOrSkipMessage, startRedis, type TestRedis } from '../support/redis.js';

const seed = suiteSeed();
const have = redisOrSkipMessage('HubNeverHangs');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`'s outcome, or 'pending' if it has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'pending'>((r) => { timer = setTimeout(() => r('pending'), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

describe.skipIf(!have)(`HubNeverHangs (seed: ${seed})`, () => {
  let redis: TestRedis | null = null;
  afterEach(async () => { await redis?.stop(); redis = null; });

  it('ioredis alone: a client disconnected while it waits to reconnect never ends (the premise)', async () => {
    redis = await startRedis();
    const r = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: null, retryStrategy: () => 200 });
    r.on('error', () => undefined);
    await until('ready', () => r.status === 'ready', 5000);
    await redis.stop();
    await until('reconnecting', () => r.status === 'reconnecting', 5000);
    const ended = new Promise<'ended'>((resolve) => r.once('end', () => resolve('ended')));
    r.disconnect();
    expect(await within(ended, 1500)).toBe('pending');
    expect(r.status).toBe('reconnecting');
  }, 20_000);

  it('a BullMQ worker on a hub connection closes at once while its blocking connection waits to reconnect', async () => {
    redis = await startRedis();
    const hub = await openHub(parseHubUrl(redis.url));
    try {
      const worker = new Worker('q', async () => 'done', { connection: hub.connection(), prefix: 'eptfuzz:{t}', drainDelay: 1 });
      worker.on('error', () => undefined);
      await worker.waitUntilReady();
      // The worker's own connection, its blocking duplicate and the hub's command connection.
      expect(hub.connections().length).toBeGreaterThanOrEqual(3);
      await redis.stop();
      // Redis refuses at once, so between attempts (50 ms to 1 s apart) each connection waits to
      // reconnect; close() is called in the same turn as the check.
      await until('every connection waiting to reconnect', () => hub.connections().every((c) => c.status === 'reconnecting' || c.status === 'end'), 10_000);
      const t0 = Date.now();
      expect(await within(worker.close().then(() => 'closed'), 5000)).toBe('closed');
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(await within(hub.close().then(() => 'closed'), 5000)).toBe('closed');
      expect(hub.connections().every((c) => c.status === 'end')).toBe(true);
    } finally {
      hub.abandon(new HubError('test over'));
    }
  }, 30_000);

  it('the hub abandoned: every pending command rejects at once and nothing reconnects', async () => {
    redis = await startRedis();
    const hub = await openHub(parseHubUrl(redis.url));
    await redis.stop();
    await until('command connection down', () => hub.redis.status === 'reconnecting', 10_000);
    const pending = hub.redis.get('x').then(() => 'answered', (e: unknown) => `rejected: ${(e as Error).message}`);
    hub.abandon(new HubError('told to'));
    expect(await within(pending, 2000)).toMatch(/^rejected: /);
    expect(hub.failure?.message).toBe('told to');
    await sleep(1200);
    expect(hub.connections().every((c) => c.status === 'end')).toBe(true);
    await expect(hub.redis.connect()).rejects.toThrow('Connection is closed.');
    await hub.close();
  }, 30_000);

  for (const how of ['gone for good', 'up but hung (SIGSTOP)'] as const) {
    it(`Redis ${how} mid-campaign: the machine leaves within --hub-timeout, one line, exit 2`, async () => {
      const r0 = await startRedis();
      redis = r0;
      const m = spawnCli(['fuzz', '--hub', r0.url, '--campaign', 'lost', '--seed', seed, '--runs', '64000', '--oracle', 'machine', '--max-ops', '120', '--workers', '1', '--hub-timeout', '3s']);
      const r = new Redis(r0.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      r.on('error', () => undefined);
      try {
        await until('a block merged', async () => m.child.exitCode !== null || Number((await r.get('eptfuzz:{lost}:merged')) ?? '0') >= 1, 60_000);
      } finally {
        r.disconnect();
      }
      expect(m.child.exitCode, m.stderr()).toBeNull();
      const t0 = Date.now();
      if (how === 'gone for good') await r0.stop();
      else r0.freeze();
      const end = await within(m.done, 45_000);
      const took = Date.now() - t0;
      if (end === 'pending') m.child.kill('SIGKILL');
      expect(end, `still running 45 s later; stderr:\n${m.stderr().split('\n').slice(-10).join('\n')}`).not.toBe('pending');
      if (end === 'pending') return;
      expect(end.code, m.stderr()).toBe(2);
      const last = m.stderr().trim().split('\n').at(-1);
      expect(last).toMatch(/^eptfuzz: hub redis:\/\/127\.0\.0\.1:\d+: unreachable for \d+ s \(.+\); gave up waiting \(fuzz --hub-timeout\)$/);
      expect(m.stderr()).not.toMatch(/\n\s+at /);
      // 3 s of silence, a second of watchdog period, 2 s for ioredis to cut a socket nobody answers on, then the shutdown.
      expect(took).toBeLessThan(25_000);
      console.log(`HubNeverHangs: Redis ${how}: the machine left ${took} ms later`);
    }, 120_000);
  }
});
