/**
 * Which traces a target can run, and the configuration they are judged under there.
 * Contract: `runnableOn` is static (it reads the ops, never runs them) and returns one line
 * naming the first thing the target cannot do, or null; `onTarget` returns the trace with the
 * target's machine configuration and says what changed, so that a trace written for the built-in
 * machine (all capabilities) can be replayed on a real one under that one's capabilities.
 */
import { OPTIONAL_CHOICE_DEFAULTS, type MachineConfig } from '../hw/config.js';
import { CTL2_EPT, CTL2_MBEC, CTL2_SPP, CTL2_VPID, EPTP_SSS } from '../hw/bits.js';
import type { Op } from '../trace/ops.js';
import type { Trace } from '../trace/trace.js';
import { inRanges, type TargetProfile } from './profile.js';

const hex = (n: number | bigint): string => '0x' + n.toString(16);

/**
 * Secondary controls the model runs: EPT and VPID always on (the machine shape), MBEC and SPP
 * varied. Other values make the model answer vmfail by its own restriction, not by the SDM, so a
 * real target is not asked (docs/semantics.md "VMCS writes").
 */
export const MODEL_CTLS2_ON = CTL2_EPT | CTL2_VPID;
export const MODEL_CTLS2 = MODEL_CTLS2_ON | CTL2_MBEC | CTL2_SPP;

function laOf(op: Op): number | null {
  switch (op.op) {
    case 'read': case 'write': case 'fetch': case 'invlpg': case 'gpt_set': return op.la;
    default: return null;
  }
}

/** One line naming why `op` (step `i`) cannot run on the target, or null. */
export function opRefusal(op: Op, i: number, p: TargetProfile): string | null {
  const at = `step ${i} (${op.op})`;
  if (p.unsupportedOps.includes(op.op)) return `${at}: the ${p.name} target cannot run ${op.op}`;
  if ('cpu' in op && op.cpu >= p.config.vcpus) return `${at}: cpu ${op.cpu}, but the ${p.name} target has ${p.config.vcpus} vCPU(s)`;
  if ((op.op === 'read' || op.op === 'write') && !p.accessSizes.includes(op.size)) {
    return `${at}: a ${op.size}-byte access is not one instruction on ${p.name} (sizes ${p.accessSizes.join(', ')})`;
  }
  const la = laOf(op);
  if (la !== null) {
    const size = op.op === 'read' || op.op === 'write' || op.op === 'fetch' ? op.size : 1;
    const r = inRanges(p.reserved.la, la, size);
    if (r !== null) return `${at}: linear address ${hex(la)} is reserved by the ${p.name} target (${r.why})`;
  }
  if (op.op === 'ept_set' || op.op === 'sppt_set') {
    const r = inRanges(p.reserved.gpa, op.gpa, 1);
    if (r !== null) return `${at}: guest-physical address ${hex(op.gpa)} is reserved by the ${p.name} target (${r.why})`;
  }
  if (op.op === 'phys_read' || op.op === 'phys_write') {
    const r = inRanges(p.reserved.hpa, op.hpa, op.size);
    if (r !== null) return `${at}: host-physical address ${hex(op.hpa)} is reserved by the ${p.name} target (${r.why})`;
  }
  if (op.op === 'set_reg' && op.reg === 'cr0' && op.value < 1n << 32n && (Number(op.value) & p.cr0MustSet) !== p.cr0MustSet) {
    return `${at}: cr0 ${hex(op.value)} turns paging off, which the ${p.name} target does not run yet`;
  }
  if (op.op === 'set_ctls2' && ((op.value & MODEL_CTLS2_ON) !== MODEL_CTLS2_ON || (op.value & ~MODEL_CTLS2) !== 0)) {
    return `${at}: secondary controls ${hex(op.value)} leave the model (it keeps EPT and VPID on and varies only MBEC and SPP)`;
  }
  if ((op.op === 'set_eptp' && (op.value & BigInt(EPTP_SSS)) !== 0n) || (op.op === 'invept' && op.type === 1 && (op.eptp & BigInt(EPTP_SSS)) !== 0n)) {
    return `${at}: EPTP bit 7 (supervisor shadow-stack control) is outside the model`;
  }
  if (op.op === 'set_reg' && op.reg === 'cr4' && op.value < 1n << 32n && (Number(op.value) & ~p.cr4MaySet) !== 0) {
    return `${at}: cr4 ${hex(op.value)} sets bits outside the model (${hex(Number(op.value) & ~p.cr4MaySet)})`;
  }
  return null;
}

/** One line naming why `trace` cannot run on the target, or null. */
export function runnableOn(trace: Trace, p: TargetProfile): string | null {
  if ((trace.machine.mode ?? 'bare') !== 'bare') return `the ${p.name} target runs bare-mode traces only (this one is ${trace.machine.mode})`;
  if (trace.machine.bugs.length > 0) return `planted bugs (${trace.machine.bugs.join(', ')}) exist only in the built-in machine`;
  for (let i = 0; i < trace.ops.length; i++) {
    const why = opRefusal(trace.ops[i], i, p);
    if (why !== null) return why;
  }
  return null;
}

/** The differences between a trace's configuration and the target's, one short phrase each. */
export function configChanges(from: MachineConfig, to: MachineConfig): string[] {
  const out: string[] = [];
  if (from.maxPhyAddr !== to.maxPhyAddr) out.push(`MAXPHYADDR ${from.maxPhyAddr} -> ${to.maxPhyAddr}`);
  if (from.vcpus !== to.vcpus) out.push(`vcpus ${from.vcpus} -> ${to.vcpus}`);
  if (from.framesMax !== to.framesMax) out.push(`framesMax ${from.framesMax} -> ${to.framesMax}`);
  if (from.kvmXo !== to.kvmXo) out.push(`kvmXo ${from.kvmXo} -> ${to.kvmXo}`);
  for (const k of Object.keys(to.caps) as Array<keyof MachineConfig['caps']>) {
    const a = JSON.stringify(from.caps[k]);
    const b = JSON.stringify(to.caps[k]);
    if (a !== b) out.push(`${k} ${a} -> ${b}`);
  }
  for (const [k, dflt] of Object.entries(OPTIONAL_CHOICE_DEFAULTS) as Array<[keyof MachineConfig['choices'], string]>) {
    const a = from.choices[k] ?? dflt;
    const b = to.choices[k] ?? dflt;
    if (a !== b) out.push(`${k} ${a} -> ${b}`);
  }
  if (from.choices.pkOnUserToSupervisor !== to.choices.pkOnUserToSupervisor) {
    out.push(`pkOnUserToSupervisor ${from.choices.pkOnUserToSupervisor} -> ${to.choices.pkOnUserToSupervisor}`);
  }
  return out;
}

/** The trace under the target's configuration, and what that changed. */
export function onTarget(trace: Trace, p: TargetProfile): { trace: Trace; changes: string[] } {
  const changes = configChanges(trace.machine, p.config);
  if (changes.length === 0) return { trace, changes };
  const machine: MachineConfig = {
    ...p.config, caps: { ...p.config.caps }, choices: { ...p.config.choices }, bugs: [...trace.machine.bugs],
    ...(trace.machine.mode !== undefined ? { mode: trace.machine.mode } : {}),
  };
  return { trace: { ...trace, machine }, changes };
}
