/**
 * Op weights for the workload, and swarm testing: per campaign, random weights with some op kinds
 * switched off (Groce et al., "Swarm Testing", ISSTA 2012; TigerBeetle's random_enum_weights).
 * Contract: weights are plain numbers >= 0 per op kind; at least one guest access kind is > 0.
 */
import type { HwOpName as OpName } from '../trace/ops.js';
import type { Rng } from './rng.js';
import type { Feature } from './features.js';

/** Per hardware op kind (the bare-mode workload; the hv generator has its own mix). */
export type OpWeights = Record<OpName, number>;

/** The balanced mix: guest accesses dominate because every other op only matters through them. */
export const DEFAULT_WEIGHTS: Readonly<OpWeights> = {
  read: 10, write: 10, fetch: 5,
  set_reg: 6, invlpg: 2, invvpid: 2, invept: 2,
  set_eptp: 1, set_spptp: 0.5, set_ctls2: 1,
  phys_write: 1, phys_read: 1,
  ept_set: 5, gpt_set: 5, sppt_set: 3,
};

const ACCESS_KINDS: readonly OpName[] = ['read', 'write', 'fetch'];

/** Zeroes the kinds whose mechanism is switched off. */
export function restrictWeights(w: OpWeights, features: ReadonlySet<Feature>): OpWeights {
  const out: OpWeights = { ...w };
  if (!features.has('tlb')) { out.invlpg = 0; out.invvpid = 0; out.invept = 0; }
  if (!features.has('spp')) { out.sppt_set = 0; out.set_spptp = 0; }
  if (!features.has('ept')) { out.ept_set = 0; out.set_eptp = 0; }
  return out;
}

/** Probability that swarm testing switches one op kind off for a whole campaign. */
export const SWARM_OFF_PROBABILITY = 0.25;

export function swarmWeights(rng: Rng, features: ReadonlySet<Feature>): OpWeights {
  const out: OpWeights = { ...DEFAULT_WEIGHTS };
  for (const k of Object.keys(out) as OpName[]) {
    // Scale by 4^u for u in [-1, 1): a kind can be up to 16x more frequent than another.
    out[k] = rng.chance(SWARM_OFF_PROBABILITY) ? 0 : out[k] * 4 ** (rng.float() * 2 - 1);
  }
  if (ACCESS_KINDS.every((k) => out[k] === 0)) out[rng.pick(ACCESS_KINDS)] = DEFAULT_WEIGHTS.write;
  return restrictWeights(out, features);
}

/** Compact form for provenance and descriptions: `read:10.00,write:0,...`. */
export function formatWeights(w: OpWeights): string {
  return (Object.keys(w) as OpName[]).map((k) => `${k}:${w[k] === 0 ? '0' : w[k].toFixed(2)}`).join(',');
}
