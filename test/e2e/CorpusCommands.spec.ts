/**
 * `eptfuzz corpus add|list|merge|minimize`: add checks before it writes (exit 2 for a trace that
 * does not decode, 1 for one that fails, nothing written either way); list shows hash, ops, size,
 * coverage and origin; minimize keeps the coverage.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addressOf } from '../../src/fuzz/corpus.js';
import { loadTrace } from '../../src/trace/load.js';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();
const SEEDS = join(import.meta.dirname, '..', '..', 'corpus', 'seeds');

describe(`CorpusCommands (seed: ${seed})`, () => {
  it('add: passing traces are written as <sha256>.msgpack; a bad or failing one refuses the lot', async () => {
    const d = tempDir('cadd');
    const corpus = join(d, 'corpus');
    const ok = join(SEEDS, 'spp.txt');
    const r = await cli(['corpus', 'add', corpus, ok]);
    expect(r.code, r.stderr).toBe(0);
    const hash = addressOf(loadTrace(ok)).hash;
    expect(r.stdout).toBe(`added ${hash.slice(0, 16)} ${ok} (30 ops) -> ${join(corpus, `${hash}.msgpack`)}\n`);
    expect((await cli(['corpus', 'add', corpus, ok])).stdout).toMatch(/^present /);

    const bad = join(d, 'bad.txt');
    writeFileSync(bad, '@schema 1\n@eptfuzz 0.1.0\n@machine {}\nwrite cpu=0 la=0x1000 size=9 value=0x1\n');
    const r2 = await cli(['corpus', 'add', corpus, join(SEEDS, 'kvm-xo.txt'), bad]);
    expect(r2.code).toBe(2);
    expect(r2.stderr.trim().split('\n')).toHaveLength(1);
    expect(r2.stderr).toContain("field 'size' must be 1..8");

    const failing = join(d, 'failing.txt');
    writeFileSync(failing, [
      '@schema 1', '@eptfuzz 0.1.0', '@machine {"bugs":["canary"]}',
      'ept_set cpu=0 gpa=0x0 level=4 entry=0x2007', 'ept_set cpu=0 gpa=0x0 level=3 entry=0x3007',
      'ept_set cpu=0 gpa=0x0 level=2 entry=0x4007', 'ept_set cpu=0 gpa=0x10000 level=1 entry=0x10037',
      'ept_set cpu=0 gpa=0x11000 level=1 entry=0x11037', 'set_reg cpu=0 reg=cr0 value=0x1',
      'write cpu=0 la=0x10fff size=2 value=0xbeef',
    ].join('\n') + '\n');
    const r3 = await cli(['corpus', 'add', '--oracle', 'machine', corpus, join(SEEDS, 'kvm-xo.txt'), failing]);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/^eptfuzz: refusing .*failing\.txt: it fails: mem\.no-lost-write @ access: access\.write\.complete -> data byte the op wrote: data bytes differ at step 6 .*\n$/);
    expect(readdirSync(corpus)).toEqual([`${hash}.msgpack`]);
  });

  it('list shows every seed with hash, ops, bytes, features, unique features and origin', async () => {
    const r = await cli(['corpus', 'list', SEEDS]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^hash\s+ops\s+bytes\s+feat\s+uniq\s+origin\s+file$/);
    expect(lines.filter((l) => l.includes('hand-written'))).toHaveLength(readdirSync(SEEDS).filter((f) => f.endsWith('.txt')).length);
    // The hand-written form names an entry; its content-addressed msgpack copy is counted beside it.
    expect(lines.find((l) => l.includes(' spp.txt'))).toMatch(/^[0-9a-f]{16}\s+30\s+\d+\s+\d+\s+\d+\s+hand-written\s+spp\.txt( \(\+1 same content\))?$/);
    expect(lines[lines.length - 1]).toMatch(/^\d+ traces, \d+ features together$/);
  });

  it('minimize keeps a subset with the same coverage, in place or into another directory', async () => {
    const d = tempDir('cmin');
    const corpus = join(d, 'corpus');
    const f = await cli(['fuzz', '--seed', seed, '--runs', '64', '--oracle', 'machine', '--workers', '0', '--max-ops', '80', '--crashes', join(d, 'k'), '--corpus', corpus]);
    expect(f.code, f.stderr).toBe(0);
    const featuresOf = async (dir: string): Promise<string> => /(\d+) features together/.exec((await cli(['corpus', 'list', '--oracle', 'machine', dir])).stdout)?.[1] ?? '?';
    const before = await featuresOf(corpus);
    const n = readdirSync(corpus).length;
    const out = await cli(['corpus', 'minimize', '--oracle', 'machine', corpus, '-o', join(d, 'min')]);
    expect(out.code, out.stderr).toBe(0);
    expect(readdirSync(join(d, 'min')).length).toBeLessThan(n);
    expect(await featuresOf(join(d, 'min'))).toBe(before);
    const inPlace = await cli(['corpus', 'minimize', '--oracle', 'machine', corpus]);
    expect(inPlace.stdout).toMatch(/^kept \d+ of \d+ traces \(\d+ features\); removed \d+ redundant files/);
    expect(await featuresOf(corpus)).toBe(before);
    expect(existsSync(corpus)).toBe(true);
  });
});
