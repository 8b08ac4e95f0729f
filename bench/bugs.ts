/**
 * Fuzzer power on the planted-bug catalogue (issue 5, `npm run bench:bugs`): for every bug and
 * seed, the time and executions (runs and ops) to the first failure, and the size of the
 * minimized trace, for three finders run in this process on the same machine, reference model
 * and checkers:
 * - eptfuzz: the real campaign (`runCampaign`, inline, default options: swarm, corpus and
 *   mutation on coverage feedback, 200 ops per trace, the 2000-step minimizer), reference model;
 * - blind: the same run engine with coverage feedback off (its corpus stays empty, so every run
 *   is a fresh generated trace; swarm weights as in the campaign);
 * - fast-check: `fc.check` of "no violation" over the generator's setup prefix (a random setup,
 *   the same `buildSetup` the campaign uses) followed by `fc.array(opArbitrary(config))` from
 *   src/gen/arbitraries.ts (the same op space, the project's own biased arbitraries), total ops
 *   capped at 200 like the campaign's traces; then fast-check's own shrinking (replayed from the
 *   failing path with the same 30 s budget as the campaign's minimizer).
 * hv-layer bugs: the same two engines on the machine `eptfuzz fuzz --mode hv --bug NAME` runs
 * (src/cli/commands/fuzz.ts `campaignConfig`: the hv generator's base configuration with the
 * bug on), so eptfuzz is the hv campaign (the hv generator, its mutations, corpus on coverage
 * feedback) and blind is its run engine with feedback off; both are metered as for the hardware
 * bugs. fast-check's baseline is the hv setup prefix plus `opArbitrary` over the op kinds hv
 * mode runs, checked by `runHv` against the hv reference model.
 *
 * Time to find is measured to the end of the failing run (an instrumented target counts ops and
 * stamps each run), not to the campaign's log line, which comes up to two 64-run batches later.
 * The campaign's determinism self-check is off here (it re-runs 1 trace in 64; stability is not
 * fuzzing power), so run r is exactly the r-th execution.
 *
 * Environment: BENCH_BUGS_SEEDS (default 5; seeds BENCH_BUGS_SEED_FIRST, default 1, and up), BENCH_BUGS_CAP_MS (per bug, seed and finder; default
 * 60000), BENCH_BUGS_RUNS (a run budget per bug, seed and finder, on top of the time cap: the
 * same for every finder, so eptfuzz and blind are compared on equal runs whatever the load; default
 * none), BENCH_BUGS_ONLY (comma list of bug names), BENCH_BUGS_FINDERS (comma list of eptfuzz,
 * blind, fast-check). Every find is also printed on stderr (finder, bug, seed, runs to find).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { CATALOGUE, type PlantedBug } from '../src/bugs/catalogue.js';
import { runHv } from '../src/check/hv/run.js';
import { runWith, type Target } from '../src/check/runner.js';
import { campaignConfig } from '../src/cli/commands/fuzz.js';
import { TARGETS } from '../src/check/targets.js';
import { formatSignature, sameSignature, signatureOf } from '../src/check/violation.js';
import { runCampaign } from '../src/fuzz/campaign.js';
import { readDescription } from '../src/fuzz/crash-store.js';
import { RunEngine } from '../src/fuzz/engine.js';
import type { EngineConfig } from '../src/fuzz/protocol.js';
import { opArbitrary } from '../src/gen/arbitraries.js';
import { allFeatures } from '../src/gen/features.js';
import { generateHvTrace } from '../src/gen/hv/generate.js';
import { makeTrace } from '../src/gen/generate.js';
import { Rng } from '../src/gen/rng.js';
import { buildSetup } from '../src/gen/setup.js';
import { World } from '../src/gen/world.js';
import { normalizeConfig, type MachineConfig } from '../src/hw/config.js';
import { minimizeTrace } from '../src/shrink/trace.js';
import { loadTrace } from '../src/trace/load.js';
import { HV_OP_NAMES, OP_SCHEMAS, type Op, type OpName } from '../src/trace/ops.js';
import type { Signature, Trace } from '../src/trace/trace.js';

/** The campaign defaults (`eptfuzz fuzz`): ops per trace, minimizer steps and time limit. */
export const OPS_MAX = 200;
export const SHRINK_STEPS_MAX = 2000;
export const SHRINK_MS_MAX = 30_000;
const MEDIAN_GOAL_RATIO = 5;

