/**
 * A hub campaign's identity: the options that decide what it generates (its spec), their
 * fingerprint, and the metadata record every machine checks before it joins.
 * Contract: the first machine creates the record (SET NX); every later one must bring the same
 * spec, or is refused with one line naming the first option that differs (HubError, exit 2):
 * two campaigns under one name would mix their blocks. Settings that change nothing a campaign
 * decides (workers, the lock timeout of the first machine, time budgets) are not in the spec.
 * Also `stopCampaign`/`resumeCampaign` (`eptfuzz hub stop|resume`).
 */
import { createHash } from 'node:crypto';
import { configMode } from '../hw/config.js';
import { EPTFUZZ_VERSION } from '../gen/generate.js';
import { recordedOptions, type CampaignOptions } from '../fuzz/campaign.js';
import { canonicalJson } from '../fuzz/state.js';
import { STABILITY_EVERY_DEFAULT } from '../fuzz/engine.js';
import { normalizeConfig } from '../hw/config.js';
import type { Hub } from './hub-connection.js';
import { bigintJson } from '../target/profile-json.js';
import type { TargetProfile } from '../target/profile.js';
import { HubError } from './hub-error.js';
import type { CampaignKeys } from './hub-keys.js';
import { decodeSeedCorpus, HubMessageError, type SeedCorpus } from './hub-messages.js';
import { seedsTag } from './hub-seeds.js';

export const HUB_META_VERSION = 1;
/** Default lock of a running block: a machine silent this long is presumed dead and its block re-queued. */
export const LOCK_MS_DEFAULT = 30_000;

export interface HubSpec {
  eptfuzz: string;
  seed: string;
  /** Runs of the whole campaign (0..runs-1); null: open-ended. */
  runs: number | null;
  block_runs: number;
  sync_lag: number;
  ops_max: number;
  features: string;
  bugs: string[];
  swarm: boolean;
  mode: 'bare' | 'hv';
  /** canonicalJson of the normalized machine configuration, planted bugs included. */
  machine: string;
  oracle: string;
  stability_every: number;
  shrink_steps_max: number;
  shrink_ms_max: number;
  /** The options crash descriptions record (campaign.ts recordedOptions). */
  recorded: Record<string, string | number | boolean>;
  /**
   * An external target (`--target bochs|qemu|exec:CMD`): its profile name, and the fingerprint of
   * the whole profile (what the traces are fitted to and judged under). Absent: the built-in machine.
   */
  target?: string;
  target_profile?: string;
  /** The seed corpus (`--corpus DIR` of the creating machine): `<count>:<fingerprint>` (hub-seeds.ts). Absent: none. */
  seeds?: string;
}

export interface HubMeta {
  version: number;
  name: string;
  spec: HubSpec;
  fingerprint: string;
  lock_ms: number;
}

export function blockCount(spec: HubSpec): number | null {
  return spec.runs === null ? null : Math.ceil(spec.runs / spec.block_runs);
}

/** The spec of a campaign run with `o` (the options a local campaign would be run with). */
export function hubSpec(o: CampaignOptions, blockRuns: number, syncLag: number, seeds?: string): HubSpec {
  const config = normalizeConfig({ ...(o.config ?? {}), bugs: [...o.bugs] });
  // Block size and lag are recorded when not the defaults (as a local campaign with them does).
  const recorded = recordedOptions({ ...o, batchRuns: blockRuns, syncLagBatches: syncLag });
  return {
    eptfuzz: EPTFUZZ_VERSION,
    seed: o.seed,
    runs: o.runs,
    block_runs: blockRuns,
    sync_lag: syncLag,
    ops_max: o.opsMax,
    features: [...o.features].sort().join(','),
    bugs: [...o.bugs].sort(),
    swarm: o.swarm,
    mode: configMode(config),
    machine: canonicalJson(config),
    oracle: o.oracle ?? 'model',
    stability_every: o.stabilityEvery ?? STABILITY_EVERY_DEFAULT,
    shrink_steps_max: o.shrinkStepsMax,
    shrink_ms_max: o.shrinkMsMax,
    recorded,
    ...(o.external !== undefined ? { target: o.external.profile.name, target_profile: profileFingerprint(o.external.profile) } : {}),
    ...(seeds !== undefined ? { seeds } : {}),
  };
}

/**
 * The first 16 hex digits of the SHA-256 of a target profile's canonical JSON (the ops campaigns
 * avoid by their findings' names): machines with another build of the target's profile differ.
 */
export function profileFingerprint(p: TargetProfile): string {
  const plain = { ...p, description: undefined, campaignAvoids: (p.campaignAvoids ?? []).map((a) => a.finding) };
  return createHash('sha256').update(canonicalJson(JSON.parse(JSON.stringify(plain, bigintJson)))).digest('hex').slice(0, 16);
}

export function fingerprint(spec: HubSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16);
}

function parseMeta(text: string, name: string): HubMeta {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new HubError(`campaign ${name}: its metadata on the hub is not JSON`);
  }
  const x = m as Partial<HubMeta> | null;
  if (typeof x !== 'object' || x === null || x.version !== HUB_META_VERSION || typeof x.spec !== 'object' || x.spec === null
    || typeof x.fingerprint !== 'string' || typeof x.lock_ms !== 'number' || typeof x.spec.seed !== 'string'
    || typeof x.spec.block_runs !== 'number' || !(x.spec.block_runs >= 1) || typeof x.spec.sync_lag !== 'number' || !(x.spec.sync_lag >= 1)
    || (x.spec.runs !== null && typeof x.spec.runs !== 'number') || typeof x.spec.recorded !== 'object') {
    throw new HubError(`campaign ${name}: its metadata on the hub is malformed (version ${String(x?.version)})`);
  }
  return x as HubMeta;
}

