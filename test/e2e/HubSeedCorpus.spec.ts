/**
 * A seed corpus for a hub campaign (issue 13): `fuzz --hub ... --corpus DIR` on the machine that
 * creates the campaign uploads DIR's traces once; a machine joining without --corpus starts from
 * the hub's copy. The pulled crash store, rule coverage and corpus are those of a local campaign
 * run with `--corpus` (a copy of DIR) over the same runs, byte for byte; a local campaign without
 * the seeds finds another corpus (the seeds matter). A machine bringing other seeds is refused in
 * one line, exit 2.
 */
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir, tree } from './helpers.js';
import { expectPulledSameAsLocal, sameFiles, spawnCli } from '../support/hub.js';
import { redisOrSkipMessage, startRedis, type TestRedis } from '../support/redis.js';

const seed = suiteSeed();
const base = ['--seed', seed, '--runs', '384', '--bug', 'canary', '--oracle', 'machine', '--max-ops', '120', '--workers', '1'];
const have = redisOrSkipMessage('HubSeedCorpus');

describe.skipIf(!have)(`HubSeedCorpus (seed: ${seed})`, () => {
  let redis: TestRedis;
  const d = tempDir('hub-seeds');
  const seeds = join(d, 'seeds');
  beforeAll(async () => {
    redis = await startRedis();
    // Seeds: the corpus of a short campaign of another seed.
    const made = await cli(['fuzz', '--seed', `seeds-${seed}`, '--runs', '64', '--max-ops', '60', '--workers', '0', '--corpus', seeds, '--crashes', join(d, 'seed-crashes')]);
    expect([0, 1]).toContain(made.code);
    expect(readdirSync(seeds).length).toBeGreaterThan(5);
  }, 60_000);
  afterAll(async () => { await redis?.stop(); });

  it('seeds uploaded once by the creating machine, taken from the hub by the other: the local --corpus campaign\'s files', async () => {
    const hub = ['fuzz', '--hub', redis.url, '--campaign', 'seeded', ...base];
    const a = spawnCli([...hub, '--corpus', seeds]);
    const t0 = Date.now();
    while (!/created campaign seeded/.test(a.stderr()) && a.child.exitCode === null && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
    const b = spawnCli(hub);
    const ends = await Promise.all([a.done, b.done]);
    expect(ends[0].code, a.stderr()).toBe(1);
    expect(ends[1].code, b.stderr()).toBe(1);
    const n = readdirSync(seeds).length;
    expect(a.stderr()).toContain(`hub: campaign seeded starts from a seed corpus of ${n} traces (uploaded by this machine)`);
    expect(b.stderr()).toContain(`hub: campaign seeded starts from a seed corpus of ${n} traces (from the hub)`);

    const localCorpus = join(d, 'local-corpus');
    cpSync(seeds, localCorpus, { recursive: true });
    await expectPulledSameAsLocal({ url: redis.url, campaign: 'seeded' }, [...base, '--corpus', localCorpus], join(d, 'hub-crashes'), join(d, 'local-crashes'), expect);
    const pulled = await cli(['corpus', 'pull', '--hub', redis.url, '--campaign', 'seeded', join(d, 'hub-corpus')]);
    expect(pulled.code, pulled.stderr).toBe(0);
    sameFiles(tree(localCorpus), tree(join(d, 'hub-corpus')), expect);

    // Without the seeds a local campaign of the same seed grows another corpus.
    const bare = await cli(['fuzz', ...base, '--corpus', join(d, 'no-seeds-corpus'), '--crashes', join(d, 'no-seeds-crashes')]);
    expect(bare.code, bare.stderr).toBe(1);
    const added = (dir: string): string[] => readdirSync(dir).filter((f) => !readdirSync(seeds).includes(f)).sort();
    expect(added(join(d, 'no-seeds-corpus'))).not.toEqual(added(localCorpus));
  }, 240_000);

  it('a machine bringing other seeds is refused in one line, exit 2', async () => {
    // One of the seeds alone: another seed corpus.
    const one = join(d, 'one-seed');
    mkdirSync(one);
    const first = readdirSync(seeds).sort()[0];
    cpSync(join(seeds, first), join(one, first));
    const other = await cli(['fuzz', '--hub', redis.url, '--campaign', 'seeded', ...base, '--corpus', one]);
    const own = readdirSync(seeds).length;
    expect(other.code).toBe(2);
    const last = other.stderr.trim().split('\n').at(-1);
    expect(last).toMatch(new RegExp(`^eptfuzz: campaign seeded started from a seed corpus of ${own} traces \\([0-9a-f]{16}\\), this machine's --corpus holds 1 traces \\([0-9a-f]{16}\\); drop --corpus \\(the campaign's seeds come from the hub\\) or give the same seeds$`));
    const missing = await cli(['fuzz', '--hub', redis.url, '--campaign', 'seeded', ...base, '--corpus', join(d, 'nosuch')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^eptfuzz: --corpus: .*nosuch is not a directory/);
  }, 60_000);
});
