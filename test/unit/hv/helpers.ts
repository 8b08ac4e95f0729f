/** Shared helpers for the hv tests: a small hv machine, op shorthands, a checked run. */
import { expect } from 'vitest';
import { normalizeConfig, type MachineConfig } from '../../../src/hw/config.js';
import { formatOutcome, type AnyOutcome } from '../../../src/hw/outcome.js';
import type { AnyOp } from '../../../src/trace/ops.js';
import { runHv, type HvRunResult } from '../../../src/check/hv/run.js';

export function hvConfig(extra: Partial<Parameters<typeof normalizeConfig>[0]> = {}): MachineConfig {
  return normalizeConfig({ mode: 'hv', framesMax: 8192, kvmXo: true, ...extra, hv: { poolFrames: 256, ...(extra.hv ?? {}) } });
}

/** Runs `ops` on the hypervisor and the model; the correct hypervisor must agree with no violation. */
export function clean(ops: AnyOp[], config = hvConfig()): AnyOutcome[] {
  const r = runHv(config, ops, { stopAtFirst: false, sweepEveryOps: 1 });
  expect(r.violations, r.violations.map((v) => `${v.step} ${v.op} ${v.invariant}: ${v.detail}`).join('\n')).toEqual([]);
  return r.outcomes;
}

export function run(ops: AnyOp[], config = hvConfig()): HvRunResult {
  return runHv(config, ops, { stopAtFirst: false, sweepEveryOps: 1 });
}

export const fmt = (o: AnyOutcome): string => formatOutcome(o);
export const rets = (outs: AnyOutcome[]): string[] => outs.map(fmt);

/** np VM 2 with a 4 MiB memslot at gfn 0x200 → pfn 0x400, loaded on cpu 0; host on cpu 1. */
export const NP_SETUP: AnyOp[] = [
  { op: 'vm_create', vm: 2, type: 'np' },
  { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x200, pfn: 0x400, pages: 1024, flags: 0 },
  { op: 'vcpu_load', cpu: 0, vm: 2 },
];

/** Protected VM 3 with pfn 0x20 donated at gfn 5 (attribute PRIVATE), loaded on cpu 0. */
export const PVM_SETUP: AnyOp[] = [
  { op: 'vm_create', vm: 3, type: 'protected' },
  { op: 'host_donate_guest', vm: 3, pfn: 0x20, gfn: 5 },
  { op: 'set_mem_attrs', vm: 3, gpa: 0x5000n, size: 0x1000n, attrs: 8n, flags: 0n },
  { op: 'vcpu_load', cpu: 0, vm: 3 },
];

export const read = (cpu: number, la: number, size = 8): AnyOp => ({ op: 'read', cpu, la, size });
export const write = (cpu: number, la: number, value: bigint, size = 8): AnyOp => ({ op: 'write', cpu, la, size, value });
export const fetch = (cpu: number, la: number, size = 4): AnyOp => ({ op: 'fetch', cpu, la, size });
