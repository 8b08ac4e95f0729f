/**
 * Guarantee: a trace written by `minimize -o` or `convert` is in the form its file name says
 * (.msgpack, .txt, .json) unless a form is given explicitly; a name that says no form is refused
 * with one line (exit 2) and nothing is written. `minimize` exits 0 when it wrote the smaller trace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTrace } from '../../src/trace/load.js';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();

describe(`OutputFormFollowsTheName (seed: ${seed})`, () => {
  let dir = '';
  let original = '';
  beforeAll(async () => {
    dir = tempDir('outform');
    const crashes = join(dir, 'crashes');
    const f = await cli(['fuzz', '--seed', seed, '--runs', '300', '--bug', 'canary', '--oracle', 'machine', '--workers', '0', '--crashes', crashes, '--shrink-steps', '200']);
    expect(f.code, f.stderr).toBe(1);
    const hash = /([0-9a-f]{16}) {2}mem\.no-lost-write/.exec(f.stdout)?.[1] as string;
    original = join(crashes, hash, 'original-1.msgpack');
  });

  it('minimize -o x.c is refused with one line before any work; nothing is written', async () => {
    const out = join(dir, 'x.c');
    const r = await cli(['minimize', '--oracle', 'machine', original, '-o', out, '--max-steps', '50']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/x\.c: unknown output extension/);
    expect(existsSync(out)).toBe(false);
  });

  it('minimize writes the form the extension names, and exits 0 when it minimized', async () => {
    for (const [name, head] of [['small.txt', /^@schema \d+$/m], ['small.json', /^\{/]] as const) {
      const out = join(dir, name);
      const r = await cli(['minimize', '--oracle', 'machine', original, '-o', out, '--max-steps', '300']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/minimized \d+ -> \d+ ops/);
      expect(readFileSync(out, 'utf8')).toMatch(head);
      expect((await cli(['replay', '--oracle', 'machine', out])).code).toBe(1); // the failure is kept
    }
    const forced = join(dir, 'small.repro');
    const r = await cli(['minimize', '--oracle', 'machine', original, '-o', forced, '--format', 'text', '--max-steps', '300']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(forced, 'utf8')).toMatch(/^@schema \d+$/m);
  });

  it('convert infers the form from the extension; an unknown one without --to is refused', async () => {
    const json = join(dir, 'c.json');
    const c = await cli(['convert', original, json]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain('(json)');
    expect(JSON.parse(readFileSync(json, 'utf8'))).toBeTypeOf('object');
    const txt = join(dir, 'c.txt');
    expect((await cli(['convert', json, txt])).code).toBe(0);
    expect(readFileSync(txt, 'utf8')).toMatch(/^@schema \d+$/m);
    const back = join(dir, 'c.msgpack');
    expect((await cli(['convert', txt, back])).code).toBe(0);
    expect(loadTrace(back)).toEqual(loadTrace(original));
    const odd = join(dir, 'c.trace');
    const r = await cli(['convert', original, odd]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(odd)).toBe(false);
    expect((await cli(['convert', original, odd, '--to', 'text'])).code).toBe(0);
  });
});
