import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCampaign, type CampaignOptions } from '../../../src/fuzz/campaign.js';
import { CrashStore, readDescription } from '../../../src/fuzz/crash-store.js';
import { LOCK_NAME, LockError } from '../../../src/fuzz/lock.js';
import { loadState, loadCoverage } from '../../../src/fuzz/state.js';
import { TARGETS } from '../../../src/check/targets.js';
import { FLAKY } from '../../support/flaky-target.js';
import { signatureHash } from '../../../src/check/violation.js';
import { allFeatures } from '../../../src/gen/features.js';
import { Rng } from '../../../src/gen/rng.js';
import { generateTrace } from '../../../src/gen/generate.js';
import { DEFAULT_WEIGHTS } from '../../../src/gen/weights.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import { minimizeTrace } from '../../../src/shrink/trace.js';
import { loadTrace } from '../../../src/trace/load.js';

const tmp = (label: string): string => mkdtempSync(join(tmpdir(), `eptfuzz-campaign-${label}-`));

function options(dir: string, over: Partial<CampaignOptions> = {}): CampaignOptions {
  return {
    seed: 'unit', runs: 128, durationMs: null, opsMax: 120, features: allFeatures(), bugs: [], swarm: true,
    corpusDir: join(dir, 'corpus'), crashesDir: join(dir, 'crashes'), outDir: join(dir, 'out'), stopFile: null,
    shrinkStepsMax: 300, shrinkMsMax: 30_000, statusEveryMs: 60_000, workers: 0, oracle: 'machine', ...over,
  };
}

const quiet = { log: (): void => {} };

