/**
 * One campaign on many machines gives the files of one local campaign (issue 13): three
 * `eptfuzz fuzz --hub` processes on one campaign with a planted bug, on a real redis-server on
 * loopback; the crash store and corpus they pull are byte-identical to those of a single local
 * campaign over the same run range, whichever process ran which block; the corpus is shared: a
 * trace mutated in block k has a parent found at most L blocks before (L the sync lag), and some
 * parents were found by another machine than the one that mutated them. Also the hub's refusals:
 * a second campaign under the same name with other options, a wrong password, an unreachable hub
 * (one line, exit 2, the password never printed), and `eptfuzz status` over a finished campaign.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMergeRecord, type MergeRecord } from '../../src/hub/hub-messages.js';
import { SYNC_LAG_BATCHES } from '../../src/fuzz/protocol.js';
import { cli, suiteSeed, tempDir, tree } from './helpers.js';
import { freePort, redisOrSkipMessage, startRedis, type TestRedis } from '../support/redis.js';
import { reportedFindings, spawnCli, sameFiles } from '../support/hub.js';

const seed = suiteSeed();
const RUNS = 640;
const base = ['--seed', seed, '--runs', String(RUNS), '--bug', 'canary', '--oracle', 'machine', '--max-ops', '120'];
const have = redisOrSkipMessage('HubSameAsLocal');

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

    // The shared corpus: where each entry was found, by which machine, and where it was mutated.
    const r = new Redis({ port: redis.port, host: '127.0.0.1', password: 'hunter2-secret' });
    const records: MergeRecord[] = [];
    const ranBy = new Map<number, string>();
    try {
      for (let k = 0; k < RUNS / 64; k++) {
        records.push(decodeMergeRecord(await r.getBuffer(`eptfuzz:{same}:merge:${k}`), k));
        const job = await r.hgetall(`eptfuzz:{same}:same.blocks:b${k}`);
        if (job.returnvalue === '"ran"' && job.pb !== undefined) ranBy.set(k, job.pb);
      }
    } finally {
      r.disconnect();
    }
    const foundIn = new Map<string, number>();
    records.forEach((rec) => { for (const e of rec.corpus) foundIn.set(e.hash, rec.block); });
    let mutatedChecked = 0;
    let acrossMachines = 0;
    for (const rec of records) {
      for (const t of [...rec.corpus.map((e) => e.trace), ...rec.crashes.flatMap((c) => (c.trace === null ? [] : [c.trace]))]) {
        const parent = t.provenance?.options.parent;
        if (typeof parent !== 'string') continue;
        const j = foundIn.get(parent);
        expect(j, `parent ${parent} of a trace of block ${rec.block}`).toBeDefined();
        expect(j!, `block ${rec.block} mutated an entry of block ${j}`).toBeLessThanOrEqual(rec.block - SYNC_LAG_BATCHES);
        mutatedChecked++;
        if (ranBy.has(j!) && ranBy.has(rec.block) && ranBy.get(j!) !== ranBy.get(rec.block)) acrossMachines++;
      }
    }
    console.log(`HubSameAsLocal: ${mutatedChecked} kept traces mutated from the shared corpus, ${acrossMachines} from an entry another machine found; blocks by machine ${JSON.stringify([...ranBy.values()].reduce<Record<string, number>>((m, id) => ({ ...m, [id]: (m[id] ?? 0) + 1 }), {}))}`);
    expect(mutatedChecked).toBeGreaterThan(0);
    expect(acrossMachines).toBeGreaterThan(0);

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
