/**
 * Where a hub campaign lives in Redis. Every key of campaign NAME starts with `eptfuzz:{NAME}:`
 * (the braces are a Redis Cluster hash tag: one campaign's keys share a slot, so its Lua scripts
 * may touch several); its BullMQ queues are `NAME.blocks` and `NAME.minimize` under the prefix
 * `eptfuzz:{NAME}`.
 * Contract: campaign names are 1-64 of [A-Za-z0-9._-] (checked by `checkCampaignName`, HubError).
 */
import { HubError } from './hub-error.js';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

export function checkCampaignName(name: string): string {
  if (!NAME.test(name)) throw new HubError(`--campaign: expected 1-64 letters, digits, '.', '_' or '-', got '${name.slice(0, 80)}'`);
  return name;
}

export interface CampaignKeys {
  name: string;
  /** BullMQ prefix of this campaign's queues. */
  queuePrefix: string;
  blocksQueue: string;
  minimizeQueue: string;
  /** JSON: the campaign's options, fingerprint and settings (hub-campaign.ts). */
  meta: string;
  /** 'running' or 'stopped'. */
  state: string;
  /** Blocks merged so far (records 0..merged-1 exist). */
  merged: string;
  /** Blocks whose jobs have been queued (0..queued-1). */
  queued: string;
  /** Hash of campaign totals (runs, ops, hits, signatures, corpus, coverage, last_find_ms). */
  totals: string;
  /** Hash: machine id -> JSON of its status (hub-status.ts). */
  machines: string;
  /** Set of signature hashes whose minimization has not finished. */
  minimizePending: string;
  /** Hash: signature hash -> `FIRST_MS,LAST_MS`, wall-clock sightings (hub-sightings.ts; outside byte identity). */
  seen: string;
  /** List of campaign-total samples over time, oldest first (hub-series.ts; wall clock). */
  series: string;
  /** Hash: rule coverage of the merged runs, name -> count (hub-rules.ts). */
  rules: string;
  /** msgpack: the seed corpus the campaign starts from (hub-seeds.ts), when it has one. */
  seeds: string;
  result(block: number): string;
  merge(block: number): string;
  minimizeInput(hash: string): string;
  minimized(hash: string): string;
}

export function campaignKeys(name: string): CampaignKeys {
  const p = `eptfuzz:{${checkCampaignName(name)}}:`;
  return {
    name,
    queuePrefix: `eptfuzz:{${name}}`,
    blocksQueue: `${name}.blocks`,
    minimizeQueue: `${name}.minimize`,
    meta: `${p}meta`,
    state: `${p}state`,
    merged: `${p}merged`,
    queued: `${p}queued`,
    totals: `${p}totals`,
    machines: `${p}machines`,
    minimizePending: `${p}minimize-pending`,
    seen: `${p}seen`,
    series: `${p}series`,
    rules: `${p}rules`,
    seeds: `${p}seeds`,
    result: (b) => `${p}result:${b}`,
    merge: (b) => `${p}merge:${b}`,
    minimizeInput: (h) => `${p}minimize-input:${h}`,
    minimized: (h) => `${p}minimized:${h}`,
  };
}
