/**
 * A hub campaign can be stopped, inspected with no machine left, and resumed (issue 13):
 * `eptfuzz hub stop` makes its machine finish the block in hand and leave (stopped by hub-stop);
 * `eptfuzz status` still shows the whole campaign; a machine started on a stopped campaign is
 * refused in one line (exit 2) until `eptfuzz hub resume`; the resumed campaign finishes, and
 * its pulled crash store is byte-identical to a local campaign's over the same runs.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir } from './helpers.js';
import { expectPulledSameAsLocal } from '../support/hub.js';
import { redisOrSkipMessage, startRedis, type TestRedis } from '../support/redis.js';

const seed = suiteSeed();
// Enough blocks that the campaign cannot finish in the time a `hub stop` process takes to start
// (on an idle machine 10 blocks did, once).
const RUNS = 1920;
const BLOCKS = RUNS / 64;
const base = ['--seed', seed, '--runs', String(RUNS), '--bug', 'canary', '--oracle', 'machine', '--max-ops', '120'];
const have = redisOrSkipMessage('HubStopAndResume');

describe.skipIf(!have)(`HubStopAndResume (seed: ${seed})`, () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startRedis(); });
  afterAll(async () => { await redis?.stop(); });

  it('hub stop, status with no machine, refused while stopped, hub resume, finish: same files as local', async () => {
    const d = tempDir('hub-stop');
    const hub = ['--hub', redis.url, '--campaign', 'sr'];
    const first = cli(['fuzz', ...hub, ...base, '--workers', '1']);
    const r = new Redis(redis.port, '127.0.0.1');
    let mergedAtStop = 0;
    try {
      const t0 = Date.now();
      while ((mergedAtStop = Number((await r.get('eptfuzz:{sr}:merged')) ?? '0')) < 2 && Date.now() - t0 < 60_000) await new Promise((res) => setTimeout(res, 20));
    } finally {
      r.disconnect();
    }
    const stop = await cli(['hub', 'stop', ...hub]);
    expect(stop.code, stop.stderr).toBe(0);
    const stopped = await first;
    expect(stopped.stdout).toContain('stopped by hub-stop');
    const merged = Number(new RegExp(`campaign sr: (\\d+)/${BLOCKS} blocks merged`).exec(stopped.stdout)?.[1] ?? 'NaN');
    expect(merged).toBeGreaterThanOrEqual(mergedAtStop);
    expect(merged).toBeLessThan(BLOCKS);

    const st = await cli(['status', ...hub]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(new RegExp(`^campaign sr: stopped; seed ${seed}; ${RUNS} runs in blocks of 64; ${merged}/${BLOCKS} blocks merged`));
    expect(st.stdout).toMatch(/total \(1 machine, 0 live\)/);

    const refused = await cli(['fuzz', ...hub, ...base, '--workers', '1']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toEqual([`eptfuzz: campaign sr is stopped; 'eptfuzz hub resume --hub URL --campaign sr' lets machines join again`]);

    expect((await cli(['hub', 'resume', ...hub])).code).toBe(0);
    const second = await cli(['fuzz', ...hub, ...base, '--workers', '1']);
    expect(second.code, second.stderr).toBe(1);
    expect(second.stdout).toContain(`campaign sr: ${BLOCKS}/${BLOCKS} blocks merged, ${RUNS} runs`);
    expect(second.stderr).toContain('joined campaign sr');

    await expectPulledSameAsLocal({ url: redis.url, campaign: 'sr' }, [...base, '--workers', '1'], join(d, 'hub'), join(d, 'local'), expect);
   }, 180_000);
});
