/**
 * The minimization job of a hub campaign: one per new signature (queued by the merge that found
 * it), run by whichever machine takes it, on this machine's main thread in slices so its BullMQ
 * locks stay renewed; on an external target, on the target (src/target/minimize.ts, as a local
 * `--target` campaign minimizes).
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
import type { ExternalTarget } from '../target/external.js';
import { minimizeOnTarget } from '../target/minimize.js';
import type { Hub } from './hub-connection.js';
import type { HubMeta } from './hub-campaign.js';
import type { CampaignKeys } from './hub-keys.js';
import { decodeMinimizeInput, encodeMinimizeOutcome } from './hub-messages.js';

/** Minimization slice on the main thread (ms): short enough for lock renewals and merges. */
const SLICE_MS = 40;

/** A command no machine has: a target run started while the machine leaves fails at once. */
const LEAVING_COMMAND = ['/eptfuzz-machine-is-leaving'];

/**
 * `external`, whose runs fail at once (cannot start) once `stopping()`: a minimization on a slow
 * target (minutes on Bochs) then ends after the target run in flight, and its result is thrown away.
 */
function untilLeaving(external: ExternalTarget, stopping: () => boolean): ExternalTarget {
  return { profile: external.profile, get command() { return stopping() ? LEAVING_COMMAND : external.command; } };
}

export function minimizeProcessor(hub: Hub, keys: CampaignKeys, meta: HubMeta, target: Target, external: ExternalTarget | null, stopping: () => boolean, log: (line: string) => void) {
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
    const budget = { stepsMax: meta.spec.shrink_steps_max, msMax: meta.spec.shrink_ms_max };
    const leaving = (): Error => new Error(`minimization of ${hash} stopped (this machine is leaving)`);
    let result;
    if (external !== null) {
      result = await minimizeOnTarget(untilLeaving(external, stopping), input.trace, input.signature, budget);
      if (stopping()) throw leaving();
    } else {
      const mj = new MinimizeJob(hash, input.signature, input.trace, target, budget);
      while (!mj.slice(SLICE_MS)) {
        await immediate();
        if (stopping()) throw leaving();
      }
      result = mj.result ?? null;
    }
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