export type FinderName = 'eptfuzz' | 'blind' | 'fast-check';
export const FINDERS: readonly FinderName[] = ['eptfuzz', 'blind', 'fast-check'];

export interface Find {
  finder: FinderName;
  bug: string;
  seed: string;
  found: boolean;
  /** The first failure's signature (null when nothing failed within the cap). */
  signature: Signature | null;
  /** Runs (traces) and ops executed up to the end of the failing run (or until the cap). */
  runs: number;
  ops: number;
  ms: number;
  /** Ops of the minimized trace of the first failure (null: not found or not minimized). */
  minimizedOps: number | null;
  minimized: Trace | null;
  /**
   * Failures seen before the first expected one whose signature the catalogue does not expect
   * for this bug (a finder goes on past them: they are someone else's bug, or a false alarm).
   */
  unexpected: Signature[];
  /**
   * eptfuzz only: failures of another signature seen before the first expected one whose trace
   * passes with the bug off, i.e. other manifestations of the same bug (a stale INVEPT mapping
   * also loses writes); they are not in `unexpected`.
   */
  byproducts?: Signature[];
}

export interface FindOptions {
  /** Time cap for finding (minimization has its own budget). */
  capMs: number;
  /** Run cap (default: none). */
  runsMax?: number;
  /** Campaign crash directory (default: a fresh temporary one). */
  crashesDir?: string;
  /** The campaign's determinism self-check period (default 0 here: off; the CLI's is 64). */
  stabilityEvery?: number;
  /** Base machine configuration on top of what the bug needs (bare mode). */
  config?: { kvmXo?: boolean };
  /** The mode of a bug-free run (bug null); a bug's own layer decides otherwise (default bare). */
  mode?: 'bare' | 'hv';
}

export function bugByName(name: string): PlantedBug {
  const b = CATALOGUE.find((x) => x.name === name);
  if (b === undefined) throw new Error(`unknown bug ${name}`);
  return b;
}

/**
 * The machine a bare-mode finder runs for `bug`: the default one with the bug on, as `eptfuzz fuzz
 * --bug NAME` runs it (the campaign varies kvmXo, MAXPHYADDR and caps per epoch itself, so the
 * catalogue's `machine` field is not applied: every hardware bug is found from the defaults).
 */
export function bareConfig(bug: PlantedBug | null, base: { kvmXo?: boolean } = {}): MachineConfig {
  return normalizeConfig({ ...base, bugs: bug === null ? [] : [bug.name] });
}

/**
 * The machine a finder runs for `bug` (null: bug-free, in `o.mode`): for a hardware bug the bare
 * one above; for a hv-layer bug the one `eptfuzz fuzz --mode hv --bug NAME` builds (the CLI's own
 * `campaignConfig`).
 */
export function findConfig(bug: PlantedBug | null, o: Pick<FindOptions, 'config' | 'mode'>): MachineConfig {
  const hv = bug === null ? o.mode === 'hv' : bug.layer === 'hv';
  return hv ? campaignConfig('hv', bug === null ? [] : [bug.name], false) : bareConfig(bug, o.config);
}

/** Whether a signature is one the catalogue says this bug produces. */
export function expectedSignature(bug: PlantedBug | null, s: Signature): boolean {
  return bug !== null && bug.finds.invariant.includes(s.invariant) && bug.finds.op.includes(s.op)
    && bug.finds.rules.some((r) => { const d = s.detail.replace(/^flushed by /, ''); return d === r || d.startsWith(`${r} `) || d.startsWith(`${r}:`); });
}

/** The same machine with every planted bug off. */
export function withoutBug(config: MachineConfig): MachineConfig {
  return { ...config, bugs: [] };
}

function pushNew(list: Signature[], s: Signature): void {
  if (!list.some((x) => sameSignature(x, s))) list.push(s);
}

function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `eptfuzz-bugs-${tag}-`));
}

/** Counts ops and stamps the start of every run (one machine per run). */
class Meter {
  ops = 0;
  /** Per machine built (= per run, with the self-check off): [ms since start, ops before it]. */
  readonly starts: Array<[number, number]> = [];
  readonly t0 = performance.now();

