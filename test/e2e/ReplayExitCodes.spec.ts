/**
 * The exit-code contract of replay (and the other commands): 0 nothing fails, 1 a failure
 * reproduces, 2 bad usage or bad input with exactly one line on stderr and no stack trace.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/gen/rng.js';
import { generateTrace } from '../../src/gen/generate.js';
import { allFeatures } from '../../src/gen/features.js';
import { DEFAULT_WEIGHTS } from '../../src/gen/weights.js';
import { normalizeConfig } from '../../src/hw/config.js';
import { saveTrace } from '../../src/trace/load.js';
import type { Op } from '../../src/trace/ops.js';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();

function oneLineError(stderr: string): void {
  const lines = stderr.split('\n').filter((l) => l.length > 0 && !l.startsWith('npm warn'));
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^eptfuzz: /);
  expect(stderr).not.toMatch(/\n\s+at /);
}

/** A canary trace written by hand: EPT and guest mappings for two adjacent pages, then a crossing write. */
function canaryOps(): Op[] {
  const ept = (gpa: number, level: number, entry: bigint): Op => ({ op: 'ept_set', cpu: 0, gpa, level, entry });
  const gpt = (la: number, level: number, entry: bigint): Op => ({ op: 'gpt_set', cpu: 0, la, level, entry });
  return [
    ept(0x0, 4, 0x2007n), ept(0x0, 3, 0x3007n), ept(0x0, 2, 0x4007n),
    ept(0x10_0000, 2, 0x5007n), // PT for GPAs 0x100000..0x1fffff
    ept(0x10_0000, 1, 0x10_0037n), ept(0x10_1000, 1, 0x10_1037n), ept(0x10_2000, 1, 0x10_2037n), ept(0x10_3000, 1, 0x10_3037n),
    ept(0x20_0000, 2, 0x6007n), ept(0x20_0000, 1, 0x20_0037n), ept(0x20_1000, 1, 0x20_1037n),
    { op: 'set_reg', cpu: 0, reg: 'cr3', value: 0x10_0000n },
    gpt(0x40_0000, 4, 0x10_1007n), gpt(0x40_0000, 3, 0x10_2007n), gpt(0x40_0000, 2, 0x10_3007n),
    gpt(0x40_0000, 1, 0x20_0007n), gpt(0x40_1000, 1, 0x20_1007n),
    { op: 'write', cpu: 0, la: 0x40_0fff, size: 2, value: 0xbeefn },
  ];
}

describe(`ReplayExitCodes (seed: ${seed})`, () => {
  const dir = tempDir('replay');
  const passing = join(dir, 'pass.msgpack');
  const failing = join(dir, 'fail.txt');
  const features = allFeatures();
  saveTrace(passing, generateTrace(new Rng(seed), { opsMax: 150, features, weights: { ...DEFAULT_WEIGHTS }, config: normalizeConfig() }), 'msgpack');
  saveTrace(failing, { schema: 1, eptfuzz: '0.1.0', machine: normalizeConfig({ bugs: ['canary'] }), ops: canaryOps() }, 'text');

  it('0 when nothing fails', async () => {
    const r = await cli(['replay', '--oracle', 'machine', passing]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS /);
  });

  it('1 when a failure reproduces, with the signature and the step', async () => {
    const r = await cli(['replay', '--oracle', 'machine', failing]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL');
    expect(r.stdout).toContain('mem.no-lost-write @ access: access.write.complete -> data byte the op wrote: data bytes differ at step 17');
  });

  it('1 when any of several traces fails', async () => {
    expect((await cli(['replay', '--oracle', 'machine', passing, failing])).code).toBe(1);
  });

  it('--json prints one JSON object per step with op, actual, allowed and violations', async () => {
    const r = await cli(['replay', '--oracle', 'machine', '--json', failing]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(18);
    expect(lines[17]).toMatchObject({ step: 17, op: { op: 'write', la: '0x400fff', size: 2 }, actual: { kind: 'ok' } });
    expect((lines[17].violations as Array<{ invariant: string }>)[0].invariant).toBe('mem.no-lost-write');
  });

  it('--verbose decodes exits and #PF', async () => {
    const r = await cli(['replay', '--oracle', 'machine', '--verbose', passing]);
    expect(r.stdout).toMatch(/kvm_exit: reason EPT_\w+ \(\d+\) qual 0x[0-9a-f]+ \[|kvm_inj_exception: #PF error_code 0x[0-9a-f]+ \[/);
  });

  it('2 with one line for a missing file, a garbage file, an unknown option and a missing argument', async () => {
    const garbage = join(dir, 'garbage.txt');
    writeFileSync(garbage, 'this is not a trace\n');
    const bad = join(dir, 'bad-op.txt');
    writeFileSync(bad, '@schema 1\n@eptfuzz 0.1.0\n@machine {}\nfrobnicate cpu=0\n');
    for (const args of [
      ['replay', join(dir, 'missing.msgpack')],
      ['replay', garbage],
      ['replay', bad],
      ['replay', '--bogus', passing],
      ['replay'],
      ['fuzz', '--runs', 'many'],
      ['fuzz', '--bug', 'no-such-bug', '--runs', '1'],
      ['fuzz', '--features', 'ept,warp', '--runs', '1'],
      ['fuzz', '--runs', '0'],
      ['fuzz', '--duration', '0'],
      ['fuzz', '--duration', '0s', '--runs', '5'],
      ['convert', passing, join(dir, 'x.out'), '--to', 'yaml'],
      ['nonsense'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      oneLineError(r.stderr);
    }
  });

  it('--help of every command exits 0 and shows an example', async () => {
    for (const c of ['fuzz', 'replay', 'minimize', 'dump', 'convert', 'bugs']) {
      const r = await cli([c, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Example/);
    }
  });
});
