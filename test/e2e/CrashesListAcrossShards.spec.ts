/**
 * `eptfuzz crashes list DIR...` gives one line per signature across the crash stores of several
 * shards, with counts that agree with the stores' descriptions and first/last seen times; a missing
 * directory or a corpus is refused with one line (exit 2).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDescription } from '../../src/fuzz/crash-store.js';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();

describe(`CrashesListAcrossShards (seed: ${seed})`, () => {
  it('lists each signature once with its summed count, times, repro size and directory', async () => {
    const d = tempDir('list');
    const stores = [join(d, 'c0'), join(d, 'c1')];
    for (const [i, c] of stores.entries()) {
      const r = await cli(['fuzz', '--seed', seed, '--runs', '200', '--bug', 'canary', '--oracle', 'machine', '--workers', '0', '--shard', `${i}/2`, '--crashes', c]);
      expect(r.code, r.stderr).toBe(1);
    }
    const expected = new Map<string, number>();
    for (const c of stores) {
      for (const h of readdirSync(c)) expected.set(h, (expected.get(h) ?? 0) + readDescription(join(c, h))!.count);
    }
    const r = await cli(['crashes', 'list', ...stores]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^signature\s+count\s+first seen\s+last seen\s+ops\s+invariant @ op: detail\s+dir$/);
    const rows = lines.slice(1, -1);
    expect(rows).toHaveLength(expected.size);
    for (const line of rows) {
      const m = /^([0-9a-f]{16})\s+(\d+)\s+(\S+)\s+(\S+)\s+(\d+)\*?\s+(\S+) @ (\S+): .*\s(\S+)( \(\+1\))?$/.exec(line);
      expect(m, line).not.toBeNull();
      const [, hash, count, first, last] = m!;
      expect(Number(count), line).toBe(expected.get(hash));
      expect(first).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(last >= first, line).toBe(true);
    }
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    expect(lines.at(-1)).toBe(`${expected.size} signature(s), ${total} failing run(s) in 2 store(s)`);

    const json = await cli(['crashes', 'list', '--json', ...stores]);
    const records = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { hash: string; count: number; first_seen: string });
    expect(records.map((x) => x.count).reduce((a, b) => a + b, 0)).toBe(total);
    expect(records.every((x) => typeof x.first_seen === 'string')).toBe(true);
  });

  it('refuses a missing directory and a corpus with one line (exit 2)', async () => {
    const d = tempDir('list-bad');
    const missing = await cli(['crashes', 'list', join(d, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`eptfuzz: crashes list: ${join(d, 'nope')}: no such directory\n`);
    const corpus = await cli(['crashes', 'list', 'corpus']);
    expect(corpus.code).toBe(2);
    expect(corpus.stderr.trim().split('\n')).toHaveLength(1);
    expect(corpus.stderr).toMatch(/a corpus/);
  });
});