  /** The metered target; its `hv` target (hv-mode traces run there, runner.ts targetFor) is metered too. */
  wrap(target: Target): Target {
    // Everything else the target carries (the hv invariants above all) is kept: without them a hv
    // bug the invariants catch is seen only through its later consequences.
    const wrapped: Target = {
      ...target,
      makeModel: (config) => target.makeModel(config),
      makeMachine: (config) => {
        this.starts.push([performance.now() - this.t0, this.ops]);
        const m = target.makeMachine(config);
        const apply = m.apply.bind(m);
        m.apply = (op) => {
          this.ops++;
          return apply(op);
        };
        return m;
      },
    };
    if (target.hv !== undefined) wrapped.hv = this.wrap(target.hv);
    return wrapped;
  }

  /** Time and ops at the end of run `r` (the start of run r + 1, or now). */
  at(r: number): { ms: number; ops: number } {
    const next = this.starts[r + 1];
    return next === undefined ? { ms: performance.now() - this.t0, ops: this.ops } : { ms: next[0], ops: next[1] };
  }
}

/**
 * eptfuzz: the real campaign with only `bug` on (hardware bugs: `eptfuzz fuzz`; hv-layer bugs:
 * `eptfuzz fuzz --mode hv`), stopped (stop file, so minimization still finishes) once it has
 * found a signature the catalogue expects for the bug. With `bug` null: the bug-free campaign
 * (in `o.mode`), bounded by `runsMax` or the cap.
 */
export async function findWithCampaign(bugName: string | null, seed: string, o: FindOptions): Promise<Find> {
  const bug = bugName === null ? null : bugByName(bugName);
  const made = [tempDir('stop')];
  if (o.crashesDir === undefined) made.push(tempDir('crashes'));
  try {
    return await campaignFind(bug, bugName, seed, o, o.crashesDir ?? made[1], path.join(made[0], 'stop'));
  } finally {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  }
}

