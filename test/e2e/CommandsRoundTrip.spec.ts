/**
 * minimize, dump, convert and bugs work end to end on real traces: minimize keeps the signature
 * and writes a smaller trace; convert round-trips between the three forms; bugs lists the catalogue.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../../src/trace/load.js';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();

describe(`CommandsRoundTrip (seed: ${seed})`, () => {
  it('minimize shrinks an original crash and keeps its signature; convert and dump round-trip', async () => {
    const dir = tempDir('cmds');
    const crashes = join(dir, 'crashes');
    const f = await cli(['fuzz', '--seed', seed, '--runs', '300', '--bug', 'canary', '--oracle', 'machine', '--crashes', crashes]);
    expect(f.code).toBe(1);
    const hash = /([0-9a-f]{16}) {2}mem\.no-lost-write/.exec(f.stdout)?.[1] as string;
    const original = join(crashes, hash, 'original-1.msgpack');
    const small = join(dir, 'small.txt');
    const m = await cli(['minimize', '--oracle', 'machine', original, '-o', small, '--max-steps', '3000']);
    expect(m.code, m.stderr).toBe(0); // minimized and written: success (replaying it exits 1)
    expect(m.stdout).toMatch(/minimized \d+ -> \d+ ops/);
    const t = loadTrace(small);
    expect(t.signature).toEqual({ invariant: 'mem.no-lost-write', op: 'access', detail: 'access.write.complete -> data byte the op wrote: data bytes differ' });
    expect(t.ops.length).toBeLessThan(loadTrace(original).ops.length);

    const json = join(dir, 'small.json');
    const back = join(dir, 'back.msgpack');
    expect((await cli(['convert', small, json, '--to', 'json'])).code).toBe(0);
    expect((await cli(['convert', json, back, '--to', 'msgpack'])).code).toBe(0);
    expect(loadTrace(back)).toEqual(t);
    const dump = await cli(['dump', back]);
    expect(dump.code).toBe(0);
    expect(dump.stdout).toBe(readFileSync(small, 'utf8'));
  });

  it('minimize of a passing trace refuses with one line (exit 2) and writes nothing', async () => {
    const dir = tempDir('minpass');
    const src = join(dir, 'p.txt');
    writeFileSync(src, '@schema 1\n@eptfuzz 0.1.0\n@machine {}\nset_reg cpu=0 reg=cpl value=0x3\n');
    const r = await cli(['minimize', '--oracle', 'machine', src, '-o', join(dir, 'out.msgpack')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('does not fail');
    expect(existsSync(join(dir, 'out.msgpack'))).toBe(false);
  });

  it('bugs lists the catalogue', async () => {
    const r = await cli(['bugs']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^canary\s+\[hw\]/m);
  });
});
