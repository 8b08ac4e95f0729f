/**
 * Parallel determinism: the same seed and options give byte-identical crash and corpus files
 * whether the runs execute inline or on worker threads; shards of a seed explore different runs
 * and their outputs merge by content address.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir, deterministicTree } from './helpers.js';

const seed = suiteSeed();
const base = ['--runs', '160', '--bug', 'canary', '--oracle', 'machine', '--max-ops', '120'];

describe(`WorkersGiveSameFiles (seed: ${seed})`, () => {
  it('--workers 0 and --workers 2 write the same crash and corpus bytes', async () => {
    const dirs = [tempDir('w0'), tempDir('w2')];
    const outs = [];
    for (const [i, d] of dirs.entries()) {
      const r = await cli(['fuzz', '--seed', seed, ...base, '--workers', i === 0 ? '0' : '2', '--crashes', join(d, 'crashes'), '--corpus', join(d, 'corpus')]);
      expect(r.code, r.stderr).toBe(1);
      outs.push(r.stdout);
    }
    expect(outs[1]).toContain('2 workers');
    const [a, b] = dirs.map((d) => deterministicTree(d));
    expect([...a.keys()]).toEqual([...b.keys()]);
    expect([...a.keys()].some((k) => k.endsWith('repro.msgpack'))).toBe(true);
    for (const [k, bytes] of a) expect(bytes.equals(b.get(k) as Buffer), k).toBe(true);
  });

  it('shards explore different runs; their corpora and crash stores merge by content address', async () => {
    const d = tempDir('shards');
    for (const i of [0, 1]) {
      const r = await cli(['fuzz', '--seed', seed, ...base, '--workers', '0', '--shard', `${i}/2`, '--crashes', join(d, `k${i}`), '--corpus', join(d, `c${i}`)]);
      expect(r.code, r.stderr).toBe(1);
    }
    const c0 = readdirSync(join(d, 'c0'));
    const c1 = readdirSync(join(d, 'c1'));
    expect(c0.filter((f) => c1.includes(f))).toEqual([]);
    const m = await cli(['corpus', 'merge', join(d, 'all'), join(d, 'c0'), join(d, 'c1')]);
    expect(m.code).toBe(0);
    expect(m.stdout).toContain(`${c0.length + c1.length} new, 0 already present`);
    expect(readdirSync(join(d, 'all')).sort()).toEqual([...c0, ...c1].sort());
    const again = await cli(['corpus', 'merge', join(d, 'all'), join(d, 'c0'), join(d, 'c1')]);
    expect(again.stdout).toContain(`0 new, ${c0.length + c1.length} already present`);
    const k = await cli(['crashes', 'merge', join(d, 'crashes'), join(d, 'k0'), join(d, 'k1')]);
    expect(k.code, k.stderr).toBe(0);
    const signatures = new Set([...readdirSync(join(d, 'k0')), ...readdirSync(join(d, 'k1'))]);
    expect(new Set(readdirSync(join(d, 'crashes')))).toEqual(signatures);
  });
});