/** The first option in which two specs differ, as `name (there: a, here: b)`. */
function firstDifference(there: HubSpec, here: HubSpec): string {
  const a = there as unknown as Record<string, unknown>;
  const b = here as unknown as Record<string, unknown>;
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const x = canonicalJson(a[k]);
    const y = canonicalJson(b[k]);
    if (x !== y) {
      const short = (s: string | undefined): string => (s === undefined ? 'absent' : s.length > 60 ? s.slice(0, 57) + '...' : s);
      return `${k} (there: ${short(x)}, here: ${short(y)})`;
    }
  }
  return 'none';
}

/**
 * The campaign's creation, all or nothing: its metadata (unless there), its state, and its seed
 * corpus with the totals it starts from. KEYS: meta, state, seeds, totals; ARGV: meta JSON, then
 * the seeds blob, their count and their features' count (or nothing).
 */
const CREATE_LUA = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('SET', KEYS[2], 'running', 'NX')
if #ARGV > 1 then
  redis.call('SET', KEYS[3], ARGV[2])
  redis.call('HSET', KEYS[4], 'corpus', ARGV[3], 'coverage', ARGV[4])
end
return 1
`;

/**
 * Creates campaign `keys.name` with `spec` (and `seeds`, the blob of the seed corpus `spec.seeds`
 * names), or joins it if it exists with the same spec. A machine bringing no seeds joins a
 * campaign that has some (it takes them from the hub); one bringing other seeds is refused.
 */
export async function createOrJoin(hub: Hub, keys: CampaignKeys, given: HubSpec, lockMs: number, seeds: { blob: Buffer; count: number; features: number } | null = null): Promise<{ meta: HubMeta; created: boolean }> {
  let spec = given;
  const meta: HubMeta = { version: HUB_META_VERSION, name: keys.name, spec, fingerprint: fingerprint(spec), lock_ms: lockMs };
  const args = seeds === null ? [] : [seeds.blob, String(seeds.count), String(seeds.features)];
  const created = await hub.redis.eval(CREATE_LUA, 4, keys.meta, keys.state, keys.seeds, keys.totals, JSON.stringify(meta), ...args);
  if (created === 1) return { meta, created: true };
  const there = await loadMeta(hub, keys);
  if ((there.spec.target ?? 'machine') !== (spec.target ?? 'machine')) {
    throw new HubError(`campaign ${keys.name} runs on --target ${there.spec.target ?? 'machine'}, this machine on --target ${spec.target ?? 'machine'}; give the campaign's target or another --campaign`);
  }
  if (spec.seeds === undefined && there.spec.seeds !== undefined) spec = { ...spec, seeds: there.spec.seeds };
  else if (spec.seeds !== there.spec.seeds) {
    throw new HubError(`campaign ${keys.name} started from ${there.spec.seeds === undefined ? 'no seed corpus' : `a seed corpus of ${there.spec.seeds.split(':')[0]} traces (${there.spec.seeds.split(':')[1]})`}, this machine's --corpus holds ${spec.seeds === undefined ? 'none' : `${spec.seeds.split(':')[0]} traces (${spec.seeds.split(':')[1]})`}; drop --corpus (the campaign's seeds come from the hub) or give the same seeds`);
  }
  if (there.fingerprint !== fingerprint(spec) || canonicalJson(there.spec) !== canonicalJson(spec)) {
    throw new HubError(`campaign ${keys.name} exists on the hub with other options: ${firstDifference(there.spec, spec)}; give the same options or another --campaign`);
  }
  return { meta: there, created: false };
}

export async function loadMeta(hub: Hub, keys: CampaignKeys): Promise<HubMeta> {
  const text = await hub.redis.get(keys.meta);
  if (text === null) throw new HubError(`no campaign ${keys.name} on hub ${hub.address.display}`);
  return parseMeta(text, keys.name);
}

export async function campaignState(hub: Hub, keys: CampaignKeys): Promise<'running' | 'stopped'> {
  return (await hub.redis.get(keys.state)) === 'stopped' ? 'stopped' : 'running';
}

export async function setCampaignState(hub: Hub, keys: CampaignKeys, state: 'running' | 'stopped'): Promise<void> {
  await loadMeta(hub, keys);
  await hub.redis.set(keys.state, state);
}

/** The campaign's seed corpus from the hub (null: it has none), checked against the spec's tag. */
export async function loadSeedCorpus(hub: Hub, keys: CampaignKeys, meta: HubMeta): Promise<SeedCorpus | null> {
  if (meta.spec.seeds === undefined) return null;
  const seeds = decodeSeedCorpus(await hub.redis.getBuffer(keys.seeds));
  if (seedsTag(seeds) !== meta.spec.seeds) throw new HubMessageError(`malformed seed corpus: it holds ${seedsTag(seeds)}, the campaign's metadata names ${meta.spec.seeds}`);
  return seeds;
}
