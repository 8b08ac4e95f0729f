/**
 * vCPU state of the reference model and the `set_reg` rules (docs/semantics.md "Register
 * writes" and "Machine shape" initial state). Contract: `setReg` is pure: it returns the new
 * state plus the combined-mapping flush the write requires, or null for #GP (nothing changes).
 */
import type { MachineConfig } from '../hw/config.js';
import {
  CR0_PE, CR0_PG, CR4_PAE, CR4_PGE, CR4_PKE, CR4_PKS, CR4_PSE, CR4_SMAP, CR4_SMEP,
  CTL2_EPT, CTL2_VPID, EFER_LMA, EFER_LME, EFER_NXE, EPTP_AD, RFLAGS_AC,
} from '../hw/bits.js';
import type { Reg } from '../trace/ops.js';

export interface VcpuState {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  /** RFLAGS.AC (the only RFLAGS bit kept). */
  ac: boolean;
  cpl: number;
  pkru: number;
  pkrs: number;
  /** VMCS fields of this vCPU. */
  eptp: number;
  spptp: number;
  ctls2: number;
}

/** Which combined mappings of the vCPU's VPID a register write invalidates. */
export type RegFlush = 'none' | 'non-global' | 'all';

const EFER_SCE = 1 << 0;

export function initialVcpu(config: MachineConfig): VcpuState {
  return {
    cr0: 0x80010001, // PE, WP, PG
    cr3: 0,
    cr4: CR4_PAE,
    efer: 0xd00, // LME, LMA, NXE
    ac: false,
    cpl: 0,
    pkru: 0,
    pkrs: 0,
    eptp: 0x1e | (config.caps.eptAD ? EPTP_AD : 0), // WB, 4-level, root at HPA 0
    spptp: 0x1000,
    ctls2: CTL2_EPT | CTL2_VPID,
  };
}

export function setReg(s: VcpuState, reg: Reg, value: bigint, config: MachineConfig): { next: VcpuState; flush: RegFlush } | null {
  const caps = config.caps;
  switch (reg) {
    case 'cr0': {
      if (value >> 32n !== 0n) return null; // bits 63:32 set
      const v = Number(value);
      const pg = (v & CR0_PG) !== 0;
      // PG = 1 needs PE = 1, EFER.LME = 1 and CR4.PAE = 1 (IA-32e paging is the only paging mode)
      if (pg && ((v & CR0_PE) === 0 || (s.efer & EFER_LME) === 0 || (s.cr4 & CR4_PAE) === 0)) return null;
      const lma = pg && (s.efer & EFER_LME) !== 0;
      const efer = (s.efer & ~EFER_LMA) | (lma ? EFER_LMA : 0);
      const wasPg = (s.cr0 & CR0_PG) !== 0;
      return { next: { ...s, cr0: v >>> 0, efer }, flush: wasPg && !pg ? 'all' : 'none' };
    }
    case 'cr3': {
      // address bits at or above MAXPHYADDR, or bits 63:52 -> #GP
      if (value >> BigInt(config.maxPhyAddr) !== 0n) return null;
      return { next: { ...s, cr3: Number(value) }, flush: 'non-global' };
    }
    case 'cr4': {
      const allowed = BigInt(CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP | CR4_SMAP | CR4_PKE | CR4_PKS);
      if ((value & ~allowed) !== 0n) return null;
      const v = Number(value);
      if ((v & CR4_SMEP) !== 0 && !caps.smep) return null;
      if ((v & CR4_SMAP) !== 0 && !caps.smap) return null;
      if ((v & CR4_PKE) !== 0 && !caps.pku) return null;
      if ((v & CR4_PKS) !== 0 && !caps.pks) return null;
      if ((v & CR4_PAE) === 0 && (s.efer & EFER_LMA) !== 0) return null; // clearing PAE while LMA = 1
      const changed = v ^ s.cr4;
      let flush: RegFlush = 'none';
      if ((changed & CR4_PGE) !== 0) flush = 'all';
      else if ((changed & CR4_PAE) !== 0 || ((v & CR4_SMEP) !== 0 && (s.cr4 & CR4_SMEP) === 0)) flush = 'non-global';
      return { next: { ...s, cr4: v }, flush };
    }
    case 'efer': {
      if ((value & ~BigInt(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) !== 0n) return null;
      const v = Number(value);
      const pg = (s.cr0 & CR0_PG) !== 0;
      if (pg && ((v ^ s.efer) & EFER_LME) !== 0) return null; // changing LME while PG = 1
      const lme = (v & EFER_LME) !== 0;
      const efer = (v & (EFER_SCE | EFER_LME | EFER_NXE)) | (lme && pg ? EFER_LMA : 0); // LMA of the value is ignored
      return { next: { ...s, efer }, flush: 'none' };
    }
    case 'rflags':
      return { next: { ...s, ac: (value & BigInt(RFLAGS_AC)) !== 0n }, flush: 'none' };
    case 'cpl':
      if (value < 0n || value > 3n) return null;
      return { next: { ...s, cpl: Number(value) }, flush: 'none' };
    case 'pkru':
      if (!caps.pku || value < 0n || value >> 32n !== 0n) return null;
      return { next: { ...s, pkru: Number(value) }, flush: 'none' };
    case 'pkrs':
      if (!caps.pks || value < 0n || value >> 32n !== 0n) return null;
      return { next: { ...s, pkrs: Number(value) }, flush: 'none' };
  }
}
