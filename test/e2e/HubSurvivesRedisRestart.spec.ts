/**
 * The hub restarting loses nothing (issue 13): two `eptfuzz fuzz --hub` processes run a campaign
 * with a planted bug on a redis-server with its append-only file on; the server is shut down mid-
 * campaign and started again on the same port and directory a moment later. The processes
 * reconnect by themselves and finish the campaign, and the pulled crash store is byte-identical
 * to a local campaign's over the same runs: nothing lost, nothing counted twice. A Redis that
 * comes back empty (no append-only file) is noticed: the machine stops in one line, exit 2,
 * rather than mixing two histories.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir } from './helpers.js';
import { redisOrSkipMessage, startRedis, type TestRedis } from '../support/redis.js';
import { Redis } from 'ioredis';
import { expectPulledSameAsLocal, reportedFindings, spawnCli } from '../support/hub.js';

const seed = suiteSeed();
const RUNS = 768;
const base = ['--seed', seed, '--runs', String(RUNS), '--bug', 'canary', '--bug', 'pk-on-fetch', '--oracle', 'machine', '--max-ops', '120'];
const have = redisOrSkipMessage('HubSurvivesRedisRestart');

describe.skipIf(!have)(`HubSurvivesRedisRestart (seed: ${seed})`, () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startRedis({ persistent: true }); });
  afterAll(async () => { await redis?.stop(); });

  it('Redis restarted mid-campaign: the machines reconnect and the campaign finishes with nothing lost', async () => {
    const d = tempDir('hub-restart');
    const hub = ['fuzz', '--hub', redis.url, '--campaign', 'restart', ...base, '--workers', '1', '--lock-timeout', '2s'];
    const procs = [spawnCli(hub), spawnCli(hub)];
    // Restart once both machines are in the campaign and its first block is merged, read from the
    // hub itself (on an idle machine the whole campaign takes a few seconds: status lines, printed
    // every few seconds, may never come before it ends).
    const r = new Redis(redis.port, '127.0.0.1');
    let mergedAtRestart = 0;
    const t0 = Date.now();
    try {
      for (;;) {
        mergedAtRestart = Number((await r.get('eptfuzz:{restart}:merged')) ?? '0');
        const joined = procs.every((p) => /(joined|created) campaign restart/.test(p.stderr()));
        if ((joined && mergedAtRestart >= 1) || procs.some((p) => p.child.exitCode !== null) || Date.now() - t0 > 60_000) break;
        await new Promise((res) => setTimeout(res, 10));
      }
    } finally {
      r.disconnect();
    }
    const runningAtRestart = procs.filter((p) => p.child.exitCode === null).length;
    await redis.restart(700);
    const ends = await Promise.all(procs.map((p) => p.done));
    console.log(`HubSurvivesRedisRestart: restarted with ${runningAtRestart} machines running, ${mergedAtRestart} of ${RUNS / 64} blocks merged`);
    expect(runningAtRestart, procs.map((p, i) => `process ${i}: exit ${String(ends[i].code)}\n${p.stderr().split('\n').slice(-8).join('\n')}`).join('\n')).toBe(2);
    expect(mergedAtRestart).toBeLessThan(RUNS / 64);
    for (const [i, e] of ends.entries()) expect(e.code, procs[i].stderr()).toBe(1);
    for (const p of procs) expect(p.stdout()).toContain(`${RUNS / 64}/${RUNS / 64} blocks merged, ${RUNS} runs`);
    const reported = new Set(procs.flatMap((p) => reportedFindings(p.stderr())));
    const b = await expectPulledSameAsLocal({ url: redis.url, campaign: 'restart' }, [...base, '--workers', '2'], join(d, 'hub'), join(d, 'local'), expect);
    for (const h of reported) expect(b.has(join(h, 'description.json')), h).toBe(true);
  }, 180_000);

  it('a Redis that comes back empty stops the machines in one line, exit 2', async () => {
    const volatile = await startRedis();
    try {
      const run = cli(['fuzz', '--hub', volatile.url, '--campaign', 'gone', ...base.map((a) => (a === String(RUNS) ? '6400' : a)), '--workers', '1']);
      const r = new Redis(volatile.port, '127.0.0.1');
      const t0 = Date.now();
      try {
        while (Number((await r.get('eptfuzz:{gone}:merged')) ?? '0') < 2 && Date.now() - t0 < 60_000) await new Promise((res) => setTimeout(res, 20));
      } finally {
        r.disconnect();
      }
      await volatile.restart(300);
      const end = await run;
      expect(end.code).toBe(2);
      const last = end.stderr.trim().split('\n').at(-1);
      expect(last).toMatch(/^eptfuzz: campaign gone: (the hub holds 0 merged blocks where this machine has seen \d+|its metadata is gone from the hub): the hub lost the campaign's data/);
      expect(end.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await volatile.stop();
    }
  }, 180_000);
});
