/**
 * Bench section `target`: traces per second against each real target on one core (one emulator
 * process, the campaign's batch size, boot included: Bochs through the agent under VMX, QEMU's
 * TCG through the agent in direct mode), the share of the time spent inside the emulator (the
 * rest is eptfuzz lowering, encoding and judging on the main thread), and, as the same-run
 * baseline, the built-in machine judging the same traces. Each figure runs the same traces once
 * one batch at a time (as before the pipeline) and then pipelined (src/target/external.ts
 * `runPipelined`, as a campaign runs them), with the campaign's batch size and a larger one;
 * the pipelined lines give traces/s per worker and the CPU-seconds per trace of this process
 * plus its children (the adapter and the emulator; /proc/self/stat), the honest per-core figure:
 * the pipeline overlaps this process's work with the emulator's, so it uses up to two cores.
 * A target whose emulator is not installed is skipped, with a line saying so.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { runWith } from '../src/check/runner.js';
import { MODEL_TARGET } from '../src/check/targets.js';
import { allFeatures } from '../src/gen/features.js';
import { generateTrace } from '../src/gen/generate.js';
import { Rng } from '../src/gen/rng.js';
import { DEFAULT_WEIGHTS } from '../src/gen/weights.js';
import { runOnTarget, runPipelined, type BatchStats, type ExternalTarget, type TraceVerdict } from '../src/target/external.js';
import { fitToTarget } from '../src/target/fit.js';
import { bochsTarget, qemuTarget } from '../src/target/registry.js';
import { BATCH_RUNS } from '../src/fuzz/protocol.js';
import type { Trace } from '../src/trace/trace.js';

/** Traces per figure (four batches of the campaign's size, one of LARGE_BATCH). */
const TRACES = 4 * BATCH_RUNS;
/** The larger batch a campaign gets with `--block-runs 256` (one boot per 256 traces). */
const LARGE_BATCH = 256;

function installed(binary: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }); return true; } catch { return false; }
}

function traces(t: ExternalTarget, n: number, opsMax: number, stream = 'bench-target/run'): Trace[] {
  const out: Trace[] = [];
  for (let i = 0; i < n; i++) {
    const tr = generateTrace(new Rng(`${stream}${i}`), { opsMax, features: allFeatures(), weights: { ...DEFAULT_WEIGHTS }, config: t.profile.config, fixedConfig: true });
    out.push(fitToTarget(tr, t.profile));
  }
  return out;
}

/** CPU seconds so far of this process and of its finished children (the adapters and their emulators; Linux /proc), or null. */
function cpuSeconds(): { self: number; children: number | null } {
  const u = process.cpuUsage();
  let children: number | null = null;
  try {
    const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    children = (Number(f[13]) + Number(f[14])) / CLOCK_TICKS;
  } catch { /* not Linux */ }
  return { self: (u.user + u.system) / 1e6, children };
}

/** USER_HZ: /proc/self/stat counts children's time in these (100 on every Linux we run on). */
const CLOCK_TICKS = 100;

interface Measured { perSec: number; wallMs: number; targetMs: number; batches: number; failed: number; cpuSelf: number; cpuChildren: number | null }

async function measure(t: ExternalTarget, list: readonly Trace[], batchRuns: number, pipelined: boolean): Promise<Measured> {
  const stats: BatchStats = { batches: 0, targetMs: 0, hello: {} };
  const batches: Trace[][] = [];
  for (let b = 0; b < list.length; b += batchRuns) batches.push(list.slice(b, b + batchRuns));
  const c0 = cpuSeconds();
  const t0 = performance.now();
  let verdicts: TraceVerdict[][];
  if (pipelined) verdicts = await runPipelined(t, batches, { stats });
  else {
    verdicts = [];
    for (const b of batches) verdicts.push(await runOnTarget(t, b, { stats }));
  }
  const wallMs = performance.now() - t0;
  const c1 = cpuSeconds();
  const failed = verdicts.flat().filter((x) => x.kind === 'judged' && x.judged.first !== null).length;
  return {
    perSec: list.length / (wallMs / 1000), wallMs, targetMs: stats.targetMs, batches: stats.batches, failed,
    cpuSelf: c1.self - c0.self, cpuChildren: c1.children === null || c0.children === null ? null : c1.children - c0.children,
  };
}

