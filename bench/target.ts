/**
 * Bench section `target`: traces per second against each real target on one core (one emulator
 * process, the campaign's batch size, boot included: Bochs through the agent under VMX, QEMU's
 * TCG through the agent in direct mode), the share of the time spent inside the emulator (the
 * rest is eptfuzz lowering, encoding and judging on the main thread), and, as the same-run
 * baseline, the built-in machine judging the same traces. A target whose emulator is not
 * installed is skipped, with a line saying so.
 */
import { execFileSync } from 'node:child_process';
import { runWith } from '../src/check/runner.js';
import { MODEL_TARGET } from '../src/check/targets.js';
import { allFeatures } from '../src/gen/features.js';
import { generateTrace } from '../src/gen/generate.js';
import { Rng } from '../src/gen/rng.js';
import { DEFAULT_WEIGHTS } from '../src/gen/weights.js';
import { runOnTarget, type BatchStats, type ExternalTarget } from '../src/target/external.js';
import { fitToTarget } from '../src/target/fit.js';
import { bochsTarget, qemuTarget } from '../src/target/registry.js';
import { BATCH_RUNS } from '../src/fuzz/protocol.js';
import type { Trace } from '../src/trace/trace.js';

function installed(binary: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }); return true; } catch { return false; }
}

function traces(t: ExternalTarget, n: number, opsMax: number): Trace[] {
  const out: Trace[] = [];
  for (let i = 0; i < n; i++) {
    const tr = generateTrace(new Rng(`bench-target/run${i}`), { opsMax, features: allFeatures(), weights: { ...DEFAULT_WEIGHTS }, config: t.profile.config, fixedConfig: true });
    out.push(fitToTarget(tr, t.profile));
  }
  return out;
}

async function benchOne(name: string, t: ExternalTarget): Promise<string[]> {
  const lines = [`target ${name}: ${t.profile.description}; one process, batches of ${BATCH_RUNS} traces (one boot each)`];
  for (const opsMax of [64, 200]) {
    const list = traces(t, 2 * BATCH_RUNS, opsMax);
    const stats: BatchStats = { batches: 0, targetMs: 0, hello: {} };
    const t0 = performance.now();
    let failed = 0;
    for (let b = 0; b < list.length; b += BATCH_RUNS) {
      const v = await runOnTarget(t, list.slice(b, b + BATCH_RUNS), { stats });
      failed += v.filter((x) => x.kind === 'judged' && x.judged.first !== null).length;
    }
    const wallMs = performance.now() - t0;
    const t1 = performance.now();
    for (const tr of list) runWith(tr, MODEL_TARGET, { stopAtFirst: true });
    const builtinMs = performance.now() - t1;
    const perSec = list.length / (wallMs / 1000);
    const builtin = list.length / (builtinMs / 1000);
    lines.push(`  ${opsMax}-op traces: ${perSec.toFixed(1)} traces/s (${list.length} traces in ${(wallMs / 1000).toFixed(1)} s, ${stats.batches} runs of ${name}), `
      + `${((100 * stats.targetMs) / wallMs).toFixed(0)} % of the time inside the ${name} process; ${failed} traces disagree with the model; `
      + `built-in machine on the same traces: ${builtin.toFixed(0)} traces/s (${name} at ${(perSec / builtin).toFixed(4)}x); goal >= 100 traces/s per core: ${perSec >= 100 ? 'met' : 'NOT met'}`);
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
