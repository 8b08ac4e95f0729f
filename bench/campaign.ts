/**
 * Campaign speed figures (issue 4 "Speed"):
 * - the split of one op's cost with all checks on: generator alone, machine alone, reference
 *   model alone, the runner (machine + model + checkers) and the runner with coverage, over the
 *   same seeded traces;
 * - campaign throughput, ops per second per core with all checks on (goal >= 250,000), from the
 *   real CLI in a child process (`--workers 1`: one worker thread) and inline (`--workers 0`);
 * - scaling with 2 workers against 1 (goal >= 1.8x), same CLI, same seed and run budget;
 * - replay rate (decode + run a trace file with all checks) and decode rate (msgpack);
 * - minimization time of a failing 10,000-op trace to a 1-minimal one (goal < 2 s), using the
 *   canary planted bug against the machine oracle so the failure is deterministic.
 * The load average is printed first: other processes on the machine distort the scaling figure.
 */
import { execFileSync } from 'node:child_process';
import { loadavg, availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Machine } from '../src/hw/machine.js';
import { ReferenceModel } from '../src/spec/model.js';
import { normalizeConfig } from '../src/hw/config.js';
import { Rng } from '../src/gen/rng.js';
import { generateOps, generateTrace, makeTrace } from '../src/gen/generate.js';
import { DEFAULT_WEIGHTS, swarmWeights } from '../src/gen/weights.js';
import { allFeatures } from '../src/gen/features.js';
import { pickCandidate, runWith } from '../src/check/runner.js';
import { TARGETS } from '../src/check/targets.js';
import { sameSignature, signatureOf } from '../src/check/violation.js';
import { Coverage } from '../src/fuzz/coverage.js';
import { minimizeTrace } from '../src/shrink/trace.js';
import { decodeMsgpack, encodeMsgpack } from '../src/trace/msgpack.js';
import type { Op } from '../src/trace/ops.js';
import type { Trace } from '../src/trace/trace.js';
import { fmtRate, rate } from './measure.js';

const GOAL_OPS_PER_CORE = 250_000;
const GOAL_SCALING = 1.8;
const GOAL_MINIMIZE_MS = 2000;

const features = allFeatures();

/** The traces a campaign's first runs would generate (swarm weights re-drawn every 32). */
function campaignTraces(count: number, opsMax: number): Trace[] {
  const config = normalizeConfig();
  const root = new Rng('bench-campaign');
  const out: Trace[] = [];
  for (let i = 0; i < count; i++) {
    const weights = i < 32 ? { ...DEFAULT_WEIGHTS } : swarmWeights(root.derive(`swarm${Math.floor(i / 32)}`), features);
    out.push(generateTrace(root.derive(`run${i}`), { opsMax, features, weights, config }));
  }
  return out;
}

function opsOf(traces: readonly Trace[]): number {
  return traces.reduce((n, t) => n + t.ops.length, 0);
}