/** "CPU 9.8 ms per trace (eptfuzz 3.1, adapter and emulator 6.7: 68 %) = 102 traces per CPU-second". */
function cpuPhrase(m: Measured, n: number): { text: string; perCpuSecond: number | null } {
  if (m.cpuChildren === null) return { text: `CPU of this process ${((1000 * m.cpuSelf) / n).toFixed(1)} ms per trace (the target's own CPU is not measurable here)`, perCpuSecond: null };
  const total = m.cpuSelf + m.cpuChildren;
  const perCpuSecond = n / total;
  return {
    text: `CPU ${((1000 * total) / n).toFixed(1)} ms per trace (eptfuzz ${((1000 * m.cpuSelf) / n).toFixed(1)}, adapter and emulator ${((1000 * m.cpuChildren) / n).toFixed(1)}: ${((100 * m.cpuChildren) / total).toFixed(0)} %) = ${perCpuSecond.toFixed(0)} traces per CPU-second`,
    perCpuSecond,
  };
}

async function benchOne(name: string, t: ExternalTarget): Promise<string[]> {
  const lines = [`target ${name}: ${t.profile.description}; one ${name} process at a time, boot included in every batch`];
  // One batch first, not counted: the first figure would otherwise carry V8's compiling of the
  // lowering, pre-run and judging paths (several CPU-seconds on background threads).
  await runOnTarget(t, traces(t, BATCH_RUNS, 64, 'bench-target/warm'));
  for (const opsMax of [64, 200]) {
    const list = traces(t, TRACES, opsMax);
    const t1 = performance.now();
    for (const tr of list) runWith(tr, MODEL_TARGET, { stopAtFirst: true });
    const builtin = list.length / ((performance.now() - t1) / 1000);
    const serial = await measure(t, list, BATCH_RUNS, false);
    lines.push(`  ${opsMax}-op traces, batches of ${BATCH_RUNS}, one at a time: ${serial.perSec.toFixed(1)} traces/s (${list.length} traces in ${(serial.wallMs / 1000).toFixed(1)} s, ${serial.batches} runs of ${name}), `
      + `${((100 * serial.targetMs) / serial.wallMs).toFixed(0)} % of the time inside the ${name} process; ${serial.failed} traces disagree with the model; `
      + `built-in machine on the same traces: ${builtin.toFixed(0)} traces/s (${name} at ${(serial.perSec / builtin).toFixed(4)}x); ${cpuPhrase(serial, list.length).text}`);
    for (const batchRuns of [BATCH_RUNS, LARGE_BATCH]) {
      const m = await measure(t, list, batchRuns, true);
      const cpu = cpuPhrase(m, list.length);
      const goal = cpu.perCpuSecond === null ? 'unknown' : cpu.perCpuSecond >= 100 ? 'met' : 'NOT met';
      lines.push(`  ${opsMax}-op traces, batches of ${batchRuns}, pipelined: ${m.perSec.toFixed(1)} traces/s per worker (${m.batches} runs of ${name}, busy ${((100 * m.targetMs) / m.wallMs).toFixed(0)} % of the time; ${name} at ${(m.perSec / builtin).toFixed(4)}x the built-in machine); `
        + `${cpu.text}; goal >= 100 traces/s per core (per CPU-second): ${goal}`);
    }
  }
  return lines;
}

export async function benchTarget(): Promise<string[]> {
  const lines: string[] = [];
  if (installed(process.env.EPTFUZZ_BOCHS ?? 'bochs')) lines.push(...await benchOne('bochs', bochsTarget()));
  else lines.push('target bochs: bochs is not installed here (apt-get install -y bochs bochsbios): skipped');
  if (installed(process.env.EPTFUZZ_QEMU ?? 'qemu-system-x86_64')) lines.push(...await benchOne('qemu', qemuTarget()));
  else lines.push('target qemu: qemu-system-x86_64 is not installed here (apt-get install -y qemu-system-x86): skipped');
  return lines;
}
