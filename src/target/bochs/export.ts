/**
 * The bootable reproducer of a trace (`eptfuzz export TRACE --image OUT`): the guest agent and a
 * one-trace batch that carries, for every step, the outcomes the reference model allows, so the
 * image prints each step's expected and actual outcomes and a final PASS/FAIL line on any
 * machine or emulator that boots a disk image: with VMX for a VMX-mode profile (Bochs), or any
 * x86-64 one for a direct-mode profile (QEMU's TCG; agent/PROTOCOL.md "Expectations", "Direct
 * mode"). A direct-mode trace is cut where its pre-run stops (the image never runs such a step).
 * Contract: deterministic (same trace, same image bytes); the expectations follow the model's
 * fresh-walk path (allowed[0] committed at every step), so a target that takes another allowed
 * branch early can see a later step it does not match; memory is not compared by the image.
 */
import type { Outcome } from '../../hw/outcome.js';
import { ReferenceModel } from '../../model/model.js';
import type { Trace } from '../../trace/trace.js';
import { formatOp } from '../../trace/text.js';
import { agentBatchFlags, agentTrace, lowerFor } from '../lowering.js';
import type { TargetProfile } from '../profile.js';
import { encodeBatch, EXPECT_MAX } from './batch.js';
import { diskImage } from './image.js';
import { STUB_LA_SUP, STUB_LA_USER } from './profile.js';

/** The outcomes the model allows at each step of `trace` along its fresh-walk path. */
export function expectations(trace: Trace): Outcome[][] {
  const model = new ReferenceModel(trace.machine);
  return trace.ops.map((op) => {
    const step = model.step(op);
    const out: Outcome[] = [];
    for (const c of step.allowed) if (out.length < EXPECT_MAX && !out.some((o) => JSON.stringify(o, big) === JSON.stringify(c.outcome, big))) out.push(c.outcome);
    model.commit(step.allowed[0]);
    return out;
  });
}

const big = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString(16) : v);

/**
 * The image's step numbers are those of the lowered trace (harness ops included): one line per
 * step naming the original op it is, or the harness op and the original op it prepares.
 */
export function stepMap(trace: Trace, p: TargetProfile): string {
  const lowered = lowerFor(trace, p);
  return lowered.trace.ops.map((op, i) => {
    const o = lowered.origin[i];
    return o >= 0 ? `step ${i}: op ${o}: ${formatOp(op)}` : `step ${i}: harness: ${formatOp(op)}`;
  }).join('\n') + '\n';
}

/** The disk image bytes for `trace` (already on the profile's configuration and runnable there). */
export function exportImage(trace: Trace, agent: Uint8Array, p: TargetProfile): Uint8Array {
  const { lowered, watch } = agentTrace(trace, p);
  const batch = encodeBatch([{
    index: 0, trace: lowered.trace, watch, stubLaSup: STUB_LA_SUP, stubLaUser: STUB_LA_USER,
    loadCr3: lowered.loadCr3, expect: expectations(lowered.trace),
  }], p.config.framesMax * 4096, p.config.maxPhyAddr, agentBatchFlags(p));
  return diskImage(agent, batch).bytes;
}
