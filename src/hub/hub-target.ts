/**
 * Whether this machine can run a hub campaign's external target (`--target bochs|qemu|exec:CMD`):
 * a machine without the emulator (or with a broken one) must not join, or every trace it runs
 * would come back as a target fault and be merged as a finding of the campaign.
 * Contract: `targetProblem` boots the target once on an empty batch (the agent starts, says hello
 * and ends: about 2 s on Bochs or QEMU) and returns null when the batch completed, else the one
 * line saying why not (the adapter's own words: a missing binary, a timeout, unreadable output).
 */
import { encodeBatch } from '../target/bochs/batch.js';
import { execBatch } from '../target/exec.js';
import { batchTimeoutMs, type ExternalTarget } from '../target/external.js';
import { agentBatchFlags } from '../target/lowering.js';

export async function targetProblem(t: ExternalTarget): Promise<string | null> {
  const p = t.profile;
  const empty = encodeBatch([], p.config.framesMax * 4096, p.config.maxPhyAddr, agentBatchFlags(p));
  const r = await execBatch(t.command, empty, batchTimeoutMs(0, p));
  return r.fault === null ? null : r.fault.split('\n')[0];
}
