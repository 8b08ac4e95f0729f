/**
 * Guarantee: a campaign resumes only under the conditions its coverage was reached with. Another
 * --mode, another planted-bug list or machine configuration, or --out without the --corpus the
 * campaign kept is refused with one line naming the difference (exit 2), and the saved state is
 * left as it was; the same options still resume.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();

function refused(r: { code: number; stderr: string }, words: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^eptfuzz: /);
  expect(lines[0]).toMatch(words);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe(`ResumeRefusesOtherConditions (seed: ${seed})`, () => {
  let d = '';
  let base: string[] = [];
  let state = '';
  beforeAll(async () => {
    d = tempDir('resume-cond');
    base = ['--seed', seed, '--runs', '32', '--oracle', 'machine', '--workers', '0', '--max-ops', '60', '--out', join(d, 'out')];
    const first = await cli(['fuzz', ...base, '--crashes', join(d, 'crashes'), '--corpus', join(d, 'corpus')]);
    expect([0, 1], first.stderr).toContain(first.code);
    state = readFileSync(join(d, 'out', 'state.json'), 'utf8');
  });

  it('another --mode: refused, naming both modes', async () => {
    refused(await cli(['fuzz', ...base, '--mode', 'hv', '--crashes', join(d, 'crashes'), '--corpus', join(d, 'corpus')]), /--mode hv: the campaign in .* ran --mode bare/);
    expect(readFileSync(join(d, 'out', 'state.json'), 'utf8')).toBe(state);
  });

  it('another planted-bug list: refused, naming both lists', async () => {
    refused(await cli(['fuzz', ...base, '--bug', 'canary', '--crashes', join(d, 'crashes'), '--corpus', join(d, 'corpus')]), /--bug: .*planted bugs none, this run with canary/);
  });

  it('--out without the --corpus the campaign kept: refused', async () => {
    refused(await cli(['fuzz', ...base, '--crashes', join(d, 'crashes')]), /--corpus missing: the campaign in .* kept a corpus/);
    expect(readFileSync(join(d, 'out', 'state.json'), 'utf8')).toBe(state);
  });

  it('the same options resume', async () => {
    const again = await cli(['fuzz', ...base, '--crashes', join(d, 'crashes'), '--corpus', join(d, 'corpus')]);
    expect([0, 1], again.stderr).toContain(again.code);
    expect(again.stderr).toMatch(/resuming from .*: run 32/);
  });

  it('a hv campaign resumed with --mode bare is refused too', async () => {
    const h = tempDir('resume-hv');
    const hv = ['--seed', seed, '--runs', '16', '--oracle', 'machine', '--workers', '0', '--mode', 'hv', '--crashes', join(h, 'crashes'), '--out', join(h, 'out')];
    const first = await cli(['fuzz', ...hv]);
    expect([0, 1], first.stderr).toContain(first.code);
    refused(await cli(['fuzz', ...hv.filter((a) => a !== '--mode' && a !== 'hv')]), /--mode bare: the campaign in .* ran --mode hv/);
  });
});
