/**
 * `eptfuzz crashes pull` and `eptfuzz corpus pull`: a hub campaign's crash store and corpus,
 * written locally in the layout a local campaign writes.
 * Contract: the crash store is rebuilt by the local store's own code (fuzz/crash-store.ts) from
 * the merge records in block order: each signature's first hit by run index creates its
 * directory, later hits count and keep originals while fewer than ORIGINALS_MAX are kept, and a
 * finished minimization replaces the repro; so for the same seed, options and run range the
 * directories are byte-identical to a local campaign's, whichever machines ran the blocks, but for
 * seen.json, which holds the hub's wall-clock sightings of the signature (hub-sightings.ts). The
 * store is built under a temporary name inside DIR and each signature's directory then replaces
 * the one of the same name (other entries of DIR are left alone). The corpus is written entry by
 * entry as a local campaign adds them (content-addressed, never twice), the campaign's seed
 * corpus first: the files a local campaign's --corpus directory holds at its end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CrashStore } from '../fuzz/crash-store.js';
import { Corpus } from '../fuzz/corpus.js';
import { TEMP_PREFIX } from '../fuzz/atomic.js';
import type { Trace } from '../trace/trace.js';
import type { Hub } from './hub-connection.js';
import { loadMeta, loadSeedCorpus } from './hub-campaign.js';
import type { CampaignKeys } from './hub-keys.js';
import { decodeMinimizeOutcome, type MinimizeOutcome } from './hub-messages.js';
import { HubMerger } from './hub-merger.js';
import { readSightings } from './hub-sightings.js';
import { writeSeen } from '../fuzz/crash-seen.js';

export interface PullSummary {
  merged: number;
  blocksTotal: number | null;
  written: number;
  pending: number;
}

async function mergedCampaign(hub: Hub, keys: CampaignKeys): Promise<{ merger: HubMerger; meta: Awaited<ReturnType<typeof loadMeta>> }> {
  const meta = await loadMeta(hub, keys);
  const merger = new HubMerger(hub, keys, meta, null, () => undefined);
  await merger.catchUp();
  return { merger, meta };
}

export async function pullCrashes(hub: Hub, keys: CampaignKeys, dir: string): Promise<PullSummary> {
  const { merger, meta } = await mergedCampaign(hub, keys);
  const state = merger.state;
  const hashes = [...state.crashes.keys()].sort();
  const outcomes = new Map<string, MinimizeOutcome>();
  if (hashes.length > 0) {
    const blobs = await hub.redis.mgetBuffer(...hashes.map((h) => keys.minimized(h)));
    hashes.forEach((h, i) => {
      const b = blobs[i];
      if (b !== null) outcomes.set(h, decodeMinimizeOutcome(b, h));
    });
  }
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `${TEMP_PREFIX}pull-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  let pending = 0;
  try {
    const store = new CrashStore(tmp, meta.spec.seed, meta.spec.recorded);
    const firstTrace = new Map<string, Trace>();
    for (const r of state.records) {
      for (const c of r.crashes) {
        if (c.first) {
          store.create(c.hash, c.signature, c.run, c.trace!, null, c.note ?? undefined, c.rule);
          firstTrace.set(c.hash, c.trace!);
        } else {
          // A hit without its trace comes after ORIGINALS_MAX are kept: `again` only counts it.
          store.again(c.hash, c.trace ?? firstTrace.get(c.hash)!);
        }
      }
    }
    for (const h of hashes) {
      const tally = state.crashes.get(h)!;
      if (tally.note !== null) continue;
      const o = outcomes.get(h);
      if (o === undefined) { pending++; continue; }
      if (o.result !== null) store.finish(h, o.result);
      else store.finish(h, null, 'not minimized: the failure did not reproduce with the same signature');
    }
    store.flush();
    // seen.json: the hub's wall-clock sightings, not the time of this pull ("not recorded" when
    // the hub has none: a campaign run by an eptfuzz before sightings were kept).
    const sightings = await readSightings(hub, keys);
    for (const h of hashes) writeSeen(path.join(tmp, h), sightings.get(h) ?? { first_seen: null, last_seen: null });
    for (const h of hashes) {
      const dest = path.join(dir, h);
      fs.rmSync(dest, { recursive: true, force: true });
      fs.renameSync(path.join(tmp, h), dest);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { merged: state.blocks, blocksTotal: merger.blocksTotal, written: hashes.length, pending };
}

export async function pullCorpus(hub: Hub, keys: CampaignKeys, dir: string): Promise<PullSummary> {
  const { merger, meta } = await mergedCampaign(hub, keys);
  const seeds = await loadSeedCorpus(hub, keys, meta);
  fs.mkdirSync(dir, { recursive: true });
  const corpus = new Corpus(dir);
  let written = 0;
  // The seeds first, as a local campaign's --corpus holds them before what it adds.
  for (const e of seeds?.entries ?? []) if (corpus.add(e.trace) !== null) written++;
  for (const r of merger.state.records) {
    for (const e of r.corpus) if (corpus.add(e.trace) !== null) written++;
  }
  return { merged: merger.state.blocks, blocksTotal: merger.blocksTotal, written, pending: 0 };
}
