/**
 * hv mode end to end: `fuzz --mode hv --bug pkvm-reclaim-no-zero` generates and mutates hv traces,
 * finds the planted bug (a private page reclaimed without zeroing), minimizes and stores it; the
 * repro replays to exit 1, dumps, converts and minimizes as a hv trace; with worker threads the
 * campaign gives the same crash files. (The correct hypervisor's agreement with the model on
 * generated traces is test/unit/hv/generate.spec.ts.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../../src/trace/load.js';
import { cli, suiteSeed, tempDir, deterministicTree } from './helpers.js';

const seed = suiteSeed();
const RUNS = '64';

function crashDirs(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => existsSync(join(dir, n, 'description.json'))) : [];
}

/** The crash directory whose signature the reclaim bug gives (the model zeroes, the machine does not). */
function reclaimCrash(dir: string): string | undefined {
  return crashDirs(dir).find((h) => {
    const d = JSON.parse(readFileSync(join(dir, h, 'description.json'), 'utf8')) as { signature: { invariant: string; op: string } };
    return d.signature.op === 'vm_reclaim' && ['mem.no-lost-write', 'pkvm.no-content-leak'].includes(d.signature.invariant);
  });
}

describe(`HvCampaignFindsPlantedBug (seed: ${seed})`, () => {
  it('a short hv campaign finds pkvm-reclaim-no-zero; the repro replays (exit 1), dumps, converts and minimizes', async () => {
    const dir = tempDir('hvbug');
    const crashes = join(dir, 'crashes');
    const r = await cli(['fuzz', '--mode', 'hv', '--seed', seed, '--runs', RUNS, '--max-ops', '120', '--workers', '0', '--bug', 'pkvm-reclaim-no-zero', '--crashes', crashes, '--corpus', join(dir, 'corpus')]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('hv mode');
    const hash = reclaimCrash(crashes);
    expect(hash, r.stdout).toBeDefined();
    const repro = join(crashes, hash!, 'repro.msgpack');
    const trace = loadTrace(repro);
    expect(trace.machine.mode).toBe('hv');
    expect(trace.machine.bugs).toEqual(['pkvm-reclaim-no-zero']);
    expect(trace.ops.length).toBeLessThanOrEqual(20);
    expect(trace.ops.some((o) => o.op === 'host_donate_guest')).toBe(true);
    const d = JSON.parse(readFileSync(join(crashes, hash!, 'description.json'), 'utf8')) as { options: Record<string, unknown> };
    expect(d.options.mode).toBe('hv');

    const replay = await cli(['replay', repro]);
    expect(replay.code).toBe(1);
    expect(replay.stdout).toContain('@ vm_reclaim');
    const verbose = await cli(['replay', '--verbose', repro]);
    expect(verbose.code).toBe(1);
    expect(verbose.stdout).toMatch(/vm_reclaim vm=\d+ gfn=0x[0-9a-f]+\n\s+-> ret 0/);
    const json = await cli(['replay', '--json', repro]);
    const steps = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { actual: { kind: string } });
    expect(steps.some((s) => s.actual.kind === 'ret')).toBe(true);

    const dump = await cli(['dump', repro]);
    expect(dump.code).toBe(0);
    expect(dump.stdout).toContain('"mode":"hv"');
    const txt = join(dir, 'repro.txt');
    expect((await cli(['convert', repro, txt, '--to', 'text'])).code).toBe(0);
    expect((await cli(['replay', txt])).code).toBe(1);
    const small = join(dir, 'small.msgpack');
    const min = await cli(['minimize', join(crashes, hash!, 'original-1.msgpack'), '-o', small]);
    expect(min.code, min.stderr).toBe(0);
    expect((await cli(['replay', small])).code).toBe(1);

    // The corpus the campaign kept holds hv traces only, and `corpus list` measures them.
    const list = await cli(['corpus', 'list', join(dir, 'corpus')]);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toMatch(/FAILS/);
    expect(list.stdout).toMatch(/^[0-9a-f]{16}\s+\d+\s+\d+\s+[1-9]\d*/m);
  });

  it('with 2 worker threads a hv campaign writes the same crash files as inline', async () => {
    const dir = tempDir('hvworkers');
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const base = ['fuzz', '--mode', 'hv', '--seed', seed, '--runs', '24', '--max-ops', '60', '--bug', 'pkvm-reclaim-no-zero'];
    const inline = await cli([...base, '--workers', '0', '--crashes', a]);
    const workers = await cli([...base, '--workers', '2', '--crashes', b]);
    expect(workers.code, workers.stderr).toBe(inline.code);
    expect(workers.stdout).toMatch(/done: 24 runs/);
    expect(deterministicTree(b)).toEqual(deterministicTree(a));
  });

  it('refuses what hv mode cannot mean: --features, and a hv bug in bare mode (exit 2, one line)', async () => {
    const f = await cli(['fuzz', '--mode', 'hv', '--features', 'ept', '--runs', '1']);
    expect(f.code).toBe(2);
    expect(f.stderr.trim().split('\n')).toHaveLength(1);
    expect(f.stderr).toContain('--features');
    const b = await cli(['fuzz', '--bug', 'pkvm-reclaim-no-zero', '--runs', '1']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('--mode hv');
    const m = await cli(['fuzz', '--mode', 'vmx', '--runs', '1']);
    expect(m.code).toBe(2);
  });
});
