/**
 * Robustness of the campaign's parts (issue 6): worker faults become harness-fault reports and the
 * campaign goes on; atomic writes leave nothing partial when the disk fills up; unusable
 * directories are refused at lock time; temporaries of killed writers are swept by the next lock
 * holder; stale locks are taken over and recorded.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCampaign, type CampaignOptions } from '../../../src/fuzz/campaign.js';
import { readDescription } from '../../../src/fuzz/crash-store.js';
import { DiskError, appendLine, setWriteFault, sweepTemps, writeDirAtomic, writeFileAtomic } from '../../../src/fuzz/atomic.js';
import { RunEngine, injectedFaults } from '../../../src/fuzz/engine.js';
import { acquireLocks, LOCK_NAME, LockError } from '../../../src/fuzz/lock.js';
import { FAULT_DIED, FAULT_THREW, WORKER_FAULT, type EngineConfig } from '../../../src/fuzz/protocol.js';
import { TARGETS } from '../../../src/check/targets.js';
import { allFeatures, FEATURES } from '../../../src/gen/features.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import { loadTrace } from '../../../src/trace/load.js';

const tmp = (label: string): string => mkdtempSync(join(tmpdir(), `eptfuzz-faults-${label}-`));
const quiet = { log: (): void => {} };

function options(dir: string, over: Partial<CampaignOptions> = {}): CampaignOptions {
  return {
    seed: 'faults', runs: 192, durationMs: null, opsMax: 80, features: allFeatures(), bugs: [], swarm: true,
    corpusDir: join(dir, 'corpus'), crashesDir: join(dir, 'crashes'), outDir: join(dir, 'out'), stopFile: null,
    shrinkStepsMax: 200, shrinkMsMax: 30_000, statusEveryMs: 60_000, workers: 0, oracle: 'machine', ...over,
  };
}

const ENV = 'EPTFUZZ_INJECT_WORKER_FAULT';
afterEach(() => {
  delete process.env[ENV];
  setWriteFault(null);
});

describe('worker faults', () => {
  it('the injection hook parses kinds and runs, and ignores anything else', () => {
    expect([...injectedFaults('throw@3, exit@70,bogus,exit@x,hang@9,hang')]).toEqual([[3, 'throw'], [70, 'exit'], [9, 'hang']]);
    expect(injectedFaults(undefined).size).toBe(0);
  });

  it('a run that throws is reported as a harness fault with its trace; the share goes on', () => {
    const cfg: EngineConfig = { root: 'fault-engine', opsMax: 60, features: [...FEATURES], swarm: true, config: normalizeConfig(), oracle: 'machine', stabilityEvery: 0 };
    const clean = new RunEngine(cfg, TARGETS.machine).runShare({ batch: 0, start: 0, step: 1, end: 8, sync: null });
    process.env[ENV] = 'throw@5';
    const seen: number[] = [];
    const faulty = new RunEngine(cfg, TARGETS.machine).runShare({ batch: 0, start: 0, step: 1, end: 8, sync: null }, (r) => seen.push(r));
    expect(faulty.map((r) => r.run)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(seen).toEqual([0, -1, 1, -1, 2, -1, 3, -1, 4, -1, 5, -1, 6, -1, 7, -1]);
    const rep = faulty[5];
    expect(rep.failure?.signature).toEqual({ invariant: WORKER_FAULT, op: 'run', detail: FAULT_THREW });
    expect(rep.failure?.detail).toMatch(/injected fault at run 5/);
    // The fault's trace is the one run 5 would have run; the other runs are untouched.
    expect(rep.trace?.ops).toEqual(new RunEngine(cfg, TARGETS.machine).makeTrace(5).trace.ops);
    for (const i of [0, 1, 2, 3, 4]) expect(faulty[i]).toEqual(clean[i]);
    // Later runs run the same traces; only which coverage features are new may differ, because the
    // faulted run 5 contributed none.
    const withoutFresh = (r: object): object => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'fresh'));
    for (const i of [6, 7]) expect(withoutFresh(faulty[i])).toEqual(withoutFresh(clean[i]));
    // A share marked faulted (its worker died) reports that run without running it.
    delete process.env[ENV];
    const marked = new RunEngine(cfg, TARGETS.machine).runShare({ batch: 0, start: 0, step: 1, end: 8, sync: null, faulted: [{ run: 2, detail: FAULT_DIED }] });
    expect(marked[2].failure?.signature.detail).toBe(FAULT_DIED);
    expect(marked[2].ops).toBe(0);
  });

  it('hang@R on the main thread throws like the other hooks (inline cannot interrupt a run)', () => {
    const cfg: EngineConfig = { root: 'fault-engine', opsMax: 60, features: [...FEATURES], swarm: true, config: normalizeConfig(), oracle: 'machine', stabilityEvery: 0 };
    process.env[ENV] = 'hang@3';
    const reps = new RunEngine(cfg, TARGETS.machine).runShare({ batch: 0, start: 0, step: 1, end: 5, sync: null });
    expect(reps.map((r) => r.run)).toEqual([0, 1, 2, 3, 4]);
    expect(reps[3].failure?.signature).toEqual({ invariant: WORKER_FAULT, op: 'run', detail: FAULT_THREW });
    expect(reps[3].failure?.detail).toMatch(/injected fault at run 3/);
  });

  it('inline: a throwing run is stored as harness.worker-fault, not minimized, and the campaign finishes its runs', async () => {
    const dir = tmp('inline');
    process.env[ENV] = 'throw@40';
    const s = await runCampaign(options(dir, { runs: 96 }), TARGETS.machine, quiet);
    expect(s.runs).toBe(96);
    const fault = s.crashes.find((c) => c.signature.invariant === WORKER_FAULT);
    expect(fault?.firstSeenRun).toBe(40);
    const d = readDescription(join(dir, 'crashes', fault!.hash));
    expect(d?.note).toMatch(/harness fault/);
    expect(loadTrace(join(dir, 'crashes', fault!.hash, 'repro.msgpack')).signature?.invariant).toBe(WORKER_FAULT);
  });

  it('workers: a worker thread that dies is restarted, its run recorded as a fault, and the campaign goes on', async () => {
    const dir = tmp('workers');
    const base = await runCampaign(options(tmp('workers-base'), { workers: 2 }), TARGETS.machine, quiet);
    process.env[ENV] = 'exit@70,exit@71,exit@77,throw@100';
    const lines: string[] = [];
    const s = await runCampaign(options(dir, { workers: 2 }), TARGETS.machine, { log: (l) => lines.push(l) });
    expect(s.runs).toBe(192);
    expect(s.runsTotal).toBe(base.runsTotal);
    const died = s.crashes.find((c) => c.signature.detail === FAULT_DIED);
    const threw = s.crashes.find((c) => c.signature.detail === FAULT_THREW);
    expect(died).toMatchObject({ firstSeenRun: 70, count: 3 });
    expect(threw).toMatchObject({ firstSeenRun: 100, count: 1 });
    // Each fault's trace is kept: an original per sighting, up to the cap.
    expect(readDescription(join(dir, 'crashes', died!.hash))?.originals).toHaveLength(3);
    expect(lines.some((l) => /run 70: new failure harness\.worker-fault/.test(l))).toBe(true);
  });
});

describe('disk trouble in atomic writes', () => {
  it('a full disk mid-write throws a one-line DiskError, keeps the old file and leaves no temporary', () => {
    const dir = tmp('enospc');
    const file = join(dir, 'state.json');
    writeFileAtomic(file, 'old');
    setWriteFault({ code: 'ENOSPC', after: 0 });
    let err: unknown;
    try { writeFileAtomic(file, 'new content'.repeat(100)); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(DiskError);
    expect((err as Error).message).toBe(`cannot write ${file}: no space left on device (ENOSPC)`);
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['state.json']);
    // A directory is complete or absent.
    expect(() => writeDirAtomic(join(dir, 'crash'), new Map([['a', 'x'], ['b', 'y']]))).toThrow(DiskError);
    expect(readdirSync(dir)).toEqual(['state.json']);
    expect(() => appendLine(join(dir, 'plot.csv'), 'a,b')).toThrow(/no space left on device/);
  });

  it('the fault budget counts writes (a disk that fills up after N writes)', () => {
    const dir = tmp('budget');
    setWriteFault({ code: 'EDQUOT', after: 2 });
    writeFileAtomic(join(dir, 'a'), '1');
    expect(writeDirAtomic(join(dir, 'd'), new Map([['x', '1']]))).toBe(true);
    expect(() => writeFileAtomic(join(dir, 'b'), '2')).toThrow('disk quota exceeded (EDQUOT)');
    expect(readdirSync(dir).sort()).toEqual(['a', 'd']);
  });

  it('the environment hook reaches a child process (the CLI path)', () => {
    const dir = tmp('envhook');
    const code = `import { writeFileAtomic } from ${JSON.stringify(new URL('../../../src/fuzz/atomic.ts', import.meta.url).href)};
      writeFileAtomic(${JSON.stringify(join(dir, 'one'))}, '1');
      try { writeFileAtomic(${JSON.stringify(join(dir, 'two'))}, '2'); } catch (e) { console.log(e.name + ': ' + e.message); }`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: { ...process.env, EPTFUZZ_INJECT_WRITE_FAULT: 'ENOSPC@1' }, encoding: 'utf8' });
    expect(r.stdout.trim()).toBe(`DiskError: cannot write ${join(dir, 'two')}: no space left on device (ENOSPC)`);
    expect(readdirSync(dir)).toEqual(['one']);
  });
});

describe('locks and unusable directories', () => {
  it('a file where a directory is expected is refused with one line naming it', () => {
    const dir = tmp('notdir');
    const file = join(dir, 'crashes');
    writeFileSync(file, 'x');
    expect(() => acquireLocks([{ dir: file, role: 'crash' }])).toThrow(new LockError(`crash directory ${file} is not usable: it exists and is not a directory`));
    const below = join(file, 'sub');
    expect(() => acquireLocks([{ dir: below, role: 'stats' }])).toThrow(/^stats directory .* is not usable: .*\(ENOTDIR\)$/);
  });

  it('taking a lock sweeps temporaries a killed writer left (files and directories, one level down)', () => {
    const dir = tmp('sweep');
    mkdirSync(join(dir, 'abc'));
    writeFileSync(join(dir, 'abc', 'repro.msgpack'), 'keep');
    writeFileSync(join(dir, 'abc', '.tmp-description.json-1-1'), 'partial');
    mkdirSync(join(dir, '.tmp-def-1-2'));
    writeFileSync(join(dir, '.tmp-def-1-2', 'repro.msgpack'), 'partial');
    writeFileSync(join(dir, 'keep.msgpack'), 'keep');
    const locks = acquireLocks([{ dir, role: 'crash' }]);
    expect(locks.swept.sort()).toEqual([join(dir, '.tmp-def-1-2'), join(dir, 'abc', '.tmp-description.json-1-1')]);
    expect(readdirSync(dir).sort()).toEqual(['.eptfuzz.lock', 'abc', 'keep.msgpack']);
    expect(readdirSync(join(dir, 'abc'))).toEqual(['repro.msgpack']);
    locks.release();
    expect(sweepTemps(dir)).toEqual([]);
  });

  it('a stale lock of a dead process is taken over and recorded', () => {
    const dir = tmp('stale');
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const pid = Number(dead.stdout.trim());
    writeFileSync(join(dir, LOCK_NAME), JSON.stringify({ pid, host: hostname(), token: 'dead' }));
    const locks = acquireLocks([{ dir, role: 'crash' }]);
    expect(locks.takenOver).toEqual([{ dir, pid }]);
    expect(JSON.parse(readFileSync(join(dir, LOCK_NAME), 'utf8'))).toMatchObject({ pid: process.pid });
    locks.release();
    expect(existsSync(join(dir, LOCK_NAME))).toBe(false);
  });
});
