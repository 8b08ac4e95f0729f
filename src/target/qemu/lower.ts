/**
 * Direct-mode lowering (agent/PROTOCOL.md "Direct mode"): the trace the agent runs without VMX,
 * as a trace the reference model can judge. Contract: like src/target/bochs/lower.ts, `origin[i]`
 * is the original index of lowered op i (-1 for a harness op), and harness ops are ordinary ops:
 * - a prologue builds the harness frames (stub.ts) and points the model's EPTP at the identity
 *   EPT (the target has none: the agent records the EPTP for its debug walks and runs nothing);
 * - before every op the guest executes (read, write, fetch, invlpg, a register write through the
 *   stub), `gpt_set` re-installs guest PML4 slot 511 at the current CR3 (left out where
 *   `keepsStubEntries` says no op since the last one can have changed it): the agent's IDT, GDT,
 *   stack and the stub live there, and the instruction's fault or single-step trap is delivered
 *   through them; then, for an op the stub executes, the one-byte probe `fetch` of the stub page
 *   (user page at CPL 3) stands for the stub's own fetch, as under VMX;
 * - a MOV CR3 that the CPU accepts must land in a PML4 that maps slot 511 too (its trap is
 *   delivered under the new CR3): a `phys_write` installs the entry there first. A PML4 frame
 *   outside trace RAM (or in memory the target keeps) cannot take it: `stop` says so, and the
 *   trace is run and judged only up to there.
 * Register writes run at CPL 0 (a kernel executes them); at another CPL the lowered trace switches
 * to 0 around them.
 */
import type { Op } from '../../trace/ops.js';
import type { Trace } from '../../trace/trace.js';
import { emitThroughStub, keepsStubEntries, throughStub, type Lowered } from '../bochs/lower.js';
import { STUB_LA_SUP } from '../bochs/profile.js';
import { inRanges, type TargetProfile } from '../profile.js';
import { DIRECT_EPTP, DIRECT_GUEST_PML4E, directStubWords } from './stub.js';

const SLOT_511_OFFSET = 511 * 8;

export function lowerDirect(trace: Trace, profile: TargetProfile): Lowered {
  const ops: Op[] = [];
  const origin: number[] = [];
  const harness = (op: Op): void => { ops.push(op); origin.push(-1); };
  const original = (op: Op, i: number): void => { ops.push(op); origin.push(i); };
  for (const { hpa, value } of directStubWords()) harness({ op: 'phys_write', hpa, size: 8, value });
  harness({ op: 'set_eptp', cpu: 0, value: DIRECT_EPTP });
  const ramEnd = profile.config.framesMax * 4096;
  const maxPhy = BigInt(trace.machine.maxPhyAddr);
  let stop: Lowered['stop'] = null;
  let cpl = 0;
  let installed = false;
  for (let i = 0; i < trace.ops.length; i++) {
    const op = trace.ops[i];
    if (op.op === 'set_reg' && op.reg === 'cr3' && op.value >> maxPhy === 0n) {
      const pml4 = Number(op.value & ~0xfffn);
      const kept = inRanges(profile.reserved.hpa, pml4, 4096);
      if (pml4 + 4096 > ramEnd || kept !== null) {
        stop ??= { step: ops.length, why: `MOV CR3 ${'0x' + op.value.toString(16)} loads a PML4 in ${kept?.why ?? 'memory outside trace RAM'}, where the agent cannot map its event handlers` };
      } else {
        harness({ op: 'phys_write', hpa: pml4 + SLOT_511_OFFSET, size: 8, value: DIRECT_GUEST_PML4E });
      }
    }
    const stubbed = throughStub(op);
    if ((stubbed || op.op === 'fetch') && !installed) {
      harness({ op: 'gpt_set', cpu: 0, la: STUB_LA_SUP, level: 4, entry: DIRECT_GUEST_PML4E });
      installed = true;
    }
    if (stubbed) {
      emitThroughStub(op, i, cpl, harness, original);
      installed &&= keepsStubEntries(op);
      continue;
    }
    original(op, i);
    installed &&= keepsStubEntries(op);
    if (op.op === 'set_reg' && op.reg === 'cpl' && op.value <= 3n) cpl = Number(op.value);
  }
  return { trace: { ...trace, ops }, origin: Int32Array.from(origin), loadCr3: new Set(), stop };
}
