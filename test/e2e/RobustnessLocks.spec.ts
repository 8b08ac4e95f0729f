/**
 * Directory locks between real processes (issue 6): a second campaign on directories a live one
 * holds (all of them, or only the corpus or stats directory) is refused with exit 2 and one line
 * naming the directory and the holder's pid, and touches nothing; two campaigns started at the
 * same moment on fresh directories: exactly one runs; the lock of a campaign killed with SIGKILL
 * is stale and the next campaign takes it over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_NAME } from '../../src/fuzz/lock.js';
import { cli, suiteSeed, tempDir, tree } from './helpers.js';

const seed = suiteSeed();
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

interface Running { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>; started: Promise<void> }

function start(args: string[]): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onStart: () => void = () => {};
  const started = new Promise<void>((resolve) => { onStart = resolve; });
  child.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
    if (/^seed /m.test(stderr) || /^eptfuzz: /m.test(stderr)) onStart();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => { onStart(); resolve({ code, signal, stdout, stderr }); });
  });
  return { child, done, started };
}

const dirs = (root: string, corpus = join(root, 'corpus'), out = join(root, 'out'), crashes = join(root, 'crashes')): string[] =>
  ['--crashes', crashes, '--corpus', corpus, '--out', out];
const base = ['fuzz', '--seed', seed, '--bug', 'canary', '--oracle', 'machine', '--workers', '1'];

describe(`RobustnessLocks (seed: ${seed})`, () => {
  it('a second campaign on a live campaign\'s directories is refused with one line and touches nothing', async () => {
    const root = tempDir('locks-live');
    const a = start([...base, '--duration', '60s', ...dirs(root)]);
    await a.started;
    const pid = a.child.pid!;
    const other = tempDir('locks-other');
    const cases: Array<[string[], string]> = [
      [dirs(root), `crash directory ${join(root, 'crashes')}`],
      [dirs(other, join(root, 'corpus')), `corpus directory ${join(root, 'corpus')}`],
      [dirs(other, join(other, 'corpus'), join(root, 'out')), `stats directory ${join(root, 'out')}`],
    ];
    for (const [d, what] of cases) {
      const before = tree(root);
      const r = await cli([...base, '--runs', '64', ...d]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(`eptfuzz: ${what} is in use by another campaign (pid ${pid}); stop it or choose another directory\n`);
      expect(r.stdout).toBe('');
      // Nothing of the refused campaign reached the live one's directories (its own files may have grown).
      for (const [name] of before) if (!name.startsWith('out/') && !name.includes('.tmp-')) expect(existsSync(join(root, name)), name).toBe(true);
    }
    // The same from a separate process, while the first still runs.
    const b = start([...base, '--runs', '64', ...dirs(root)]);
    const rb = await b.done;
    expect(rb.code).toBe(2);
    expect(rb.stderr).toBe(`eptfuzz: crash directory ${join(root, 'crashes')} is in use by another campaign (pid ${pid}); stop it or choose another directory\n`);
    a.child.kill('SIGTERM');
    const ra = await a.done;
    expect([0, 1], ra.stderr).toContain(ra.code);
    expect(ra.stdout).toContain('stopped by signal');
    expect(existsSync(join(root, 'crashes', LOCK_NAME))).toBe(false);
  }, 120_000);

  it('two campaigns started at the same moment on the same fresh directories: exactly one runs', async () => {
    const root = tempDir('locks-race');
    const runs = [start([...base, '--runs', '128', ...dirs(root)]), start([...base, '--runs', '128', ...dirs(root)])];
    const results = await Promise.all(runs.map((r) => r.done));
    const codes = results.map((r) => r.code).sort();
    expect(codes, results.map((r) => r.stderr).join('\n---\n')).toEqual([1, 2]);
    const refused = results.find((r) => r.code === 2)!;
    expect(refused.stderr).toMatch(/^eptfuzz: (crash|corpus|stats) directory \S+ is in use by another campaign \(pid \d+\); stop it or choose another directory\n$/);
  }, 120_000);

  it('the lock of a campaign killed with SIGKILL is stale: the next campaign takes it over', async () => {
    const root = tempDir('locks-stale');
    const a = start([...base, '--duration', '60s', ...dirs(root)]);
    await a.started;
    const pid = a.child.pid!;
    a.child.kill('SIGKILL');
    await a.done;
    for (const d of ['crashes', 'corpus', 'out']) {
      expect(JSON.parse(readFileSync(join(root, d, LOCK_NAME), 'utf8'))).toMatchObject({ pid });
    }
    const r = await cli([...base, '--runs', '64', ...dirs(root)]);
    expect(r.code, r.stderr).toBe(1);
    for (const d of ['crashes', 'corpus', 'out']) expect(existsSync(join(root, d, LOCK_NAME))).toBe(false);
  }, 120_000);
});