async function campaignFind(bug: PlantedBug | null, bugName: string | null, seed: string, o: FindOptions, crashesDir: string, stopFile: string): Promise<Find> {
  const config = findConfig(bug, o);
  const meter = new Meter();
  const stability = o.stabilityEvery ?? 0;
  let stopAt: { ms: number; ops: number } | null = null;
  const summary = await runCampaign({
    seed, runs: o.runsMax ?? null, durationMs: o.capMs, opsMax: OPS_MAX, features: allFeatures(), bugs: config.bugs,
    swarm: true, corpusDir: null, crashesDir, outDir: null, stopFile, shrinkStepsMax: SHRINK_STEPS_MAX, shrinkMsMax: SHRINK_MS_MAX,
    statusEveryMs: 3_600_000, config, workers: 0, oracle: 'model', stabilityEvery: stability,
  }, meter.wrap(TARGETS.model), {
    log: (line) => {
      const hash = / new failure .*\(([0-9a-f]{16})\)/.exec(line)?.[1];
      if (stopAt !== null || hash === undefined) return;
      const d = readDescription(path.join(crashesDir, hash));
      if (d !== null && expectedSignature(bug, d.signature)) {
        stopAt = { ms: performance.now() - meter.t0, ops: meter.ops };
        fs.writeFileSync(stopFile, '');
      }
    },
  });
  const fresh = summary.crashes.filter((c) => c.fresh).sort((a, b) => a.firstSeenRun - b.firstSeenRun);
  const first = fresh.find((c) => expectedSignature(bug, c.signature));
  const others = fresh.filter((c) => !expectedSignature(bug, c.signature) && (first === undefined || c.firstSeenRun <= first.firstSeenRun));
  // An other failure whose stored trace passes with the bug off is the bug's byproduct.
  const byproduct = (hash: string): boolean => {
    if (bug === null) return false;
    const dir = path.join(crashesDir, hash);
    const file = ['repro.msgpack', 'original-1.msgpack'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
    if (file === undefined) return false;
    const t = loadTrace(file);
    return runWith({ ...t, machine: withoutBug(t.machine) }, TARGETS.model, { stopAtFirst: true }).first === null;
  };
  const unexpected: Signature[] = [];
  const byproducts: Signature[] = [];
  for (const c of others) (byproduct(c.hash) ? byproducts : unexpected).push(c.signature);
  const base = { finder: 'eptfuzz' as const, bug: bugName ?? 'none', seed, unexpected, byproducts };
  if (first === undefined) {
    return { ...base, found: false, signature: null, runs: summary.runs, ops: summary.ops, ms: summary.elapsedMs, minimizedOps: null, minimized: null };
  }
  // With the self-check on, run r is not the r-th machine built: fall back to the log line's time.
  const at = stability === 0 ? meter.at(first.firstSeenRun) : stopAt ?? meter.at(first.firstSeenRun);
  const reproFile = path.join(crashesDir, first.hash, 'repro.msgpack');
  const minimized = first.opsAfter === null || !fs.existsSync(reproFile) ? null : loadTrace(reproFile);
  return { ...base, found: true, signature: first.signature, runs: first.firstSeenRun + 1, ops: at.ops, ms: at.ms, minimizedOps: first.opsAfter, minimized };
}

/**
 * blind: the campaign's run engine (on the machine the campaign runs) with no corpus (coverage
 * feedback off), then the same minimizer. With `bug` null: bug-free runs in `o.mode`.
 */
export function findBlind(bugName: string | null, seed: string, o: FindOptions): Find {
  const bug = bugName === null ? null : bugByName(bugName);
  const config = findConfig(bug, o);
  const meter = new Meter();
  const target = meter.wrap(TARGETS.model);
  const cfg: EngineConfig = { root: seed, opsMax: OPS_MAX, features: [...allFeatures()].sort(), swarm: true, config, oracle: 'model', stabilityEvery: 0 };
  const engine = new RunEngine(cfg, target);
  const unexpected: Signature[] = [];
  const base = { finder: 'blind' as const, bug: bugName ?? 'none', seed, unexpected };
  for (let r = 0; o.runsMax === undefined || r < o.runsMax; r++) {
    if (performance.now() - meter.t0 >= o.capMs) break;
    const rep = engine.runOne(r);
    if (rep.failure === null || rep.trace === null) continue;
    if (!expectedSignature(bug, rep.failure.signature)) {
      pushNew(unexpected, rep.failure.signature);
      continue;
    }
    const at = meter.at(r);
    const m = minimizeTrace(rep.trace, TARGETS.model, { stepsMax: SHRINK_STEPS_MAX, msMax: SHRINK_MS_MAX }, rep.failure.signature);
    return { ...base, found: true, signature: rep.failure.signature, runs: r + 1, ops: at.ops, ms: at.ms, minimizedOps: m?.trace.ops.length ?? null, minimized: m?.trace ?? null };
  }
  return { ...base, found: false, signature: null, runs: meter.starts.length, ops: meter.ops, ms: performance.now() - meter.t0, minimizedOps: null, minimized: null };
}

/** A numeric seed for fast-check from a string seed. */
function fcSeed(seed: string): number {
  return new Rng(`fast-check/${seed}`).u32() | 0;
}

/** The generator's setup prefix for a bare machine, from a setup seed. */
export function bareSetup(config: MachineConfig, setupSeed: number): Op[] {
  const world = new World(config, allFeatures(), new Rng(`fc-setup/${setupSeed}`));
  buildSetup(world);
  return world.ops.slice(0, OPS_MAX);
}

interface FcCase { setup: Op[]; workload: Op[] }

function fcArbitrary(config: MachineConfig, setupOf: (n: number) => Op[], kinds: readonly OpName[] | undefined): fc.Arbitrary<FcCase> {
  const ops = opArbitrary(config, kinds === undefined ? {} : { kinds });
  return fc.integer({ min: 0, max: 0x7fff_ffff }).map(setupOf).chain((setup) =>
    fc.array(ops, { maxLength: Math.max(1, OPS_MAX - setup.length) }).map((workload): FcCase => ({ setup, workload })));
}

/** fast-check: "no violation" over setup + arbitrary ops; fast-check's shrinking on the failure. */
function findFastCheckWith(base: { bug: string; seed: string }, bug: PlantedBug, arb: fc.Arbitrary<FcCase>, check: (ops: Op[]) => { ops: number; sig: Signature | null }, checkOff: (ops: Op[]) => Signature | null, o: FindOptions): Find {
  const t0 = performance.now();
  let runs = 0;
  let ops = 0;
  let first: { sig: Signature; runs: number; ops: number; ms: number } | null = null;
  const unexpected: Signature[] = [];
  const property = fc.property(arb, (c) => {
    const r = check(c.setup.concat(c.workload));
    if (first === null) {
      runs++;
      ops += r.ops;
      if (r.sig === null) return true;
      // A failure the catalogue does not expect for this bug, or one that stays with the bug off
      // (a disagreement of its own, not this bug): noted, and the search goes on.
      if (!expectedSignature(bug, r.sig) || checkOff(c.setup.concat(c.workload)) !== null) {
        pushNew(unexpected, r.sig);
        return true;
      }
      first = { sig: r.sig, runs, ops, ms: performance.now() - t0 };
      return false;
    }
    // During shrinking only the first failure's signature counts (as for the campaign's minimizer).
    return r.sig === null || !sameSignature(r.sig, first.sig);
  });
  const seed = fcSeed(base.seed);
  const found = fc.check(property, { seed, numRuns: o.runsMax ?? 2 ** 31 - 1, endOnFailure: true, interruptAfterTimeLimit: o.capMs });
  const out = { ...base, finder: 'fast-check' as const, unexpected };
  const hit = first as { sig: Signature; runs: number; ops: number; ms: number } | null;
  if (!found.failed || hit === null || found.counterexamplePath === null) {
    return { ...out, found: false, signature: null, runs, ops, ms: performance.now() - t0, minimizedOps: null, minimized: null };
  }
  const shrunk = fc.check(property, { seed, path: found.counterexamplePath, interruptAfterTimeLimit: SHRINK_MS_MAX });
  const c = (shrunk.failed && shrunk.counterexample !== null ? shrunk.counterexample[0] : found.counterexample![0]) as FcCase;
  const minimized = c.setup.concat(c.workload);
  return { ...out, found: true, signature: hit.sig, runs: hit.runs, ops: hit.ops, ms: hit.ms, minimizedOps: minimized.length, minimized: makeTrace(normalizeConfig(), minimized) };
}

export function findFastCheckBare(bugName: string, seed: string, o: FindOptions): Find {
  const bug = bugByName(bugName);
  const config = bareConfig(bug);
  // The hardware ops (the op schemas also list the hypervisor's, which only hv mode runs).
  const kinds = OP_SCHEMAS.map((x) => x.name).filter((k) => !HV_OP_NAMES.has(k));
  const arb = fcArbitrary(config, (n) => bareSetup(config, n), kinds as OpName[]);
  // The same metered target as the campaign's, so both pay the same instrumentation.
  const target = new Meter().wrap(TARGETS.model);
  const check = (ops: Op[]): { ops: number; sig: Signature | null } => {
    const r = runWith(makeTrace(config, ops), target, { stopAtFirst: true });
    return { ops: r.opsRun, sig: r.first === null ? null : signatureOf(r.first) };
  };
  const off = withoutBug(config);
  const f = findFastCheckWith({ bug: bugName, seed }, bug, arb, check, (ops) => { const r = runWith(makeTrace(off, ops), TARGETS.model, { stopAtFirst: true }); return r.first === null ? null : signatureOf(r.first); }, o);
  if (f.minimized !== null) f.minimized = makeTrace(config, f.minimized.ops);
  return f;
}

// ---------------------------------------------------------------------------------------------
// hv mode

/** Hardware ops a hv-mode trace may carry (the hypervisor refuses the others). */
const HV_HW_KINDS: ReadonlySet<string> = new Set(['read', 'write', 'fetch', 'set_reg', 'invlpg']);

function hvSignature(config: MachineConfig, ops: readonly Op[]): { ops: number; sig: Signature | null } {
  const r = runHv(config, ops as Parameters<typeof runHv>[1], { stopAtFirst: true });
  const v = r.violations[0];
  return { ops: r.opsRun, sig: v === undefined ? null : { invariant: v.invariant, op: v.op, detail: v.coarse } };
}

export function findFastCheckHv(bugName: string, seed: string, o: FindOptions): Find {
  const setupOf = (n: number): Trace => generateHvTrace(`fc-setup/${n}`, { ops: 0, bugs: [bugName] });
  const config = setupOf(0).machine;
  // Every kind hv mode runs that the project's op arbitrary knows.
  // hv_expect is left out: it asserts a state written into the trace, and a random one is a
  // finding of its own (hv.expected-state) on any hypervisor; hv_query observes the same state.
  const kinds = OP_SCHEMAS.map((s) => s.name).filter((k) => (HV_HW_KINDS.has(k) || HV_OP_NAMES.has(k)) && k !== 'hv_expect');
  // Setups differ by seed only in the pool size and guest paging: keep the seed's own machine.
  const arb = fcArbitrary(config, (n) => setupOf(n).ops.map((op) => op), kinds as OpName[]);
  const f = findFastCheckWith({ bug: bugName, seed }, bugByName(bugName), arb, (ops) => hvSignature(config, ops), (ops) => hvSignature(withoutBug(config), ops).sig, o);
  if (f.minimized !== null) f.minimized = { ...f.minimized, machine: config };
  return f;
}

export async function find(finder: FinderName, bugName: string, seed: string, o: FindOptions): Promise<Find> {
  const bug = bugByName(bugName);
  if (finder === 'eptfuzz') return findWithCampaign(bugName, seed, o);
  if (finder === 'blind') return findBlind(bugName, seed, o);
  return bug.layer === 'hv' ? findFastCheckHv(bugName, seed, o) : findFastCheckBare(bugName, seed, o);
}

// ---------------------------------------------------------------------------------------------
// the table

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

function fmtN(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(Math.round(n));
}

interface Cell {
  found: number;
  seeds: number;
  /** Time to find: a miss counts as the cap (so medians and ratios are lower bounds for misses). */
  msMed: number;
  msMax: number;
  runsMed: number;
  opsMed: number;
  sizeMed: number;
  sizeMax: number;
  wrong: number;
}

function cell(finds: readonly Find[], capMs: number): Cell {
  const hit = finds.filter((f) => f.found);
  const ms = finds.map((f) => (f.found ? f.ms : capMs));
  const sizes = hit.map((f) => f.minimizedOps ?? Number.NaN).filter((n) => !Number.isNaN(n));
  return {
    found: hit.length,
    seeds: finds.length,
    msMed: median(ms),
    msMax: Math.max(...ms),
    runsMed: median(hit.map((f) => f.runs)),
    opsMed: median(hit.map((f) => f.ops)),
    sizeMed: median(sizes),
    sizeMax: sizes.length === 0 ? Number.NaN : Math.max(...sizes),
    wrong: finds.filter((f) => f.unexpected.length > 0).length,
  };
}

function fmtCell(c: Cell): string[] {
  const found = `${c.found}/${c.seeds}${c.wrong > 0 ? ` (${c.wrong}!)` : ''}`;
  return [found, `${fmtMs(c.msMed)} ${fmtMs(c.msMax)}`, `${fmtN(c.runsMed)}/${fmtN(c.opsMed)}`, c.found === 0 ? '-' : `${fmtN(c.sizeMed)} ${fmtN(c.sizeMax)}`];
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

/** Whether an eptfuzz find came from a mutated corpus trace (its minimized trace keeps the parent in its provenance). */
function origin(f: Find): string {
  if (f.finder !== 'eptfuzz' || f.minimized === null) return '';
  return f.minimized.provenance?.options?.parent !== undefined ? ', a mutated corpus trace' : ', a generated trace';
}

async function main(): Promise<void> {
  const seedsN = Number(process.env.BENCH_BUGS_SEEDS ?? 5);
  const capMs = Number(process.env.BENCH_BUGS_CAP_MS ?? 60_000);
  const runsMax = process.env.BENCH_BUGS_RUNS === undefined ? undefined : Number(process.env.BENCH_BUGS_RUNS);
  const only = process.env.BENCH_BUGS_ONLY?.split(',').filter((s) => s !== '') ?? null;
  const finders = (process.env.BENCH_BUGS_FINDERS?.split(',').filter((s) => s !== '') ?? FINDERS) as FinderName[];
  const bugs = CATALOGUE.filter((b) => only === null || only.includes(b.name));
  const seedFirst = Number(process.env.BENCH_BUGS_SEED_FIRST ?? 1);
  const seeds = Array.from({ length: seedsN }, (_, i) => String(i + seedFirst));
  console.log(`bench:bugs: ${bugs.length} bugs x ${seeds.length} seeds (${seeds.join(',')}), cap ${fmtMs(capMs)}${runsMax === undefined ? '' : ` and ${runsMax} runs`} per find; finders ${finders.join(', ')}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.availableParallelism()} cores; node ${process.version}`);
  console.log('columns per finder: found/seeds ("(n!)": on n seeds a failure the catalogue does not expect for the bug came first and was passed over), time to first find median max (a miss counts as the cap), median runs/ops to find, minimized ops median max');
  // Warm the JIT on throwaway finds (machine, model, generators, runner), so that the first bug
  // measured does not pay for compilation.
  await findWithCampaign(null, 'warm-up', { capMs: 3000, runsMax: 256 });
  findBlind('canary', 'warm-up', { capMs: 1000, runsMax: 64 });
  findFastCheckBare('canary', 'warm-up', { capMs: 1000, runsMax: 256 });
  await findWithCampaign(null, 'warm-up', { capMs: 2000, runsMax: 128, mode: 'hv' });
  findBlind(null, 'warm-up', { capMs: 1000, runsMax: 32, mode: 'hv' });
  const header = ['bug', ...finders.flatMap((f) => [`${f}`, 'time med max', 'runs/ops', 'size'])];
  const rows: string[][] = [header];
  const medians: Record<FinderName, number[]> = { 'eptfuzz': [], 'blind': [], 'fast-check': [] };
  const results: Find[] = [];
  for (const bug of bugs) {
    const row = [bug.name];
    for (const finder of finders) {
      const finds: Find[] = [];
      for (const seed of seeds) {
        const f = await find(finder, bug.name, seed, { capMs, runsMax });
        process.stderr.write(`    ${finder} ${bug.name} seed ${seed}: ${f.found ? `found at run ${f.runs} (${fmtMs(f.ms)}${origin(f)}), ${formatSignature(f.signature!)}` : `missed in ${f.runs} runs (${fmtMs(f.ms)})`}\n`);
        finds.push(f);
        results.push(f);
      }
      const c = cell(finds, capMs);
      medians[finder].push(c.msMed);
      row.push(...fmtCell(c));
    }
    rows.push(row);
    process.stderr.write(`  ${row.join('  ')}\n`);
  }
  console.log(table(rows));
  const passed = new Map<string, Set<string>>();
  for (const f of results) {
    for (const u of f.unexpected) {
      const k = `${f.finder} ${formatSignature(u)}`;
      const set = passed.get(k) ?? new Set<string>();
      set.add(`${f.bug}#${f.seed}`);
      passed.set(k, set);
    }
  }
  if (passed.size > 0) {
    console.log('\nfailures passed over (not the expected signature of the bug under test; each also a finding to triage):');
    for (const [k, where] of passed) console.log(`  ${k}  (${[...where].slice(0, 4).join(', ')}${where.size > 4 ? `, +${where.size - 4}` : ''})`);
  }
  const agg = (f: FinderName): string => `${finders.includes(f) ? fmtMs(median(medians[f])) : '-'}`;
  console.log(`\nmedian over bugs of the per-bug median time to find: ${finders.map((f) => `${f} ${agg(f)}`).join(', ')}`);
  if (finders.includes('eptfuzz')) {
    const e = medians.eptfuzz;
    for (const other of finders.filter((f) => f !== 'eptfuzz')) {
      const ratios = bugs.map((_, i) => medians[other][i] / Math.max(e[i], 1));
      const shown = bugs.map((b, i) => `${b.name} ${ratios[i].toFixed(1)}x`).join(', ');
      console.log(`time-to-find ratio ${other}/eptfuzz per bug (>1: eptfuzz faster; a miss counts as the cap, so ratios on misses are lower bounds): ${shown}`);
      console.log(`  median ratio ${median(ratios).toFixed(1)}x; geometric mean ${Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length).toFixed(1)}x${other === 'fast-check' ? ` (goal >= ${MEDIAN_GOAL_RATIO}x)` : ''}`);
    }
    const eFinds = results.filter((f) => f.finder === 'eptfuzz');
    const missed = bugs.filter((b) => eFinds.some((f) => f.bug === b.name && !f.found)).map((b) => b.name);
    const within10 = bugs.filter((b) => eFinds.filter((f) => f.bug === b.name).every((f) => f.found && f.ms <= 10_000)).length;
    console.log(`eptfuzz: ${bugs.length - missed.length}/${bugs.length} bugs found on every seed within ${fmtMs(capMs)}${missed.length > 0 ? ` (missed on some seed: ${missed.join(', ')})` : ''}; ${within10}/${bugs.length} within 10s on every seed`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(3);
  });
}

