/**
 * What a direct-mode target cannot survive (agent/PROTOCOL.md "Direct mode"): the agent's event
 * delivery goes through guest PML4 slot 511 of the CR3 the guest runs under, so a guest op that
 * writes the harness's tables (the stub frames) or that PML4 entry would take the agent down with
 * it; a fetch the model lets run whose bytes the agent cannot replace by its NOP would run an
 * instruction nobody chose at the trace's CPL; an IA32_PKRS that forbids the agent's protection key under CR4.PKS would fault its stack
 * pushes; and a guest access the model sends to an EPT exit left the identity-mapped RAM (the
 * target has no EPT: nothing there to compare). Contract: a `StepGuard` for preRun; judging (and the
 * run sent to the target) stops at the first such step.
 */
import type { SpecStep } from '../../model/api.js';
import type { SpecCandidate } from '../../model/candidate.js';
import type { ReferenceModel } from '../../model/model.js';
import type { Op } from '../../trace/ops.js';
import { throughStub, type Lowered } from '../bochs/lower.js';
import { inRanges, keptFromTraces, type TargetProfile } from '../profile.js';
import { fetchPatchable } from '../fetch-patch.js';
import { STUB_HPA } from '../bochs/profile.js';
import { stubFrames } from '../bochs/stub.js';
import type { StepGuard } from '../bochs/watch.js';
import { CR4_PKS } from '../../hw/bits.js';
import { DIRECT_GUEST_PML4E, DIRECT_PKEY } from './stub.js';

const SLOT_511_OFFSET = 511 * 8;

function slot511(bytes: Uint8Array | null): bigint {
  if (bytes === null) return 0n;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(SLOT_511_OFFSET, true);
}

/** Ops the guest executes (the others run in the agent, and slot 511 is re-installed after them). */
function entersGuest(op: Op): boolean {
  return op.op === 'fetch' || throughStub(op);
}

const PAGE = 4096;

/**
 * A fetch the model lets run whose bytes the agent cannot all replace by its NOP would run an
 * instruction nobody chose: judging stops there (under VMX the L2 guest contains it; without VMX
 * it runs at the trace's CPL beside the agent, so direct mode does not even send it).
 */
export function fetchGuard(lowered: Lowered, profile: TargetProfile): StepGuard {
  const ramEnd = profile.config.framesMax * PAGE;
  const kept = keptFromTraces(profile, STUB_HPA);
  const inRam = (hpa: number): boolean => hpa + PAGE <= ramEnd && inRanges(kept, hpa, PAGE) === null;
  return (i: number, step: SpecStep, model: ReferenceModel): string | null => {
    const op = lowered.trace.ops[i];
    if (lowered.origin[i] < 0 || op.op !== 'fetch' || !step.allowed.some((c) => c.outcome.kind === 'ok')) return null;
    if (fetchPatchable(model, op.la, op.size, lowered.trace.machine.maxPhyAddr, inRam)) return null;
    return 'the fetched bytes cannot all be replaced by the agent\'s NOP (they are outside RAM or in a table of their own translation), and the instruction would run';
  };
}

export function directGuard(lowered: Lowered, profile: TargetProfile): StepGuard {
  const harness = new Set(stubFrames());
  const unpatchableFetch = fetchGuard(lowered, profile);
  return (i: number, step: SpecStep, model: ReferenceModel): string | null => {
    if (lowered.origin[i] < 0 || !entersGuest(lowered.trace.ops[i])) return null;
    const unpatchable = unpatchableFetch(i, step, model);
    if (unpatchable !== null) return unpatchable;
    const op = lowered.trace.ops[i];
    const st = model.vcpuState(0);
    const pml4 = Math.floor(st.cr3 / 4096);
    if (op.op === 'set_reg' && (op.reg === 'cr4' || op.reg === 'pkrs') && step.allowed[0].outcome.kind === 'ok') {
      const cr4 = op.reg === 'cr4' ? Number(op.value & 0xffffffffn) : st.cr4;
      const pkrs = op.reg === 'pkrs' ? Number(op.value & 0xffffffffn) : st.pkrs;
      if ((cr4 & CR4_PKS) !== 0 && ((pkrs >>> (2 * DIRECT_PKEY)) & 3) !== 0) return `IA32_PKRS forbids protection key ${DIRECT_PKEY} under CR4.PKS, and the agent's event delivery uses it`;
    }
    for (const c of step.allowed) {
      if (c.outcome.kind === 'exit') return 'the guest reaches guest-physical memory above the RAM the target has (the model answers with an EPT exit)';
      for (const f of c.frames) if (harness.has(f)) return 'the guest writes the harness\'s tables (the stub frames) through its own mappings';
      if (c.frames.includes(pml4) && slot511((c as SpecCandidate).frameAfter(pml4)) !== DIRECT_GUEST_PML4E) return 'the guest overwrites PML4 slot 511, where the agent\'s event handlers are mapped';
    }
    return null;
  };
}
