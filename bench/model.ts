/**
 * Reference-model speed (issue: campaigns are bounded by the model, goal >= 500 k ops/s for the
 * generator's op mix). A fixed, seeded op stream (generated traces, as a campaign makes them:
 * balanced weights for the first epoch, swarm weights after) is run three ways:
 * - machine alone (`apply` per op): the same-run baseline;
 * - model alone (`step` + `commit` per op, a fresh model per trace as the runner makes one);
 * - the runner (machine + model + every check), what a campaign does per op.
 * The model commits the candidate the runner picked for the machine's outcome (recorded once
 * beforehand), so its may-be-cached store follows the same branches as in a campaign.
 */
import { pickCandidate, runWith } from '../src/check/runner.js';
import { normalizeConfig } from '../src/hw/config.js';
import { Machine } from '../src/hw/machine.js';
import { allFeatures } from '../src/gen/features.js';
import { generateTrace } from '../src/gen/generate.js';
import { Rng } from '../src/gen/rng.js';
import { DEFAULT_WEIGHTS, restrictWeights, swarmWeights } from '../src/gen/weights.js';
import { ReferenceModel } from '../src/model/model.js';
import type { Trace } from '../src/trace/trace.js';
import { fmtRate, rate } from './measure.js';

const SEED = 'bench-model';
const TRACES = 320;
const OPS_MAX = 200; // the CLI's default --max-ops
const EPOCH_RUNS = 32; // as the campaign's swarm epochs

/** The op stream, plus per op the index of the candidate the runner committed. */
function buildStream(): { traces: Trace[]; picks: Int32Array[]; ops: number } {
  const config = normalizeConfig({});
  const features = allFeatures();
  const root = new Rng(SEED);
  const traces: Trace[] = [];
  for (let i = 0; i < TRACES; i++) {
    const epoch = Math.floor(i / EPOCH_RUNS);
    const weights = epoch === 0 ? restrictWeights({ ...DEFAULT_WEIGHTS }, features) : swarmWeights(root.derive(`swarm${epoch}`), features);
    traces.push(generateTrace(root.derive(`run${i}`), { opsMax: OPS_MAX, features, weights, config }));
  }
  const picks = traces.map((t) => {
    const machine = new Machine(t.machine);
    const model = new ReferenceModel(t.machine);
    const out = new Int32Array(t.ops.length);
    t.ops.forEach((op, k) => {
      const s = model.step(op);
      const actual = machine.apply(op);
      const c = pickCandidate(s.allowed, actual, machine.touchedFrames(), machine) ?? s.allowed[0];
      out[k] = s.allowed.indexOf(c);
      model.commit(c);
    });
    return out;
  });
  return { traces, picks, ops: traces.reduce((n, t) => n + t.ops.length, 0) };
}

export function benchModel(): string[] {
  const { traces, picks, ops } = buildStream();
  let sink = 0;
  const machineAlone = rate((n) => {
    for (let r = 0; r < n; r++) {
      for (const t of traces) {
        const m = new Machine(t.machine);
        for (const op of t.ops) sink += m.apply(op).kind.length;
      }
    }
  }, ops, 5);
  const modelAlone = rate((n) => {
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < traces.length; i++) {
        const t = traces[i];
        const p = picks[i];
        const model = new ReferenceModel(t.machine);
        for (let k = 0; k < t.ops.length; k++) {
          const s = model.step(t.ops[k]);
          sink += s.allowed.length;
          model.commit(s.allowed[p[k]]);
        }
      }
    }
  }, ops, 5);
  const target = { makeMachine: (c: Trace['machine']) => new Machine(c), makeModel: (c: Trace['machine']) => new ReferenceModel(c) };
  let failures = 0;
  const runner = rate((n) => {
    for (let r = 0; r < n; r++) for (const t of traces) if (runWith(t, target).first !== null) failures++;
  }, ops, 5);
  if (sink === 42) throw new Error('unreachable');

  const lines: string[] = [];
  lines.push(`reference model (one core, medians of 5 rounds; ${TRACES} generated traces, ${ops} ops, seed '${SEED}')`);
  lines.push(`  baseline: machine alone (apply)              ${fmtRate(machineAlone)}   1.00x`);
  lines.push(`  model alone (step + commit)                  ${fmtRate(modelAlone)}   ${(modelAlone / machineAlone).toFixed(2)}x   goal >= 500 k/s: ${modelAlone >= 5e5 ? 'met' : 'NOT met'}`);
  lines.push(`  runner (machine + model + checks)            ${fmtRate(runner)}   ${(runner / machineAlone).toFixed(2)}x${failures > 0 ? `   (${failures} failing runs!)` : ''}`);
  return lines;
}

// Run directly (`node dist-bench/bench/model.js`) as well as from bench/run.ts.
if (import.meta.url === `file://${process.argv[1]}`) for (const line of benchModel()) console.log(line);
