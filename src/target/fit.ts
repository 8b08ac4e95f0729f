/**
 * Fitting a generated or mutated trace to a target: the smallest rewrite that makes every op one
 * the target can run (domain.ts). Contract: pure and deterministic (the same trace and profile
 * give the same result), and the identity on a trace `runnableOn` already accepts and that has no
 * op the profile's `campaignAvoids` names; ops it cannot fix, and those, are dropped. The campaign stores the fitted trace, so what is replayed is what ran.
 */
import { EPTP_SSS } from '../hw/bits.js';
import type { Op } from '../trace/ops.js';
import type { Trace } from '../trace/trace.js';
import { MODEL_CTLS2, MODEL_CTLS2_ON, opRefusal } from './domain.js';
import type { TargetProfile } from './profile.js';

/** `op` made runnable where a small rewrite can (the same object when nothing needs changing). */
function fitOp(op: Op, p: TargetProfile): Op {
  let out = op;
  if ('cpu' in out && out.cpu >= p.config.vcpus) out = { ...out, cpu: out.cpu % p.config.vcpus } as Op;
  if ((out.op === 'read' || out.op === 'write') && !p.accessSizes.includes(out.size)) {
    const size = Math.max(...p.accessSizes.filter((s) => s <= (out as { size: number }).size), Math.min(...p.accessSizes));
    out = { ...out, size };
  }
  if (out.op === 'set_ctls2') out = { ...out, value: ((out.value & MODEL_CTLS2) | MODEL_CTLS2_ON) >>> 0 };
  if (out.op === 'set_eptp') out = { ...out, value: out.value & ~BigInt(EPTP_SSS) };
  if (out.op === 'invept' && out.type === 1) out = { ...out, eptp: out.eptp & ~BigInt(EPTP_SSS) };
  if (out.op === 'set_reg' && out.value < 1n << 32n) {
    if (out.reg === 'cr0') out = { ...out, value: out.value | BigInt(p.cr0MustSet >>> 0) };
    if (out.reg === 'cr4') out = { ...out, value: out.value & BigInt(p.cr4MaySet >>> 0) };
  }
  return out;
}

export function fitToTarget(trace: Trace, p: TargetProfile): Trace {
  const avoids = p.campaignAvoids ?? [];
  const maxPhy = p.config.maxPhyAddr;
  const ops = trace.ops.map((op) => fitOp(op, p))
    .filter((op, i) => opRefusal(op, i, p) === null && !avoids.some((a) => a.matches(op, maxPhy)));
  return { ...trace, machine: p.config, ops };
}
