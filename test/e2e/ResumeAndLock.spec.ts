/**
 * Resume and exclusion: a campaign restarted on the same directories continues its run index and
 * counters; a second campaign on directories a live one holds is refused with exit 2 and one line.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();

const stat = (dir: string, key: string): number => Number(new RegExp(`^${key}: (\\S+)$`, 'm').exec(readFileSync(join(dir, 'stats'), 'utf8'))?.[1]);

describe(`ResumeAndLock (seed: ${seed})`, () => {
  it('a restarted campaign continues runs, execs and crash counts', async () => {
    const d = tempDir('resume');
    const args = ['fuzz', '--seed', seed, '--runs', '96', '--bug', 'canary', '--oracle', 'machine', '--max-ops', '100', '--crashes', join(d, 'crashes'), '--corpus', join(d, 'corpus'), '--out', join(d, 'out')];
    const first = await cli(args);
    expect(first.code, first.stderr).toBe(1);
    const ops1 = stat(join(d, 'out'), 'ops');
    const total1 = stat(join(d, 'out'), 'crashes_total');
    const second = await cli(args);
    expect([0, 1], second.stderr).toContain(second.code); // 1 only if this session hit the bug again
    expect(second.stderr).toMatch(/resuming from .*: run 96/);
    expect(second.stdout).toContain('96 runs (192 in all sessions)');
    expect(stat(join(d, 'out'), 'runs')).toBe(192);
    expect(stat(join(d, 'out'), 'ops')).toBeGreaterThan(ops1);
    expect(stat(join(d, 'out'), 'crashes_total')).toBeGreaterThanOrEqual(total1); // counts carried over, never reset
    expect(stat(join(d, 'out'), 'crashes_unique')).toBeGreaterThanOrEqual(1);
    if (second.code === 1) expect(second.stdout).toContain('known before'); // a repeat hit is not reported as new
  });

  it('refuses directories a live campaign holds: exit 2, one line, no stack', async () => {
    const d = tempDir('locked');
    const crashes = join(d, 'crashes');
    await cli(['fuzz', '--seed', seed, '--runs', '1', '--oracle', 'machine', '--workers', '0', '--crashes', crashes]);
    writeFileSync(join(crashes, '.eptfuzz.lock'), JSON.stringify({ pid: process.ppid, host: hostname(), token: 't' }));
    const r = await cli(['fuzz', '--seed', seed, '--runs', '1', '--oracle', 'machine', '--workers', '0', '--crashes', crashes]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`eptfuzz: crash directory ${crashes} is in use by another campaign (pid ${process.ppid}); stop it or choose another directory\n`);
  });
});
