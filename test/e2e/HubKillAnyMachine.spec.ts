/**
 * A machine dying at any moment loses nothing (issue 13): three `eptfuzz fuzz --hub` processes on
 * one campaign with planted bugs; one of them is killed with SIGKILL at a random moment and a
 * fresh one started in its place, several times. The blocks the dead ones held come back through
 * BullMQ's stalled-job detection (a 1 s lock here). At the end: every block is merged exactly once
 * (the campaign's run count is exactly its run range and the merge pointer is at the last block),
 * every finding any process reported, killed ones included, is in the pulled crash store, and the
 * store is byte-identical to one local campaign's over the same runs: no run counted twice.
 * The kill moments come from the suite seed (printed); KILLS kills, more under EPTFUZZ_LONG=1.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/gen/rng.js';
import { cli, suiteSeed, tempDir } from './helpers.js';
import { redisOrSkipMessage, startRedis, type TestRedis } from '../support/redis.js';
import { expectPulledSameAsLocal, reportedFindings, spawnCli, type CliProcess } from '../support/hub.js';

const seed = suiteSeed();
const LONG = process.env.EPTFUZZ_LONG === '1';
const KILLS = LONG ? 10 : 3;
// Enough runs that machines are still working when the kills come (on an idle machine 896 runs ended before the third).
const RUNS = LONG ? 2560 : 1792;
const BUGS = ['canary', 'pk-on-fetch', 'ept-gla-bits-wrong'];
/** Smaller blocks and a longer lag than the defaults: more blocks in flight when a machine dies (the local twin runs with the same values). */
const BLOCK_RUNS = 32;
const base = ['--seed', seed, '--runs', String(RUNS), ...BUGS.flatMap((b) => ['--bug', b]), '--oracle', 'machine', '--max-ops', '120', '--block-runs', String(BLOCK_RUNS), '--sync-lag', '4'];
const have = redisOrSkipMessage('HubKillAnyMachine');

describe.skipIf(!have)(`HubKillAnyMachine (seed: ${seed}, ${KILLS} kills)`, () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startRedis(); });
  afterAll(async () => { await redis?.stop(); });

  it('kill -9 of a machine at random moments: every block merged once, every reported finding pulled, same files as local', async () => {
    const d = tempDir('hub-kill');
    const rng = new Rng(`${seed}/hub-kill`);
    const hub = ['fuzz', '--hub', redis.url, '--campaign', 'kill', ...base, '--workers', '1', '--lock-timeout', '1s'];
    const all: CliProcess[] = [];
    const start = (): CliProcess => { const p = spawnCli(hub); all.push(p); return p; };
    const live = [start(), start(), start()];
    const killed: Array<{ afterMs: number; code: number | null; signal: NodeJS.Signals | null }> = [];
    for (let k = 0; k < KILLS; k++) {
      const victim = live[rng.int(live.length)];
      // After its first line (it has joined), at a random moment within the next 1.3 s.
      const t0 = Date.now();
      while (!victim.stderr().includes('\n') && victim.child.exitCode === null && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
      const afterMs = 100 + rng.int(1200);
      await new Promise((r) => setTimeout(r, afterMs));
      victim.child.kill('SIGKILL');
      const end = await victim.done;
      killed.push({ afterMs, code: end.code, signal: end.signal });
      // A victim that ended before its kill must have ended as a machine does: the campaign complete.
      if (end.code !== null) expect(end.code, victim.stderr()).toBe(1);
      live.splice(live.indexOf(victim), 1, start());
    }
    const ends = await Promise.all(live.map((p) => p.done));
    console.log(`HubKillAnyMachine: kills ${JSON.stringify(killed)}`);
    for (const [i, e] of ends.entries()) expect(e.code, live[i].stderr()).toBe(1);
    expect(killed.filter((k) => k.signal === 'SIGKILL').length).toBeGreaterThanOrEqual(Math.min(KILLS, 2));

    const r = new Redis(redis.port, '127.0.0.1');
    try {
      expect(await r.get('eptfuzz:{kill}:merged')).toBe(String(RUNS / BLOCK_RUNS));
      expect(await r.hget('eptfuzz:{kill}:totals', 'runs')).toBe(String(RUNS));
      expect(await r.keys('eptfuzz:{kill}:result:*')).toEqual([]);
    } finally {
      r.disconnect();
    }
    const reported = new Set(all.flatMap((p) => reportedFindings(p.stderr())));
    expect(reported.size).toBeGreaterThan(1);
    const hubFiles = await expectPulledSameAsLocal({ url: redis.url, campaign: 'kill' }, [...base, '--workers', '2'], join(d, 'hub', 'crashes'), join(d, 'local', 'crashes'), expect);
    for (const h of reported) expect(hubFiles.has(join(h, 'description.json')), `reported ${h}`).toBe(true);
  }, 180_000);
});
