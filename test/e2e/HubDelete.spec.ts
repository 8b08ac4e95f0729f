/**
 * `eptfuzz hub delete` (issue 13): deletes every key of one campaign and nothing else. Two finished
 * campaigns share a redis-server, one named as a prefix of the other ('del' and 'del2'): deleting
 * 'del' leaves no key of it and every key of 'del2' with the same bytes (DUMP before and after),
 * which still pulls. A campaign with a machine running is refused (one line, exit 2, nothing
 * deleted) unless --force, which deletes it while the machine leaves with one line, exit 2. An
 * unknown campaign is one line, exit 2.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir } from './helpers.js';
import { spawnCli } from '../support/hub.js';
import { redisOrSkipMessage, startRedis, type TestRedis } from '../support/redis.js';

const seed = suiteSeed();
const base = ['--seed', seed, '--runs', '192', '--bug', 'canary', '--oracle', 'machine', '--max-ops', '120', '--workers', '1'];
const have = redisOrSkipMessage('HubDelete');

async function keysOf(r: Redis, campaign: string): Promise<string[]> {
  return (await r.keys(`eptfuzz:{${campaign}}:*`)).sort();
}

/** Every key of `campaign` with its DUMP, but those with an expiry (BullMQ's stalled-check lock comes and goes by itself). */
async function dumpOf(r: Redis, campaign: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const k of await keysOf(r, campaign)) {
    if ((await r.pttl(k)) >= 0) continue;
    out.set(k, ((await r.dumpBuffer(k)) ?? Buffer.alloc(0)).toString('hex'));
  }
  return out;
}

describe.skipIf(!have)(`HubDelete (seed: ${seed})`, () => {
  let redis: TestRedis;
  let r: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    r = new Redis(redis.port, '127.0.0.1');
    for (const name of ['del', 'del2']) {
      const run = await cli(['fuzz', '--hub', redis.url, '--campaign', name, ...base]);
      expect(run.code, run.stderr).toBe(1);
    }
  }, 120_000);
  afterAll(async () => { r?.disconnect(); await redis?.stop(); });

  it('deletes every key of one campaign and not one byte of another', async () => {
    const before = await dumpOf(r, 'del2');
    const mine = await keysOf(r, 'del');
    expect(mine.length).toBeGreaterThan(10);
    expect(mine.some((k) => k.includes(':del.blocks:'))).toBe(true);
    const out = await cli(['hub', 'delete', '--hub', redis.url, '--campaign', 'del']);
    expect(out.code, out.stderr).toBe(0);
    // (Less by any of BullMQ's expiring keys that went by themselves meanwhile.)
    const deleted = Number(/^campaign del: deleted \((\d+) keys\)\n$/.exec(out.stdout)?.[1]);
    expect(deleted).toBeLessThanOrEqual(mine.length);
    expect(deleted).toBeGreaterThanOrEqual(mine.length - 2);
    expect(await keysOf(r, 'del')).toEqual([]);
    expect(await dumpOf(r, 'del2')).toEqual(before);
    expect((await r.keys('*')).filter((k) => !k.startsWith('eptfuzz:{del2}:'))).toEqual([]);
    const pulled = await cli(['crashes', 'pull', '--hub', redis.url, '--campaign', 'del2', tempDir('hub-del2')]);
    expect(pulled.code, pulled.stderr).toBe(0);
    const gone = await cli(['status', '--hub', redis.url, '--campaign', 'del']);
    expect(gone.code).toBe(2);
    expect(gone.stderr.trim()).toMatch(/^eptfuzz: no campaign del on hub redis:\/\/127\.0\.0\.1:\d+$/);
    const again = await cli(['hub', 'delete', '--hub', redis.url, '--campaign', 'del']);
    expect(again.code).toBe(2);
    expect(again.stderr.trim()).toMatch(/^eptfuzz: no campaign del on hub /);
  }, 60_000);

  it('a campaign with a machine running: refused, then deleted under it with --force', async () => {
    const before = await dumpOf(r, 'del2');
    const m = spawnCli(['fuzz', '--hub', redis.url, '--campaign', 'live', ...base.map((a) => (a === '192' ? '640000' : a))]);
    const t0 = Date.now();
    while (Date.now() - t0 < 60_000 && m.child.exitCode === null && Number((await r.get('eptfuzz:{live}:merged')) ?? '0') < 1) await new Promise((res) => setTimeout(res, 20));
    // Its first status is published before its first block; wait for one after the merge too.
    await new Promise((res) => setTimeout(res, 2500));
    expect(m.child.exitCode, m.stderr()).toBeNull();
    const refused = await cli(['hub', 'delete', '--hub', redis.url, '--campaign', 'live']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(/^eptfuzz: campaign live: 1 machine\(s\) running \([^)]+\); 'eptfuzz hub stop' first and let them leave, or give --force$/);
    expect(await r.exists('eptfuzz:{live}:meta')).toBe(1);
    const forced = await cli(['hub', 'delete', '--hub', redis.url, '--campaign', 'live', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/^campaign live: deleted \(\d+ keys\); 1 machine\(s\) were running\n$/);
    const end = await m.done;
    expect(end.code, m.stderr()).toBe(2);
    expect(m.stderr().trim().split('\n').at(-1)).toMatch(/^eptfuzz: campaign live: .*the hub lost the campaign's data/);
    expect(await keysOf(r, 'live')).toEqual([]);
    expect(await dumpOf(r, 'del2')).toEqual(before);
  }, 120_000);
});
