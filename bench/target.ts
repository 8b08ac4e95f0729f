/**
 * Bench section `target`: traces per second against Bochs on one core (one Bochs process, the
 * campaign's batch size, boot included), the share of the time spent inside Bochs (the rest is
 * eptfuzz lowering, encoding and judging on the main thread), and, as the same-run baseline, the
 * built-in machine judging the same traces. Skipped, with a line saying so, without Bochs.
 */
import { execFileSync } from 'node:child_process';
import { runWith } from '../src/check/runner.js';
import { MODEL_TARGET } from '../src/check/targets.js';
import { allFeatures } from '../src/gen/features.js';
import { generateTrace } from '../src/gen/generate.js';
import { Rng } from '../src/gen/rng.js';
import { DEFAULT_WEIGHTS } from '../src/gen/weights.js';
import { BOCHS_PROFILE } from '../src/target/bochs/profile.js';
import { runOnTarget, type BatchStats } from '../src/target/external.js';
import { fitToTarget } from '../src/target/fit.js';
import { bochsTarget } from '../src/target/registry.js';
import { BATCH_RUNS } from '../src/fuzz/protocol.js';
import type { Trace } from '../src/trace/trace.js';

function bochsHere(): boolean {
  try { execFileSync('sh', ['-c', 'command -v bochs'], { stdio: 'ignore' }); return true; } catch { return false; }
}

function traces(n: number, opsMax: number): Trace[] {
  const out: Trace[] = [];
  for (let i = 0; i < n; i++) {
    const t = generateTrace(new Rng(`bench-target/run${i}`), { opsMax, features: allFeatures(), weights: { ...DEFAULT_WEIGHTS }, config: BOCHS_PROFILE.config, fixedConfig: true });
    out.push(fitToTarget(t, BOCHS_PROFILE));
  }
  return out;
}

export async function benchTarget(): Promise<string[]> {
  if (!bochsHere()) return ['target: bochs is not installed here (apt-get install -y bochs bochsbios): skipped'];
  const lines = [`target: Bochs 2.7 through the guest agent, one Bochs process, batches of ${BATCH_RUNS} traces (one boot each)`];
  for (const opsMax of [64, 200]) {
    const list = traces(2 * BATCH_RUNS, opsMax);
    const stats: BatchStats = { batches: 0, targetMs: 0, hello: {} };
    const t0 = performance.now();
    let failed = 0;
    for (let b = 0; b < list.length; b += BATCH_RUNS) {
      const v = await runOnTarget(bochsTarget(), list.slice(b, b + BATCH_RUNS), { stats });
      failed += v.filter((x) => x.kind === 'judged' && x.judged.first !== null).length;
    }
    const wallMs = performance.now() - t0;
    const t1 = performance.now();
    for (const t of list) runWith(t, MODEL_TARGET, { stopAtFirst: true });
    const builtinMs = performance.now() - t1;
    const perSec = list.length / (wallMs / 1000);
    lines.push(`  ${opsMax}-op traces: ${perSec.toFixed(1)} traces/s (${list.length} traces in ${(wallMs / 1000).toFixed(1)} s, ${stats.batches} Bochs runs), `
      + `${((100 * stats.targetMs) / wallMs).toFixed(0)} % of the time inside the Bochs process; ${failed} traces disagree with the model; `
      + `built-in machine on the same traces: ${(list.length / (builtinMs / 1000)).toFixed(0)} traces/s (Bochs at ${(perSec / (list.length / (builtinMs / 1000))).toFixed(4)}x); goal >= 100 traces/s per core: ${perSec >= 100 ? 'met' : 'NOT met'}`);
  }
  return lines;
}
