/**
 * Which signature a campaign files a failure under. A finding may have alternative explanations
 * that fit its step as well (src/check/checkers.ts Finding.alternates: a stale translation and the
 * rule the target parted from on the current path, an ignored key exemption and the other key
 * register, ...): it is filed under its own signature when that is on file, else under the first
 * alternative on file, else under its own (a new crash directory). syzkaller matches a crash to a
 * known bug by its alternative titles the same way.
 * Contract: pure; `known(hash)` says whether a signature hash is on file at this point of the
 * campaign. Campaigns decide in run order (local: campaign.ts merge; hub: merged-state.ts, in
 * block order), so the choice depends only on the runs before, never on workers or machines.
 */
import { signatureHash } from '../check/violation.js';
import type { Signature } from '../trace/trace.js';
import type { RunFailure } from './protocol.js';

export function fileUnder(failure: RunFailure, known: (hash: string) => boolean): Signature {
  const own = failure.signature;
  if (failure.alternates === undefined || failure.alternates.length === 0 || known(signatureHash(own))) return own;
  for (const alt of failure.alternates) if (known(signatureHash(alt))) return alt;
  return own;
}
