/**
 * Disk trouble (issue 6): an unusable output directory stops a campaign at start with exit 2 and
 * one line naming it; a disk that fills up mid-run (simulated: EPTFUZZ_INJECT_WRITE_FAULT, the
 * write-fault hook of src/fuzz/atomic.ts) stops it with exit 3 and one line naming the file and
 * the reason, keeping everything written before intact (complete crash directories, decodable
 * corpus files, no temporaries, locks released), and the next campaign resumes from it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCrashDescription, type CrashDescription } from '../../src/fuzz/crash-store.js';
import { loadTrace } from '../../src/trace/load.js';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();
const HOOK = 'EPTFUZZ_INJECT_WRITE_FAULT';
const isRoot = process.getuid?.() === 0;

afterEach(() => { delete process.env[HOOK]; });

const fuzz = (root: string, extra: string[] = []): string[] => ['fuzz', '--seed', seed, '--bug', 'canary', '--oracle', 'machine', '--workers', '0', '--max-ops', '100',
  '--crashes', join(root, 'crashes'), '--corpus', join(root, 'corpus'), '--out', join(root, 'out'), ...extra];

function files(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out.push(p);
    if (statSync(p).isDirectory()) files(p, out);
  }
  return out;
}

/** What was written before the failure is intact: complete crash dirs, decodable traces, no temporaries, no lock. */
function intact(root: string): { crashes: number; traces: number } {
  let crashes = 0;
  let traces = 0;
  for (const p of files(root)) {
    const name = p.split('/').pop()!;
    expect(name.startsWith('.tmp-'), `temporary left: ${p}`).toBe(false);
    expect(name, `lock left: ${p}`).not.toBe('.eptfuzz.lock');
    if (name.endsWith('.msgpack')) { loadTrace(p); traces++; }
  }
  const dir = join(root, 'crashes');
  for (const h of existsSync(dir) ? readdirSync(dir) : []) {
    const d = JSON.parse(readFileSync(join(dir, h, 'description.json'), 'utf8')) as CrashDescription;
    expect(isCrashDescription(d)).toBe(true);
    expect(readdirSync(join(dir, h)).sort()).toEqual(['description.json', ...d.originals, 'repro.msgpack', 'repro.txt', 'seen.json'].sort());
    crashes++;
  }
  return { crashes, traces };
}

describe(`DiskTrouble (seed: ${seed})`, () => {
  it('a file where the crash, corpus or stats directory should be: exit 2, one line, nothing run', async () => {
    const root = tempDir('disk-file');
    for (const flag of ['crashes', 'corpus', 'out']) {
      const d = join(root, flag);
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, 'blocker'), 'x');
      const args = fuzz(root, ['--runs', '10']).map((a) => (a === d ? join(root, 'blocker') : a));
      const r = await cli(args);
      const role = flag === 'crashes' ? 'crash' : flag === 'corpus' ? 'corpus' : 'stats';
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(`eptfuzz: ${role} directory ${join(root, 'blocker')} is not usable: it exists and is not a directory\n`);
      expect(r.stdout).toBe('');
    }
    const r = await cli(fuzz(root, ['--runs', '10']).map((a) => (a === join(root, 'out') ? join(root, 'blocker', 'out') : a)));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^eptfuzz: stats directory .*blocker\/out is not usable: (cannot look it up|cannot create it): a path component is not a directory \(ENOTDIR\)\n$/);
  });

  it('an unwritable directory: exit 2, one line naming it', async () => {
    let dir: string;
    if (!isRoot) {
      const root = tempDir('disk-ro');
      dir = join(root, 'ro');
      mkdirSync(dir);
      chmodSync(dir, 0o555);
    } else if (existsSync('/sys')) {
      dir = `/sys/eptfuzz-${seed}`; // root ignores modes; sysfs refuses new directories even to root
    } else {
      return;
    }
    const r = await cli(['fuzz', '--seed', seed, '--runs', '10', '--workers', '0', '--crashes', join(dir, 'crashes')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^eptfuzz: crash directory ${dir}/crashes is not usable: cannot create it: (permission denied \\(EACCES\\)|operation not permitted \\(EPERM\\)|read-only file system \\(EROFS\\))\\n$`));
  });

  it('a disk that fills up mid-run: exit 3, one line naming the file; what was written is intact and the next campaign resumes', async () => {
    const root = tempDir('disk-full');
    // Writes 1..N succeed (crash dirs, corpus entries, stats), then every write fails: ENOSPC.
    process.env[HOOK] = 'ENOSPC@40';
    const r = await cli(fuzz(root, ['--runs', '640']));
    delete process.env[HOOK];
    expect(r.code, r.stderr).toBe(3);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^eptfuzz: cannot write \S+: no space left on device \(ENOSPC\); stopped \(files written before are intact\)$/);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    const before = intact(root);
    expect(before.traces).toBeGreaterThan(0);
    // The next campaign (disk freed) runs on the same directories.
    const again = await cli(fuzz(root, ['--runs', '64']));
    expect(again.code, again.stderr).toBe(1);
    const after = intact(root);
    expect(after.crashes).toBeGreaterThanOrEqual(before.crashes);
  });

  it('different moments of failure (crash directory, corpus entry, stats, plot, minimized repro) all stop the same way', async () => {
    for (const n of [0, 1, 3, 7, 15, 25]) {
      const root = tempDir(`disk-at-${n}`);
      process.env[HOOK] = `ENOSPC@${n}`;
      const r = await cli(fuzz(root, ['--runs', '320']));
      delete process.env[HOOK];
      expect(r.code, `after ${n} writes: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(/eptfuzz: cannot write \S+: no space left on device \(ENOSPC\); stopped \(files written before are intact\)\n$/);
      intact(root);
    }
  });

  it('in a real process: exit 3 and no stack trace on stderr', () => {
    const root = tempDir('disk-proc');
    const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
    const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...fuzz(root, ['--runs', '320', '--workers', '2'])], { encoding: 'utf8', env: { ...process.env, [HOOK]: 'EDQUOT@10' }, timeout: 60_000 });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^eptfuzz: cannot write \S+: disk quota exceeded \(EDQUOT\); stopped/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    intact(root);
  });
});
