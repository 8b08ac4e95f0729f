/**
 * `eptfuzz hub delete --campaign NAME [--force]`: removes a hub campaign, every key of it and of
 * nothing else: the keys under `eptfuzz:{NAME}:` (its own and its BullMQ queues', hub-keys.ts).
 * Contract: refused (HubError, one line) while a machine of the campaign is live (running and
 * publishing, as `status` says) unless `force`; with `force` the metadata goes first, so live
 * machines leave at their next tick (one line each, exit 2: "its metadata is gone"), and the rest
 * is deleted once they have left (waiting at most LEAVE_WAIT_MS), then swept again for what they
 * wrote while leaving. Another campaign's keys are never matched: names are [A-Za-z0-9._-], so the
 * SCAN pattern holds no wildcard but its final `*`, and the `}:` after NAME ends the name.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Hub } from './hub-connection.js';
import { HubError } from './hub-error.js';
import type { CampaignKeys } from './hub-keys.js';
import { liveMachines } from './hub-status.js';

/** How long a forced delete waits for live machines to leave before it deletes under them. */
const LEAVE_WAIT_MS = 30_000;
const SCAN_COUNT = 1000;

export interface DeleteResult {
  keys: number;
  /** Machines that were live when the delete began (forced). */
  machines: string[];
}

async function sweep(hub: Hub, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, found] = await hub.redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    if (found.length > 0) n += await hub.redis.unlink(...found);
  } while (cursor !== '0');
  return n;
}

export async function deleteCampaign(hub: Hub, keys: CampaignKeys, force: boolean): Promise<DeleteResult> {
  const pattern = `${keys.queuePrefix}:*`;
  if ((await hub.redis.exists(keys.meta)) === 0 && !(await anyKey(hub, pattern))) throw new HubError(`no campaign ${keys.name} on hub ${hub.address.display}`);
  const live = await liveMachines(hub, keys);
  if (live.length > 0 && !force) {
    throw new HubError(`campaign ${keys.name}: ${live.length} machine(s) running (${live.slice(0, 3).join(', ')}${live.length > 3 ? ', ...' : ''}); 'eptfuzz hub stop' first and let them leave, or give --force`);
  }
  let n = await hub.redis.unlink(keys.meta);
  if (live.length > 0) {
    const until = Date.now() + LEAVE_WAIT_MS;
    while ((await liveMachines(hub, keys)).length > 0 && Date.now() < until) await sleep(250);
  }
  n += await sweep(hub, pattern);
  // What machines still leaving wrote meanwhile (their last status).
  if (live.length > 0) { await sleep(1000); n += await sweep(hub, pattern); }
  return { keys: n, machines: live };
}

/** Whether any key matches (SCAN pages may be empty before the end: it goes on until one is found or the scan ends). */
async function anyKey(hub: Hub, pattern: string): Promise<boolean> {
  let cursor = '0';
  do {
    const [next, found] = await hub.redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    if (found.length > 0) return true;
    cursor = next;
  } while (cursor !== '0');
  return false;
}
