/**
 * Guarantee: `crashes merge` takes crash stores and `corpus merge` corpora; a missing source, a
 * directory of the other kind or a single crash directory is refused with one line (exit 2)
 * before anything is written, so a typo never merges nothing silently and failing repros never
 * land in a corpus.
 */
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from './helpers.js';

const REPO = join(import.meta.dirname, '..', '..');

describe('merge refuses the wrong kind of store', () => {
  let d = '';
  let store = '';
  let corpus = '';
  let oneCrash = '';
  beforeAll(() => {
    d = tempDir('merge-kind');
    store = join(d, 'store');
    const first = readdirSync(join(REPO, 'crashes')).sort()[0];
    oneCrash = join(store, first);
    cpSync(join(REPO, 'crashes', first), oneCrash, { recursive: true });
    corpus = join(d, 'corpus');
    cpSync(join(REPO, 'corpus', 'seeds'), corpus, { recursive: true });
  });

  const refused = (r: { code: number; stdout: string; stderr: string }, words: RegExp): void => {
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(words);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  it('crashes merge with a missing source: one line, exit 2, nothing created', async () => {
    const dest = join(d, 'dest-missing');
    refused(await cli(['crashes', 'merge', dest, store, join(d, 'no-such-shard')]), /no-such-shard: no such directory/);
    expect(existsSync(dest)).toBe(false);
  });

  it('crashes merge pointed at a corpus: refused', async () => {
    const dest = join(d, 'dest-corpus');
    refused(await cli(['crashes', 'merge', dest, corpus]), /a corpus .*not a crash store.*corpus merge/);
    expect(existsSync(dest)).toBe(false);
    refused(await cli(['crashes', 'merge', corpus, store]), /a corpus .*not a crash store/);
  });

  it('crashes merge pointed at one crash directory: refused, naming the store that holds it', async () => {
    refused(await cli(['crashes', 'merge', join(d, 'dest-one'), oneCrash]), /one crash directory, not a crash store/);
  });

  it('corpus merge pointed at a crash store: refused, the corpus untouched', async () => {
    const dest = join(d, 'dest-c');
    refused(await cli(['corpus', 'merge', dest, corpus, store]), /a crash store .*not a corpus.*crashes merge/);
    expect(existsSync(dest)).toBe(false);
    refused(await cli(['corpus', 'merge', store, corpus]), /a crash store/);
    refused(await cli(['corpus', 'merge', dest, oneCrash]), /a crash store/);
    refused(await cli(['corpus', 'merge', dest, join(d, 'nope')]), /nope: no such directory/);
  });

  it('the right kinds still merge, and an empty shard store is accepted', async () => {
    const empty = join(d, 'empty-shard');
    mkdirSync(empty);
    const k = await cli(['crashes', 'merge', join(d, 'all-crashes'), store, empty]);
    expect(k.code, k.stderr).toBe(0);
    expect(k.stdout).toMatch(/1 new signature/);
    const c = await cli(['corpus', 'merge', join(d, 'all-corpus'), corpus, empty]);
    expect(c.code, c.stderr).toBe(0);
  });
});
