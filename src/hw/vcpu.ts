/**
 * One logical processor: guest registers, its VMCS fields and its TLBs.
 * Contract: `setReg` implements docs/semantics.md "Register writes": it either changes the register
 * and performs the SDM's required TLB invalidations, or returns false (#GP) and changes nothing.
 * Registers hold numbers (every modelled register bit is below bit 52), so the access path reads
 * plain fields.
 */
import type { MachineConfig } from './config.js';
import {
  CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PKE, CR4_PKS, CR4_PSE, CR4_SMAP, CR4_SMEP,
  CTL2_EPT, CTL2_VPID, EFER_LMA, EFER_LME, EFER_NXE, EPTP_AD, RFLAGS_AC,
} from './bits.js';
import { CombinedTlb, GpaTlb } from './tlb.js';
import type { Reg } from '../trace/ops.js';

const EFER_SCE = 1;
const CR4_MODELLED = CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP | CR4_SMAP | CR4_PKE | CR4_PKS;
const EFER_MODELLED = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
const TWO32 = 2 ** 32;

export class Vcpu {
  readonly index: number;
  readonly vpid: number;
  cr0 = (CR0_PE | CR0_WP | CR0_PG) >>> 0;
  cr3 = 0;
  cr4 = CR4_PAE;
  efer = EFER_LME | EFER_LMA | EFER_NXE;
  cpl = 0;
  ac = false;
  pkru = 0;
  pkrs = 0;
  eptp: number;
  spptp = 0x1000;
  ctls2 = CTL2_EPT | CTL2_VPID;
  readonly gtlb = new GpaTlb();
  readonly ctlb = new CombinedTlb();

  constructor(index: number, config: MachineConfig) {
    this.index = index;
    this.vpid = index + 1;
    this.eptp = 0x1e | (config.caps.eptAD ? EPTP_AD : 0);
  }

  /** Writes a register; false means #GP and nothing changed. `value` is the full 64-bit operand. */
  setReg(reg: Reg, value: bigint, config: MachineConfig): boolean {
    const caps = config.caps;
    switch (reg) {
      case 'cr0': {
        if (value >= BigInt(TWO32) || value < 0n) return false;
        const v = Number(value);
        const pg = (v & CR0_PG) !== 0;
        if (pg && ((v & CR0_PE) === 0 || (this.efer & EFER_LME) === 0 || (this.cr4 & CR4_PAE) === 0)) return false;
        const wasPg = (this.cr0 & CR0_PG) !== 0;
        this.cr0 = v >>> 0;
        this.efer = pg && (this.efer & EFER_LME) !== 0 ? this.efer | EFER_LMA : this.efer & ~EFER_LMA;
        // SDM-3A-4.10.4.1 "MOV to CR0": PG 1 -> 0 invalidates all TLB entries, global ones included.
        if (wasPg && !pg) this.ctlb.dropVpid(this.vpid, false);
        return true;
      }
      case 'cr3': {
        if (value < 0n || value >= 2n ** BigInt(config.maxPhyAddr)) return false;
        this.cr3 = Number(value);
        // SDM-3A-4.10.4.1 "MOV to CR3" (no PCIDs): all non-global entries of the VPID.
        this.ctlb.dropVpid(this.vpid, true);
        return true;
      }
      case 'cr4': {
        if (value < 0n || value >= BigInt(TWO32)) return false;
        const v = Number(value) >>> 0;
        if ((v & ~CR4_MODELLED) !== 0) return false;
        if ((v & CR4_SMEP) && !caps.smep) return false;
        if ((v & CR4_SMAP) && !caps.smap) return false;
        if ((v & CR4_PKE) && !caps.pku) return false;
        if ((v & CR4_PKS) && !caps.pks) return false;
        if ((this.efer & EFER_LMA) !== 0 && (v & CR4_PAE) === 0) return false;
        const changed = (this.cr4 ^ v) >>> 0;
        const smepOn = (v & CR4_SMEP) !== 0 && (this.cr4 & CR4_SMEP) === 0;
        this.cr4 = v;
        // SDM-3A-4.10.4.1 "MOV to CR4".
        if (changed & CR4_PGE) this.ctlb.dropVpid(this.vpid, false);
        else if ((changed & CR4_PAE) || smepOn) this.ctlb.dropVpid(this.vpid, true);
        return true;
      }
      case 'efer': {
        if (value < 0n || value >= BigInt(TWO32)) return false;
        const v = Number(value);
        if ((v & ~EFER_MODELLED) !== 0) return false;
        const pg = (this.cr0 & CR0_PG) !== 0;
        if (pg && ((v ^ this.efer) & EFER_LME) !== 0) return false;
        const lma = pg && (v & EFER_LME) !== 0 ? EFER_LMA : 0;
        this.efer = (v & ~EFER_LMA) | lma;
        return true;
      }
      case 'rflags':
        this.ac = (value & BigInt(RFLAGS_AC)) !== 0n;
        return true;
      case 'cpl':
        if (value < 0n || value > 3n) return false;
        this.cpl = Number(value);
        return true;
      case 'pkru':
        if (!caps.pku || value < 0n || value >= BigInt(TWO32)) return false;
        this.pkru = Number(value) >>> 0;
        return true;
      case 'pkrs':
        if (!caps.pks || value < 0n || value >= BigInt(TWO32)) return false;
        this.pkrs = Number(value) >>> 0;
        return true;
    }
  }
}
