/**
 * The minimization job of a hub campaign: one per new signature (queued by the merge that found
 * it), run by whichever machine takes it, on this machine's main thread in slices so its BullMQ
 * locks stay renewed.
 * Contract: the input is the first hit by run index (stored with the merge record that found it),
 * the budget the campaign's, the code the local campaign's (fuzz/minimize-job.ts): the outcome is
 * the one a local campaign gets. It is stored once (SET NX) together with clearing the pending
 * mark (one MULTI); a machine dying mid-way leaves the job to stalled-job recovery, and a second
 * run of a finished job only finds the outcome there.
 */
import { setImmediate as immediate } from 'node:timers/promises';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Target } from '../check/runner.js';
import { MinimizeJob } from '../fuzz/minimize-job.js';
import type { Hub } from './hub-connection.js';
import type { HubMeta } from './hub-campaign.js';
import type { CampaignKeys } from './hub-keys.js';
import { decodeMinimizeInput, encodeMinimizeOutcome } from './hub-messages.js';

/** Minimization slice on the main thread (ms): short enough for lock renewals and merges. */
const SLICE_MS = 40;

export function minimizeProcessor(hub: Hub, keys: CampaignKeys, meta: HubMeta, target: Target, stopping: () => boolean, log: (line: string) => void) {
  return async (job: Job): Promise<string> => {
    const data = job.data as { hash?: unknown } | null;
    const hash = data?.hash;
    if (typeof hash !== 'string' || !/^[0-9a-f]{16,64}$/.test(hash)) {
      const line = `hub: rejected minimization job ${job.id ?? '?'}: its data names no signature hash`;
      log(line);
      throw new UnrecoverableError(line);
    }
    if ((await hub.redis.exists(keys.minimized(hash))) === 1) {
      await hub.redis.srem(keys.minimizePending, hash);
      return 'done before';
    }
    const input = decodeMinimizeInput(await hub.redis.getBuffer(keys.minimizeInput(hash)), hash);
    const mj = new MinimizeJob(hash, input.signature, input.trace, target, { stepsMax: meta.spec.shrink_steps_max, msMax: meta.spec.shrink_ms_max });
    while (!mj.slice(SLICE_MS)) {
      await immediate();
      if (stopping()) throw new Error(`minimization of ${hash} stopped (this machine is leaving)`);
    }
    const result = mj.result ?? null;
    await hub.redis.multi()
      .set(keys.minimized(hash), encodeMinimizeOutcome({ hash, result }), 'NX')
      .srem(keys.minimizePending, hash)
      .exec();
    if (result !== null) {
      const r = result.report;
      log(`minimized ${hash}: ${r.opsBefore} -> ${r.opsAfter} ops in ${r.steps} steps${r.timedOut ? ' (time limit reached)' : r.stepsExhausted ? ' (step limit reached)' : ''}`);
    } else {
      log(`minimized ${hash}: the failure did not reproduce with its signature; the original stays the repro`);
    }
    return 'minimized';
  };
}
