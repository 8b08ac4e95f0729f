/**
 * Whole traces for the built-in machine: setup (EPT, guest tables, data pages, SPPT, controls)
 * then a weighted workload.
 * Contract: `generateTrace(rng, options)` is a pure function of the rng's seed and the options:
 * the same seed and options give the same trace, op for op. Traces hold at most `opsMax` ops
 * (setup included; setup is truncated only if opsMax is smaller than setup itself).
 * Mode: a hv-mode `config` generates with the hv generator (src/gen/hv/generate.ts) from the same
 * stream. Configurations: a campaign run stream (`<root>/run<r>`, protocol.ts) past the first
 * epoch runs on that epoch's configuration (configs.ts `epochConfig`: kvmXo, MAXPHYADDR, caps,
 * choices); any other stream runs on `config` as given.
 */
import { configMode, type MachineConfig } from '../hw/config.js';
import type { Op } from '../trace/ops.js';
import { SCHEMA_VERSION, type Trace } from '../trace/trace.js';
import type { Feature } from './features.js';
import type { Rng } from './rng.js';
import { buildSetup } from './setup.js';
import { formatWeights, type OpWeights } from './weights.js';
import { weightList, workloadOp } from './workload.js';
import { World } from './world.js';
import { epochConfig, runStreamEpoch } from './configs.js';
import { generateHvTraceFrom } from './hv/generate.js';

/** Runs per configuration epoch (the swarm epoch's length, src/fuzz/engine.ts SWARM_EPOCH_RUNS). */
export const CONFIG_EPOCH_RUNS = 32;

/** Version string written into generated traces' headers. */
export const EPTFUZZ_VERSION = '0.1.0';

export interface GenOptions {
  /** Ops per trace, setup included. */
  opsMax: number;
  features: ReadonlySet<Feature>;
  weights: OpWeights;
  config: MachineConfig;
  /**
   * Keep `config` for every run (a real target implements one configuration): no per-epoch
   * variation of kvmXo, MAXPHYADDR or capabilities (configs.ts).
   */
  fixedConfig?: boolean;
}

/** Setup plus workload ops, and the world they built (for later mutation). */
export function generateOps(rng: Rng, opts: GenOptions): { ops: Op[]; world: World } {
  const world = new World(opts.config, opts.features, rng);
  buildSetup(world);
  const ops = world.ops;
  if (ops.length >= opts.opsMax) return { ops: ops.slice(0, opts.opsMax), world };
  const weights = weightList(opts.weights);
  while (ops.length < opts.opsMax) ops.push(workloadOp(world, weights));
  return { ops, world };
}

export function makeTrace(config: MachineConfig, ops: Trace['ops'], provenance?: Trace['provenance']): Trace {
  const t: Trace = { schema: SCHEMA_VERSION, eptfuzz: EPTFUZZ_VERSION, machine: config, ops };
  if (provenance !== undefined) t.provenance = provenance;
  return t;
}

/** The configuration run stream `seed` generates for (see the module contract). */
export function configForStream(seed: string, config: MachineConfig): MachineConfig {
  const at = runStreamEpoch(seed, CONFIG_EPOCH_RUNS);
  return at === null ? config : epochConfig(config, at.root, at.epoch);
}

export function generateTrace(rng: Rng, options: GenOptions): Trace {
  if (configMode(options.config) === 'hv') {
    const base = options.fixedConfig === true ? options.config : configForStream(rng.seed, options.config);
    return generateHvTraceFrom(rng, rng.seed, { opsMax: options.opsMax, base });
  }
  const opts = { ...options, config: options.fixedConfig === true ? options.config : configForStream(rng.seed, options.config) };
  const { ops } = generateOps(rng, opts);
  return makeTrace(opts.config, ops, {
    seed: rng.seed,
    options: { opsMax: opts.opsMax, features: [...opts.features].join(','), weights: formatWeights(opts.weights) },
  });
}