function split(): string[] {
  const traces = campaignTraces(200, 200);
  const ops = opsOf(traces);
  const config = normalizeConfig();
  const root = new Rng('bench-gen');
  const gen = rate((n) => {
    for (let i = 0; i < n; i++) generateOps(root.derive(i), { opsMax: 200, features, weights: { ...DEFAULT_WEIGHTS }, config });
  }, 200);
  const machine = rate((n) => {
    for (let k = 0; k < n; k++) for (const t of traces) { const m = new Machine(t.machine); for (const op of t.ops) m.apply(op); }
  }, ops);
  const model = rate((n) => {
    for (let k = 0; k < n; k++) for (const t of traces) { const s = new ReferenceModel(t.machine); for (const op of t.ops) s.commit(s.step(op).allowed[0]); }
  }, ops);
  // Runs stop at a first violation: count the ops actually run.
  const ran = traces.reduce((n, t) => n + runWith(t, TARGETS.model, { stopAtFirst: true }).opsRun, 0);
  // Lockstep without checks: the model follows the machine's branch (the candidate equal to its
  // outcome, as the runner chooses it), nothing compared. The runner's own cost is above this.
  const lockstep = rate((n) => {
    for (let k = 0; k < n; k++) {
      for (const t of traces) {
        const m = new Machine(t.machine);
        const s = new ReferenceModel(t.machine);
        for (const op of t.ops) {
          const step = s.step(op);
          const actual = m.apply(op);
          s.commit(pickCandidate(step.allowed, actual, m.touchedFrames(), m) ?? step.allowed[0]);
        }
      }
    }
  }, ops);
  const runner = rate((n) => {
    for (let k = 0; k < n; k++) for (const t of traces) runWith(t, TARGETS.model, { stopAtFirst: true });
  }, ran);
  const coverage = new Coverage();
  const withCoverage = rate((n) => {
    for (let k = 0; k < n; k++) for (const t of traces) { coverage.beginRun(); runWith(t, TARGETS.model, { stopAtFirst: true, observer: coverage }); }
  }, ran);
  const oracle = rate((n) => {
    for (let k = 0; k < n; k++) for (const t of traces) runWith(t, TARGETS.machine, { stopAtFirst: true });
  }, ran);
  const ideal = 1 / (1 / machine + 1 / model);
  const us = (r: number): number => 1e6 / r;
  return [
    `split (one core, 200 generated traces of 200 ops, all checks on; us per op in brackets):`,
    `  generator alone                       ${fmtRate(gen)} ops [${us(gen).toFixed(2)}]`,
    `  machine alone                         ${fmtRate(machine)} ops [${us(machine).toFixed(2)}]`,
    `  reference model alone (fresh walks)   ${fmtRate(model)} ops [${us(model).toFixed(2)}]`,
    `  machine + model, sum of the two       ${fmtRate(ideal)} ops [${us(ideal).toFixed(2)}]`,
    `  lockstep: model follows the machine   ${fmtRate(lockstep)} ops [${us(lockstep).toFixed(2)}] (+${(us(lockstep) - us(ideal)).toFixed(2)}: the model on the machine's branch keeps stale cached entries it must explore; the choice itself is ~0.15)`,
    `  runner: lockstep + every check        ${fmtRate(runner)} ops [${us(runner).toFixed(2)}] (frame checks, classification, sweeps: +${(us(runner) - us(lockstep)).toFixed(2)})`,
    `  runner + coverage observer            ${fmtRate(withCoverage)} ops [${us(withCoverage).toFixed(2)}] (+${(us(withCoverage) - us(runner)).toFixed(2)})`,
    `  runner against the machine oracle     ${fmtRate(oracle)} ops [${us(oracle).toFixed(2)}] (no model: planted bugs only)`,
  ];
}

/** The CLI of this build (compiled: dist-bench/src/cli/main.js; from sources: through tsx). */
function cliCommand(): { file: string; args: string[] } {
  const url = new URL('../src/cli/main.js', import.meta.url);
  const self = import.meta.url;
  if (self.endsWith('.ts')) return { file: process.execPath, args: ['--import', 'tsx', fileURLToPath(new URL('../src/cli/main.ts', self))] };
  return { file: process.execPath, args: [fileURLToPath(url)] };
}

interface CampaignRun { opsPerSecond: number; runs: number; ops: number; seconds: number; cpuSeconds: number }

