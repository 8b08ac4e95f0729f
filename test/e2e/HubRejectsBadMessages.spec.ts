/**
 * Bad hub messages are rejected, one line each, and cost nothing (issue 13): a block result that
 * is not a result (garbage bytes under the key of block 0) and block jobs whose data name no
 * block of the campaign are found on the hub before the first machine starts. The machine says
 * so in one line per message, runs block 0 itself, and the campaign's pulled crash store is still
 * byte-identical to a local campaign's.
 */
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir } from './helpers.js';
import { expectPulledSameAsLocal } from '../support/hub.js';
import { redisOrSkipMessage, startRedis, type TestRedis } from '../support/redis.js';

const seed = suiteSeed();
const RUNS = 192;
const base = ['--seed', seed, '--runs', String(RUNS), '--bug', 'canary', '--oracle', 'machine', '--max-ops', '120'];
const have = redisOrSkipMessage('HubRejectsBadMessages');

describe.skipIf(!have)(`HubRejectsBadMessages (seed: ${seed})`, () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startRedis(); });
  afterAll(async () => { await redis?.stop(); });

  it('a malformed block result and malformed block jobs: one line each, and the campaign is unharmed', async () => {
    const r = new Redis(redis.port, '127.0.0.1');
    const q = new Queue('bad.blocks', { connection: { host: '127.0.0.1', port: redis.port }, prefix: 'eptfuzz:{bad}' });
    try {
      await r.set('eptfuzz:{bad}:result:0', Buffer.from([0xc1, 0xff, 0x00, 0x13]));
      await q.add('block', { block: 'zero' }, { jobId: 'junk-1' });
      await q.add('block', { block: 1_000_000 }, { jobId: 'junk-2' });
    } finally {
      await q.close();
      r.disconnect();
    }
    const d = tempDir('hub-bad');
    const run = await cli(['fuzz', '--hub', redis.url, '--campaign', 'bad', ...base, '--workers', '1']);
    expect(run.code, run.stderr).toBe(1);
    const rejected = run.stderr.split('\n').filter((l) => l.startsWith('hub: rejected'));
    expect(rejected.filter((l) => /^hub: rejected malformed result of block 0: the message does not decode \(.+\); block 0 is queued again$/.test(l))).toHaveLength(1);
    expect(rejected.filter((l) => l.includes('block job junk-1: its data names no block of this campaign'))).toHaveLength(1);
    expect(rejected.filter((l) => l.includes('block job junk-2: its data names no block of this campaign'))).toHaveLength(1);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stderr).not.toContain('failed on this machine');
    await expectPulledSameAsLocal({ url: redis.url, campaign: 'bad' }, [...base, '--workers', '1'], join(d, 'hub'), join(d, 'local'), expect);
   }, 180_000);
});
