/**
 * What a target is: the machine configuration it implements, what it can run, and what it keeps
 * for itself. Contract: a trace runs on a target only when `runnableOn` finds nothing to refuse;
 * the reference model judges it under `profile.config` (the target's capabilities, MAXPHYADDR,
 * RAM size), never under capabilities the target lacks. docs/targets.md describes every field.
 */
import type { MachineConfig } from '../hw/config.js';
import type { Op, OpName } from '../trace/ops.js';

/** A half-open address range [start, end) and why the target keeps it. */
export interface AddressRange {
  start: number;
  end: number;
  why: string;
}

/** Address ranges a trace must not name: the target's own code, data and mappings. */
export interface Reserved {
  /** Host-physical ranges (phys_read / phys_write addresses). */
  hpa: readonly AddressRange[];
  /** Guest-physical ranges (ept_set / sppt_set addresses). */
  gpa: readonly AddressRange[];
  /** Guest-linear ranges, 48-bit (accesses, invlpg, gpt_set). */
  la: readonly AddressRange[];
}

export interface TargetProfile {
  /** The name `--target` takes. */
  name: string;
  /** One line for `eptfuzz targets`. */
  description: string;
  /** The configuration traces are judged under on this target (bare mode). */
  config: MachineConfig;
  /** Sizes a single data access (read / write) can have. */
  accessSizes: readonly number[];
  /** Ops the target cannot run at all. */
  unsupportedOps: readonly OpName[];
  /** CR0 bits a trace may clear / CR4 bits it may set (other values are not runnable; see domain.ts). */
  cr0MustSet: number;
  cr4MaySet: number;
  reserved: Reserved;
  /**
   * How the guest agent runs the trace's guest ops (agent/PROTOCOL.md): 'vmx' (default) as an
   * L2 guest under VMX with the trace's EPT; 'direct' without VMX, under the trace's own guest
   * paging with an identity EPT the lowering installs (QEMU's TCG has no VMX).
   */
  agentMode?: 'vmx' | 'direct';
  /**
   * Time one batch may take before the target counts as hung (external.ts `batchTimeoutMs`):
   * baseMs + perOpMs per lowered op. Default 30 s + 2 ms.
   */
  batchTimeout?: { baseMs: number; perOpMs: number };
  /**
   * Ops campaigns do not generate for this target because they hang or kill it (a known finding,
   * kept as a regression trace): `fitToTarget` drops them; `replay` of a trace that has one still
   * runs it. Each names its finding.
   */
  campaignAvoids?: ReadonlyArray<{ finding: string; matches: (op: Op, maxPhyAddr: number) => boolean }>;
}

/**
 * Host-physical memory the target keeps and a trace's own mappings must not reach: the reserved
 * ranges except the stub's frames (the harness's own, written by the lowering, read by the model).
 */
export function keptFromTraces(p: TargetProfile, stubHpa: number): AddressRange[] {
  return p.reserved.hpa.filter((r) => r.start !== stubHpa);
}

export function inRanges(ranges: readonly AddressRange[], start: number, size: number): AddressRange | null {
  for (const r of ranges) if (start < r.end && start + size > r.start) return r;
  return null;
}
