/**
 * The planted canary (a 2-byte write across a 4 KiB boundary loses its last byte) must be found by
 * a short campaign, minimized to a handful of ops, and reproduce on replay. Proves the whole
 * pipeline (generator, runner, checker, minimizer, crash store, replay) catches a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signatureHash } from '../../src/check/violation.js';
import { loadTrace } from '../../src/trace/load.js';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();
const CANARY = { invariant: 'mem.no-lost-write', op: 'access', detail: 'access.write.complete -> data byte the op wrote: data bytes differ' };

describe(`CanaryIsFound (seed: ${seed})`, () => {
  it('a 300-run campaign with --bug canary finds, minimizes and stores it; replay reproduces it', async () => {
    const dir = tempDir('canary');
    const crashes = join(dir, 'crashes');
    const r = await cli(['fuzz', '--seed', seed, '--runs', '300', '--bug', 'canary', '--oracle', 'machine', '--crashes', crashes, '--out', join(dir, 'out')]);
    expect(r.code, r.stderr).toBe(1);
    const hash = signatureHash(CANARY);
    expect(r.stdout).toContain(hash);
    const crash = join(crashes, hash);
    for (const f of ['repro.msgpack', 'repro.txt', 'description.json', 'original-1.msgpack']) expect(existsSync(join(crash, f))).toBe(true);

    const repro = loadTrace(join(crash, 'repro.msgpack'));
    expect(repro.signature).toEqual(CANARY);
    expect(repro.ops.length).toBeLessThanOrEqual(30);
    const last = repro.ops[repro.ops.length - 1];
    expect(last.op).toBe('write');
    if (last.op === 'write') expect((last.la % 4096) + last.size).toBeGreaterThan(4096);

    const d = JSON.parse(readFileSync(join(crash, 'description.json'), 'utf8')) as { count: number; seed: string; rule: string; minimized: { ops_after: number } };
    expect(d.rule, 'the rule in dispute').toBe('access.write.complete');
    expect(d.seed).toBe(seed);
    expect(d.minimized.ops_after).toBe(repro.ops.length);

    const replay = await cli(['replay', '--oracle', 'machine', join(crash, 'repro.msgpack')]);
    expect(replay.code).toBe(1);
    expect(replay.stdout).toContain('mem.no-lost-write @ access: access.write.complete -> data byte the op wrote: data bytes differ');
    expect(existsSync(join(dir, 'out', 'stats'))).toBe(true);
    expect(readFileSync(join(dir, 'out', 'plot.csv'), 'utf8').split('\n')[0]).toMatch(/^elapsed_s,runs,ops/);
  });

  it('the same campaign without the bug finds nothing (exit 0)', async () => {
    const dir = tempDir('nocanary');
    const r = await cli(['fuzz', '--seed', seed, '--runs', '100', '--oracle', 'machine', '--crashes', join(dir, 'crashes')]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('no failures');
  });
});
