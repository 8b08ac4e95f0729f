/**
 * Determinism contract: the same seed and options give byte-identical crash directories and
 * corpus files, in two separate campaigns.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir, deterministicTree, tree } from './helpers.js';

const seed = suiteSeed();

describe(`SameSeedSameCrashFiles (seed: ${seed})`, () => {
  it('two campaigns with the same seed write the same crash and corpus bytes', async () => {
    const dirs = [tempDir('same-a'), tempDir('same-b')];
    for (const d of dirs) {
      const r = await cli(['fuzz', '--seed', seed, '--runs', '150', '--bug', 'canary', '--oracle', 'machine', '--crashes', join(d, 'crashes'), '--corpus', join(d, 'corpus')]);
      expect(r.code).toBe(1);
    }
    const [a, b] = dirs.map((d) => deterministicTree(d));
    expect([...a.keys()]).toEqual([...b.keys()]);
    expect([...a.keys()].some((k) => k.endsWith('repro.msgpack'))).toBe(true);
    expect([...a.keys()].some((k) => k.startsWith('.tmp-') || k.includes('/.tmp-'))).toBe(false);
    for (const [k, bytes] of a) expect(bytes.equals(b.get(k) as Buffer), k).toBe(true);
  });

  it('a different seed gives a different corpus', async () => {
    const d1 = tempDir('seed-1');
    const d2 = tempDir('seed-2');
    await cli(['fuzz', '--seed', seed, '--runs', '40', '--oracle', 'machine', '--crashes', join(d1, 'c'), '--corpus', join(d1, 'corpus')]);
    await cli(['fuzz', '--seed', seed + 'x', '--runs', '40', '--oracle', 'machine', '--crashes', join(d2, 'c'), '--corpus', join(d2, 'corpus')]);
    expect([...tree(join(d1, 'corpus')).keys()]).not.toEqual([...tree(join(d2, 'corpus')).keys()]);
  });
});
