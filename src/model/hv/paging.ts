/**
 * Guest paging for the hv reference model: the registers a context keeps, the rules for writing
 * them, and the access-rights decision of a finished guest walk. Written from
 * x86-memory-protection.md §4 and docs/semantics.md ("Register writes", "Guest access") as plain
 * functions over a plain record; no TLB (the model's cache of translations lives in model.ts).
 * Contract: `writeReg` returns the new registers and which cached translations the SDM requires
 * to be dropped, or null for #GP; `pageFaultCode` returns 0 (allowed) or the #PF error code.
 */
import type { MachineConfig } from '../../hw/config.js';
import type { Reg } from '../../trace/ops.js';

// Register bits (SDM-3A 2.5, 4.1; ref §4).
export const PE = 1, WP = 1 << 16, PG = 2 ** 31;
export const PSE = 1 << 4, PAE = 1 << 5, PGE = 1 << 7, SMEP = 1 << 20, SMAP = 1 << 21, PKE = 1 << 22, PKS = 1 << 24;
export const SCE = 1, LME = 1 << 8, LMA = 1 << 10, NXE = 1 << 11;
// #PF error code bits (ref §4.1).
export const PF_P = 1, PF_W = 2, PF_U = 4, PF_RSVD = 8, PF_I = 16, PF_PK = 32;

export interface Regs {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  cpl: number;
  ac: boolean;
  pkru: number;
  pkrs: number;
}

/** Every context starts with paging off (docs/hypervisor.md "Guest state"). */
export function initialRegs(): Regs {
  return { cr0: PE + WP, cr3: 0, cr4: PAE, efer: LME + NXE, cpl: 0, ac: false, pkru: 0, pkrs: 0 };
}

/** What a register write requires the TLBs to forget: nothing, non-global mappings, or all. */
export type Drop = 'none' | 'nonGlobal' | 'all';

const has = (v: number, bit: number): boolean => Math.floor(v / bit) % 2 === 1;
const TWO32 = 2n ** 32n;

/**
 * MOV to CR0/CR3/CR4, WRMSR EFER/PKRS, WRPKRU, CPL, RFLAGS. `guestMaxPhy` bounds CR3 (under the
 * KVM XO design the guest MAXPHYADDR is one below the host's, ref §5.2).
 */
export function writeReg(r: Regs, reg: Reg, value: bigint, config: MachineConfig, guestMaxPhy: number): { regs: Regs; drop: Drop } | null {
  const caps = config.caps;
  const n = Number(value);
  const next = { ...r };
  switch (reg) {
    case 'cr0': {
      if (value < 0n || value >= TWO32) return null;
      const pg = has(n, PG);
      if (pg && (!has(n, PE) || !has(r.efer, LME) || !has(r.cr4, PAE))) return null;
      next.cr0 = n;
      next.efer = efer(r.efer, pg);
      return { regs: next, drop: has(r.cr0, PG) && !pg ? 'all' : 'none' };
    }
    case 'cr3':
      if (value < 0n || value >= 2n ** BigInt(guestMaxPhy)) return null;
      next.cr3 = n;
      return { regs: next, drop: 'nonGlobal' };
    case 'cr4': {
      if (value < 0n || value >= TWO32) return null;
      const allowed = PSE + PAE + PGE + (caps.smep ? SMEP : 0) + (caps.smap ? SMAP : 0) + (caps.pku ? PKE : 0) + (caps.pks ? PKS : 0);
      for (let b = 1; b < 2 ** 32; b *= 2) if (has(n, b) && !has(allowed, b)) return null;
      if (has(r.efer, LMA) && !has(n, PAE)) return null;
      next.cr4 = n;
      if (has(r.cr4, PGE) !== has(n, PGE)) return { regs: next, drop: 'all' };
      if (has(r.cr4, PAE) !== has(n, PAE) || (!has(r.cr4, SMEP) && has(n, SMEP))) return { regs: next, drop: 'nonGlobal' };
      return { regs: next, drop: 'none' };
    }
    case 'efer': {
      if (value < 0n || value >= TWO32) return null;
      for (let b = 1; b < 2 ** 32; b *= 2) if (has(n, b) && b !== SCE && b !== LME && b !== LMA && b !== NXE) return null;
      const pg = has(r.cr0, PG);
      if (pg && has(n, LME) !== has(r.efer, LME)) return null;
      next.efer = efer(n, pg);
      return { regs: next, drop: 'none' };
    }
    case 'rflags':
      next.ac = (value & (1n << 18n)) !== 0n;
      return { regs: next, drop: 'none' };
    case 'cpl':
      if (value < 0n || value > 3n) return null;
      next.cpl = n;
      return { regs: next, drop: 'none' };
    case 'pkru':
    case 'pkrs':
      if (!(reg === 'pkru' ? caps.pku : caps.pks) || value < 0n || value >= TWO32) return null;
      next[reg] = n;
      return { regs: next, drop: 'none' };
  }
}

/** EFER with LMA = LME ∧ PG (the written LMA bit is ignored). */
function efer(value: number, pg: boolean): number {
  const lme = has(value, LME);
  return (has(value, SCE) ? SCE : 0) + (lme ? LME : 0) + (has(value, NXE) ? NXE : 0) + (lme && pg ? LMA : 0);
}

export type Kind = 'read' | 'write' | 'fetch';

/** The W / U / I bits every #PF of this access carries (ref §4.1). */
export function accessBits(r: Regs, kind: Kind): number {
  return (kind === 'write' ? PF_W : 0) + (r.cpl === 3 ? PF_U : 0) + (kind === 'fetch' && (has(r.cr4, SMEP) || has(r.efer, NXE)) ? PF_I : 0);
}

/**
 * SDM-3A 4.6 access rights and 4.6.2 protection keys for a walk whose entries all have R/W
 * (`rw`) and U/S (`us`), some entry XD (`xd`, counted only with NXE), leaf key `pkey`.
 * `qemuPk`: the 'qemu' choice (no key check for a user access to a supervisor page).
 */
export function pageFaultCode(r: Regs, kind: Kind, rw: boolean, us: boolean, xd: boolean, pkey: number, qemuPk: boolean): number {
  const user = r.cpl === 3;
  const wp = has(r.cr0, WP);
  const nx = xd && has(r.efer, NXE);
  let denied: boolean;
  if (kind === 'fetch') denied = nx || (user ? !us : us && has(r.cr4, SMEP));
  else if (user) denied = !us || (kind === 'write' && !rw);
  else denied = (us && has(r.cr4, SMAP) && !r.ac) || (kind === 'write' && wp && !rw);
  let keyDenied = false;
  if (kind !== 'fetch' && (us ? has(r.cr4, PKE) : has(r.cr4, PKS)) && !(qemuPk && user && !us)) {
    const bits = Math.floor((us ? r.pkru : r.pkrs) / 4 ** pkey) % 4; // bit 0 AD, bit 1 WD
    keyDenied = bits % 2 === 1 || (kind === 'write' && bits >= 2 && (user || wp));
  }
  if (!denied && !keyDenied) return 0;
  return PF_P + accessBits(r, kind) + (keyDenied ? PF_PK : 0);
}