function campaign(args: string[]): CampaignRun {
  const { file, args: pre } = cliCommand();
  const dir = execFileSync('mktemp', ['-d', '-t', 'eptfuzz-bench-XXXXXX'], { encoding: 'utf8' }).trim();
  let out = '';
  try {
    out = execFileSync(file, [...pre, 'fuzz', '--crashes', `${dir}/crashes`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) {
    out = String((e as { stdout?: string }).stdout ?? ''); // exit 1: findings (the reference model may disagree)
  } finally {
    execFileSync('rm', ['-rf', dir]);
  }
  const m = /^done: (\d+) runs.*?, (\d+) ops in ([\d.]+)s \((\d+) ops\/s, [^,]*, cpu ([\d.]+)s/m.exec(out);
  if (m === null) throw new Error(`no summary from the campaign: ${out.slice(0, 200)}`);
  return { runs: Number(m[1]), ops: Number(m[2]), seconds: Number(m[3]), opsPerSecond: Number(m[4]), cpuSeconds: Number(m[5]) };
}

function throughput(): string[] {
  const common = ['--seed', 'bench', '--max-ops', '200', '--shrink-steps', '200'];
  const model1 = campaign([...common, '--runs', '6000', '--workers', '1']);
  const model2 = campaign([...common, '--runs', '6000', '--workers', '2']);
  const inline = campaign([...common, '--runs', '3000', '--workers', '0']);
  const oracle1 = campaign([...common, '--runs', '6000', '--workers', '1', '--oracle', 'machine']);
  const model1b = model1;
  const scaling = model2.opsPerSecond / model1b.opsPerSecond;
  const pct = (x: number, goal: number): string => `${((100 * x) / goal).toFixed(0)} % of the goal`;
  const perCpu = (r: CampaignRun): string => `${fmtRate(r.ops / r.cpuSeconds)} ops per CPU-second, ${(r.cpuSeconds / r.seconds).toFixed(2)} cores busy`;
  return [
    `campaign (eptfuzz fuzz in a child process; ${availableParallelism()} cores; load average before: ${loadavg()[0].toFixed(2)}):`,
    `  1 worker, all checks on (model)  ${fmtRate(model1.opsPerSecond)} ops per core (${model1.runs} runs in ${model1.seconds}s; ${perCpu(model1)}; goal ${fmtRate(GOAL_OPS_PER_CORE)}: ${pct(model1.opsPerSecond, GOAL_OPS_PER_CORE)})`,
    `  inline (no worker thread)        ${fmtRate(inline.opsPerSecond)} ops (${perCpu(inline)})`,
    `  1 worker, machine oracle         ${fmtRate(oracle1.opsPerSecond)} ops (${perCpu(oracle1)}; planted bugs only: the model's cost removed)`,
    `  2 workers / 1 worker             ${scaling.toFixed(2)}x (${fmtRate(model2.opsPerSecond)}, ${perCpu(model2)} vs ${fmtRate(model1b.opsPerSecond)}, ${perCpu(model1b)}; goal ${GOAL_SCALING}x)`,
  ];
}

function replayAndDecode(): string[] {
  const traces = campaignTraces(100, 200);
  const files = traces.map((t) => encodeMsgpack(t));
  const ops = opsOf(traces);
  const decode = rate((n) => { for (let k = 0; k < n; k++) for (const f of files) decodeMsgpack(f); }, ops);
  const ran = traces.reduce((n, t) => n + runWith(t, TARGETS.model, { stopAtFirst: true }).opsRun, 0);
  const replay = rate((n) => { for (let k = 0; k < n; k++) for (const f of files) runWith(decodeMsgpack(f), TARGETS.model, { stopAtFirst: true }); }, ran);
  const tracesPerSecond = rate((n) => { for (let k = 0; k < n; k++) for (const f of files) decodeMsgpack(f); }, files.length);
  return [
    `replay and decode (100 traces of 200 ops, msgpack):`,
    `  decode                           ${fmtRate(decode)} ops (${fmtRate(tracesPerSecond)} traces)`,
    `  replay (decode + all checks)     ${fmtRate(replay)} ops`,
  ];
}

const crossing = (o: Op): boolean => o.op === 'write' && o.size === 2 && (o.la % 4096) + 2 > 4096;

/** A 10,000-op trace failing (canary) at its last op only: generated ops with the trigger moved to the end. */
export function failingTrace10k(): Trace {
  const config = normalizeConfig({ bugs: ['canary'] });
  for (let s = 0; ; s++) {
    const { ops } = generateOps(new Rng(`bench-min10k/${s}`), { opsMax: 12_000, features, weights: { ...DEFAULT_WEIGHTS }, config });
    const i = ops.findIndex(crossing);
    if (i < 0) continue;
    const body = ops.filter((o, j) => j !== i && !crossing(o)).slice(0, 9_999);
    const trace = makeTrace(config, [...body, ops[i]]);
    const r = runWith(trace, TARGETS.machine, { stopAtFirst: true });
    if (body.length === 9_999 && r.first !== null && r.first.step === 9_999) return trace;
  }
}

function minimization(): string[] {
  const trace = failingTrace10k();
  const t0 = performance.now();
  const m = minimizeTrace(trace, TARGETS.machine, { stepsMax: 100_000, msMax: 60_000 });
  const ms = performance.now() - t0;
  if (m === null) return ['minimization: the 10,000-op trace did not fail'];
  let minimal = true;
  for (let i = 0; i < m.trace.ops.length && minimal; i++) {
    const r = runWith({ ...trace, ops: m.trace.ops.filter((_, j) => j !== i) }, TARGETS.machine, { stopAtFirst: true });
    if (r.first !== null && sameSignature(signatureOf(r.first), m.signature)) minimal = false;
  }
  return [
    `minimization (canary, machine oracle):`,
    `  10,000 ops -> ${m.trace.ops.length} ops in ${ms.toFixed(0)} ms (${m.report.steps} runs, ${m.report.rounds} rounds; ${minimal ? '1-minimal' : 'NOT 1-minimal'}; goal < ${GOAL_MINIMIZE_MS} ms)`,
  ];
}

const PARTS: Record<string, () => string[]> = { split, replay: replayAndDecode, minimize: minimization, campaign: throughput };

export function benchCampaign(): string[] {
  return Object.values(PARTS).flatMap((part) => part());
}

// `node dist-bench/bench/campaign.js [split|replay|minimize|campaign]` runs this section (or a part) alone.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const part = process.argv[2];
  for (const line of part === undefined ? benchCampaign() : (PARTS[part] ?? (() => [`unknown part ${part}`]))()) console.log(line);
}