describe('runCampaign', () => {
  it('records a nondeterministic harness as harness.nondeterminism and reports stability below 100 %', async () => {
    const dir = tmp('flaky');
    const s = await runCampaign(options(dir, { oracle: undefined, stabilityEvery: 2, runs: 64, opsMax: 200 }), FLAKY, quiet);
    expect(s.stabilityChecked).toBe(32);
    expect(s.stabilityPct).toBeLessThan(100);
    const crash = s.crashes.find((c) => c.signature.invariant === 'harness.nondeterminism');
    expect(crash).toBeDefined();
    const d = readDescription(join(dir, 'crashes', crash!.hash));
    expect(d?.note).toMatch(/not minimized/);
    const stats = readFileSync(join(dir, 'out', 'stats'), 'utf8');
    expect(stats).toMatch(/^stability_pct: (\d+\.\d+)$/m);
    expect(Number(/^stability_pct: (\S+)$/m.exec(stats)?.[1])).toBeLessThan(100);
    expect(readFileSync(join(dir, 'out', 'plot.csv'), 'utf8').split('\n')[0]).toContain('stability_pct');
  });

  it('resumes: run index, counters, corpus and coverage continue; no duplicate crash directories', async () => {
    const dir = tmp('resume');
    const first = await runCampaign(options(dir, { bugs: ['canary'], runs: 100 }), TARGETS.machine, quiet);
    const state1 = loadState(join(dir, 'out'))!;
    expect(state1.next_run).toBe(100);
    expect(state1.counters.runs).toBe(100);
    const cov1 = loadCoverage(join(dir, 'out'))!;
    expect(cov1.length).toBe(first.coverage);
    const crashDirs1 = readdirSync(join(dir, 'crashes'));
    const count1 = readDescription(join(dir, 'crashes', first.crashes[0].hash))!.count;

    const logs: string[] = [];
    const second = await runCampaign(options(dir, { bugs: ['canary'], runs: 100 }), TARGETS.machine, { log: (l) => logs.push(l) });
    expect(logs.join('\n')).toMatch(/resuming from .*: run 100/);
    const state2 = loadState(join(dir, 'out'))!;
    expect(state2.next_run).toBe(200);
    expect(state2.counters.runs).toBe(200);
    expect(state2.counters.crashes_total).toBeGreaterThan(state1.counters.crashes_total);
    expect(second.runs).toBe(100);
    expect(second.runsTotal).toBe(200);
    expect(second.coverage).toBeGreaterThanOrEqual(first.coverage);
    expect(second.corpus).toBeGreaterThanOrEqual(first.corpus);
    const crashDirs2 = readdirSync(join(dir, 'crashes'));
    for (const d of crashDirs1) expect(crashDirs2).toContain(d);
    expect(new Set(crashDirs2).size).toBe(crashDirs2.length);
    const canary = second.crashes.find((c) => c.hash === first.crashes[0].hash)!;
    expect(canary.fresh).toBe(false);
    expect(readDescription(join(dir, 'crashes', canary.hash))!.count).toBeGreaterThan(count1);
    // Resumed runs are new runs: their streams continue after the first session's.
    const provenance = readdirSync(join(dir, 'corpus')).map((f) => loadTrace(join(dir, 'corpus', f)).provenance?.seed ?? '');
    expect(provenance.some((p) => Number(p.split('run')[1]) >= 100)).toBe(true);
  });

  it('minimizes in the background and finishes what an earlier campaign left unminimized', async () => {
    const dir = tmp('pending');
    const config = normalizeConfig({ bugs: ['canary'] });
    // A failing canary trace, stored as an earlier campaign killed before minimizing would leave it.
    let trace = null;
    for (let i = 0; trace === null; i++) {
      const t = generateTrace(new Rng(`pending/${i}`), { opsMax: 150, features: allFeatures(), weights: { ...DEFAULT_WEIGHTS }, config });
      if (minimizeTrace(t, TARGETS.machine, { stepsMax: 1 }) !== null) trace = t;
    }
    const whole = minimizeTrace(trace, TARGETS.machine, { stepsMax: 300 })!;
    const hash = signatureHash(whole.signature);
    new CrashStore(join(dir, 'crashes'), 'earlier', {}).create(hash, whole.signature, 5, trace);
    expect(readDescription(join(dir, 'crashes', hash))!.minimized).toBeNull();
    const logs: string[] = [];
    await runCampaign(options(dir, { runs: 1 }), TARGETS.machine, { log: (l) => logs.push(l) });
    expect(logs.join('\n')).toContain('left unminimized');
    const d = readDescription(join(dir, 'crashes', hash))!;
    expect(d.minimized).not.toBeNull();
    // Sliced in the background, the result is exactly the standalone minimizer's.
    expect(loadTrace(join(dir, 'crashes', hash, 'repro.msgpack')).ops).toEqual(whole.trace.ops);
    expect(d.minimized!.ops_after).toBe(whole.trace.ops.length);
  });

  it('refuses a directory a live campaign holds, with one line naming it', async () => {
    const dir = tmp('lock');
    const stop = join(dir, 'STOP');
    const running = runCampaign(options(dir, { runs: null, stopFile: stop }), TARGETS.machine, quiet);
    await new Promise((r) => setTimeout(r, 100));
    await expect(runCampaign(options(dir, { runs: 10, corpusDir: null, outDir: null }), TARGETS.machine, quiet)).rejects.toThrow(LockError);
    writeFileSync(stop, '');
    await running;
    expect(existsSync(join(dir, 'crashes', LOCK_NAME))).toBe(false);
    // A lock of another live process (the test runner's parent) on this host.
    writeFileSync(join(dir, 'crashes', LOCK_NAME), JSON.stringify({ pid: process.ppid, host: hostname(), token: 'x' }));
    const err = await runCampaign(options(dir, { runs: 1 }), TARGETS.machine, quiet).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockError);
    expect((err as Error).message).toBe(`crash directory ${join(dir, 'crashes')} is in use by another campaign (pid ${process.ppid}); stop it or choose another directory`);
  });

  it('takes over a stale lock (its pid is dead)', async () => {
    const dir = tmp('stale');
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }));
    for (const d of ['crashes', 'corpus', 'out']) {
      execFileSync('mkdir', ['-p', join(dir, d)]);
      writeFileSync(join(dir, d, LOCK_NAME), JSON.stringify({ pid: dead, host: hostname(), token: 'old' }));
    }
    const s = await runCampaign(options(dir, { runs: 8 }), TARGETS.machine, quiet);
    expect(s.runs).toBe(8);
    for (const d of ['crashes', 'corpus', 'out']) expect(readdirSync(join(dir, d)).filter((n) => n.startsWith('.'))).toEqual([]);
  });
});
