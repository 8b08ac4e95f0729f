/**
 * One campaign on many machines gives the files of one local campaign (issue 13): three
 * `eptfuzz fuzz --hub` processes on one campaign with a planted bug, on a real redis-server on
 * loopback; the crash store and corpus they pull are byte-identical to those of a single local
 * campaign over the same run range, whichever process ran which block. Also the hub's refusals:
 * a second campaign under the same name with other options, a wrong password, an unreachable hub
 * (one line, exit 2, the password never printed), and `eptfuzz status` over a finished campaign.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir, tree } from './helpers.js';
import { freePort, redisAvailable, startRedis, type TestRedis } from '../support/redis.js';
import { reportedFindings, spawnCli, sameFiles } from '../support/hub.js';

const seed = suiteSeed();
const RUNS = 640;
const base = ['--seed', seed, '--runs', String(RUNS), '--bug', 'canary', '--oracle', 'machine', '--max-ops', '120'];
const have = redisAvailable();
if (!have) console.warn('HubSameAsLocal: SKIPPED: redis-server is not installed (.ci/run installs it: apt-get install redis-server)');

function sameTree(a: string, b: string): void {
  sameFiles(tree(a), tree(b), expect);
}

describe.skipIf(!have)(`HubSameAsLocal (seed: ${seed})`, () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startRedis({ password: 'hunter2-secret' }); });
  afterAll(async () => { await redis?.stop(); });

  it('three hub processes pull the crash store and corpus of one local campaign, byte for byte', async () => {
    const d = tempDir('hub-same');
    const hub = ['--hub', redis.url, '--campaign', 'same', ...base, '--workers', '1'];
    const procs = [0, 1, 2].map(() => spawnCli(['fuzz', ...hub]));
    const ends = await Promise.all(procs.map((p) => p.done));
    for (const [i, e] of ends.entries()) expect(e.code, procs[i].stderr()).toBe(1);
    const ran = procs.map((p) => Number(/this machine ran (\d+) runs/.exec(p.stdout())?.[1] ?? 'NaN'));
    // Every run once: the machines' runs add up to the campaign's, none ran them all alone.
    expect(ran.reduce((a, b) => a + b, 0)).toBe(RUNS);
    expect(ran.filter((n) => n > 0).length).toBeGreaterThan(1);
    const found = new Set(procs.flatMap((p) => reportedFindings(p.stderr())));
    expect(found.size).toBeGreaterThan(0);
    for (const p of procs) expect(p.stderr() + p.stdout()).not.toContain('hunter2');

    const local = await cli(['fuzz', ...base, '--workers', '2', '--crashes', join(d, 'local', 'crashes'), '--corpus', join(d, 'local', 'corpus')]);
    expect(local.code, local.stderr).toBe(1);
    const pc = await cli(['crashes', 'pull', '--hub', redis.url, '--campaign', 'same', join(d, 'hub', 'crashes')]);
    expect(pc.code, pc.stderr).toBe(0);
    expect(pc.stdout).toContain(`${found.size} signature(s)`);
    const pk = await cli(['corpus', 'pull', '--hub', redis.url, '--campaign', 'same', join(d, 'hub', 'corpus')]);
    expect(pk.code, pk.stderr).toBe(0);
    sameTree(join(d, 'local'), join(d, 'hub'));
    for (const h of found) expect(tree(join(d, 'hub', 'crashes')).has(join(h, 'description.json')), h).toBe(true);

    const st = await cli(['status', '--hub', redis.url, '--campaign', 'same']);
    expect(st.code, st.stderr).toBe(0);
    const lines = st.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('machine ')).length).toBe(3);
    expect(lines.at(-1)).toMatch(new RegExp(`^total \\(3 machines, 0 live\\): runs ${RUNS}, .*signatures\\).*done ${RUNS / 64}$`));
    expect(st.stdout).not.toContain('hunter2');
  }, 180_000);

  it('refuses a second campaign of the same name with other options, a wrong password and an unreachable hub, in one line', async () => {
    const other = await cli(['fuzz', '--hub', redis.url, '--campaign', 'same', ...base.map((a) => (a === '120' ? '121' : a)), '--workers', '1']);
    expect(other.code).toBe(2);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
    expect(other.stderr).toContain('exists on the hub with other options: ops_max (there: 120, here: 121)');
    const wrong = redis.url.replace('hunter2-secret', 'wrong-pass-42');
    const bad = await cli(['status', '--hub', wrong, '--campaign', 'same']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/WRONGPASS|wrong or missing password/);
    expect(bad.stderr).not.toContain('wrong-pass-42');
    expect(bad.stderr).toContain(':***@');
    const port = await freePort();
    const gone = await cli(['fuzz', '--hub', `redis://:p4ss-word@127.0.0.1:${port}`, '--campaign', 'x', ...base]);
    expect(gone.code).toBe(2);
    expect(gone.stderr.trim().split('\n')).toHaveLength(1);
    expect(gone.stderr).toContain('ECONNREFUSED');
    expect(gone.stderr).not.toContain('p4ss-word');
    const missing = await cli(['status', '--hub', redis.url, '--campaign', 'nosuch']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no campaign nosuch on hub redis://:***@127.0.0.1:');
  });
});
