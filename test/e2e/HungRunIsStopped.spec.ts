/**
 * Run time limit: a worker thread stuck in an endless loop on one run (the `hang@R` worker-fault
 * hook) is stopped by the pool's watchdog after `--run-timeout`, replaced, and its run recorded as
 * a harness fault of its own signature (FAULT_HUNG) with its trace; the campaign finishes. Every
 * other run gives the same outputs as a campaign without the hang (which, with the limit off, also
 * shows that the option changes nothing when no run hangs). A guard abandons the campaign if the
 * hang is never detected, so a missing watchdog fails the test instead of hanging it.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readDescription } from '../../src/fuzz/crash-store.js';
import { abandonExecutors } from '../../src/fuzz/executor.js';
import { BATCH_RUNS, FAULT_HUNG, WORKER_FAULT } from '../../src/fuzz/protocol.js';
import { loadTrace } from '../../src/trace/load.js';
import { cli, suiteSeed, tempDir, tree } from './helpers.js';

const seed = suiteSeed();
const RUNS = 128;
const base = ['--runs', String(RUNS), '--workers', '2', '--oracle', 'machine', '--max-ops', '80'];
/** Detection takes ~1.25 s with --run-timeout 1s; the whole campaign well under this. */
const BOUND_MS = 20_000;
const ENV = 'EPTFUZZ_INJECT_WORKER_FAULT';

afterEach(() => { delete process.env[ENV]; });

/** The runs whose traces a corpus directory holds (provenance seed `<seed>/run<r>`). */
function corpusRuns(dir: string): Set<number> {
  const out = new Set<number>();
  for (const name of readdirSync(dir)) {
    const m = /\/run(\d+)$/.exec(String(loadTrace(join(dir, name)).provenance?.seed));
    if (m !== null) out.add(Number(m[1]));
  }
  return out;
}

describe(`HungRunIsStopped (seed: ${seed})`, () => {
  it('a worker stuck on one run is stopped after --run-timeout; the run is a harness fault and the rest is unchanged', async () => {
    const clean = tempDir('hang-clean');
    const c = await cli(['fuzz', '--seed', seed, ...base, '--run-timeout', '0', '--crashes', join(clean, 'crashes'), '--corpus', join(clean, 'corpus')]);
    expect(c.code, c.stderr).toBe(0);
    // Hang a run of the second batch that added nothing to the corpus: the main thread's state
    // after it is then the same with or without the hang (corpus files are content-addressed with
    // their run in the provenance, so a run not in the corpus reached no new coverage), so every
    // other run must give the same outputs.
    const added = corpusRuns(join(clean, 'corpus'));
    const hung = [...Array(BATCH_RUNS).keys()].map((i) => BATCH_RUNS + 1 + i).find((r) => !added.has(r));
    expect(hung, 'no run of the second batch left the corpus alone').toBeDefined();

    const dir = tempDir('hang');
    process.env[ENV] = `hang@${hung}`;
    const guard = setTimeout(() => abandonExecutors(), BOUND_MS);
    const t0 = performance.now();
    const r = await cli(['fuzz', '--seed', seed, ...base, '--run-timeout', '1s', '--crashes', join(dir, 'crashes'), '--corpus', join(dir, 'corpus')]);
    const elapsed = performance.now() - t0;
    clearTimeout(guard);
    expect(elapsed, 'the hung run was not stopped (the guard abandoned the campaign)').toBeLessThan(BOUND_MS);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^done: ${RUNS} runs, `, 'm'));
    expect(r.stdout).toContain('2 workers');

    // Exactly one signature: the hung run, as a harness fault with its own detail and its trace.
    const hashes = readdirSync(join(dir, 'crashes')).filter((n) => !n.startsWith('.'));
    expect(hashes).toHaveLength(1);
    const d = readDescription(join(dir, 'crashes', hashes[0]));
    expect(d?.signature).toEqual({ invariant: WORKER_FAULT, op: 'run', detail: FAULT_HUNG });
    expect(d).toMatchObject({ count: 1, first_seen_run: hung });
    expect(d?.originals).toHaveLength(1);
    const repro = loadTrace(join(dir, 'crashes', hashes[0], 'repro.msgpack'));
    expect(repro.provenance?.seed).toBe(`${seed}/run${hung}`);
    expect(repro.ops.length).toBeGreaterThan(0);
    expect(r.stderr).toContain(`run ${hung}: new failure harness.worker-fault @ run: ${FAULT_HUNG}`);

    // Every other run: the same corpus, byte for byte.
    const [a, b] = [clean, dir].map((x) => tree(join(x, 'corpus')));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, bytes] of a) expect(bytes.equals(b.get(k) as Buffer), k).toBe(true);
  }, 60_000);
});
