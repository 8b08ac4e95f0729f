/**
 * The out-of-process target path end to end, with the reference adapter (the built-in machine
 * behind the adapter protocol, src/target/machine-adapter.ts): traces are refused, lowered,
 * encoded, run in another process, parsed and judged; a wrong outcome is caught; a target that
 * dies or hangs on one trace is a fault of that trace only; campaigns on a target find, minimize
 * and store failures, byte-identically whatever the number of target processes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir, deterministicTree } from './helpers.js';

const ADAPTER = 'exec:node --import tsx src/target/machine-adapter.ts';
const SEEDS = ['corpus/seeds/ept-permissions.txt', 'corpus/seeds/guest-paging.txt', 'corpus/seeds/spp.txt', 'corpus/seeds/tlb-invalidation.txt'];
const seed = suiteSeed();

afterEach(() => {
  delete process.env.EPTFUZZ_ADAPTER_CORRUPT;
  delete process.env.EPTFUZZ_ADAPTER_DIE;
  delete process.env.EPTFUZZ_ADAPTER_HANG;
  delete process.env.EPTFUZZ_TARGET_TIMEOUT_MS;
});

describe(`TargetAdapterProtocol (seed ${seed})`, () => {
  it('corpus seeds agree with the model through the adapter, under the target configuration', async () => {
    const r = await cli(['replay', '--target', ADAPTER, ...SEEDS]);
    expect(r.stderr).toContain('runs under the machine-adapter configuration');
    expect(r.stdout.match(/^PASS /gm)?.length).toBe(SEEDS.length);
    expect(r.code).toBe(0);
  });

  it('a wrong outcome from the target is a failure at the right step', async () => {
    process.env.EPTFUZZ_ADAPTER_CORRUPT = 'pf';
    const r = await cli(['replay', '--target', ADAPTER, 'corpus/seeds/guest-paging.txt']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL corpus\/seeds\/guest-paging.txt on machine-adapter: fault\.pf-error-code @ access: paging\.rw\.supervisor-write-wp -> pf not-present at step 20$/m);
  });

  it('a target that dies on one trace faults that trace only', async () => {
    process.env.EPTFUZZ_ADAPTER_DIE = '1';
    const r = await cli(['replay', '--target', ADAPTER, ...SEEDS.slice(0, 3)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAULT corpus\/seeds\/guest-paging.txt: .*exited with code 139/m);
    expect(r.stdout.match(/^PASS /gm)?.length).toBe(2);
  });

  it('a target that hangs is stopped and faults that trace', async () => {
    process.env.EPTFUZZ_ADAPTER_HANG = '0';
    process.env.EPTFUZZ_TARGET_TIMEOUT_MS = '3000';
    const r = await cli(['replay', '--target', ADAPTER, SEEDS[0]]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAULT .*did not finish within 3000 ms/m);
  });

  it('a trace the target cannot run is refused before anything runs', async () => {
    const r = await cli(['replay', '--target', ADAPTER, 'corpus/seeds/hv-vtl.txt']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/runs bare-mode traces only|vCPU/);
  });

  it('an unknown target or a broken adapter is one line, exit 2', async () => {
    const a = await cli(['replay', '--target', 'nosuch', SEEDS[0]]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/^eptfuzz: --target: expected machine, bochs, qemu or exec:CMD/);
    const b = await cli(['replay', '--target', 'exec:/nonexistent/adapter', SEEDS[0]]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--profile failed/);
  });

  it('a campaign on a target finds a target defect, minimizes it there, and stores the same files with 1 or 2 target processes', async () => {
    process.env.EPTFUZZ_ADAPTER_CORRUPT = 'exit';
    const dirs = [1, 2].map((w) => ({ w, crashes: tempDir(`tgt-crashes-${w}`) }));
    for (const d of dirs) {
      const r = await cli(['fuzz', '--target', ADAPTER, '--seed', seed, '--runs', '64', '--workers', String(d.w), '--crashes', d.crashes, '--shrink-steps', '40']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/new failure/);
    }
    const [a, b] = dirs.map((d) => deterministicTree(d.crashes));
    expect([...a.keys()].some((k) => k.endsWith('repro.txt'))).toBe(true);
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [k, v] of a) expect(b.get(k)?.equals(v), k).toBe(true);
  }, 240_000);
});
