/**
 * VMX instructions and VM-entry checks of the control fields the machine models.
 * Contract: `eptpValid`, `spptpValid`, `ctls2Valid` are the VM-entry checks (ref §1.1, §3.1;
 * docs/semantics.md "VMCS writes"); `invept` / `invvpid` do the operand checks of ref §6.2
 * (VM-instruction error 28) and the invalidations of the table there, on one logical processor.
 */
import type { MachineConfig } from './config.js';
import type { Outcome } from './outcome.js';
import { OK } from './outcome.js';
import type { Vcpu } from './vcpu.js';
import { CTL2_EPT, CTL2_MBEC, CTL2_SPP, CTL2_VPID, EPTP_AD, EPTP_SSS, EPTP_RSVD_LO, VMERR_INVEPT_INVVPID_OPERAND } from './bits.js';
import { EptUnit } from './ept.js';

const FAIL28: Outcome = Object.freeze({ kind: 'vmfail', error: VMERR_INVEPT_INVVPID_OPERAND });

export function eptpValid(value: bigint, config: MachineConfig): boolean {
  if (value < 0n || value >= 2n ** BigInt(config.maxPhyAddr)) return false; // bits 63:N reserved
  const lo = Number(value & 0xfffn);
  const memtype = lo & 7;
  if (memtype !== 0 && memtype !== 6) return false; // UC or WB only
  if (((lo >>> 3) & 7) !== 3) return false; // 4-level walks only (5-level unsupported here)
  if ((lo & EPTP_AD) !== 0 && !config.caps.eptAD) return false;
  if ((lo & EPTP_SSS) !== 0) return false; // no CET supervisor shadow stacks
  return (lo & EPTP_RSVD_LO) === 0;
}

export function spptpValid(value: bigint, config: MachineConfig): boolean {
  return value >= 0n && value < 2n ** BigInt(config.maxPhyAddr) && (value & 0xfffn) === 0n;
}

export function ctls2Valid(value: number, config: MachineConfig): boolean {
  const required = CTL2_EPT | CTL2_VPID;
  if ((value & required) !== required) return false;
  if ((value & ~(required | CTL2_MBEC | CTL2_SPP)) !== 0) return false;
  if ((value & CTL2_MBEC) !== 0 && !config.caps.mbec) return false;
  if ((value & CTL2_SPP) !== 0 && !config.caps.spp) return false;
  return true;
}

/** INVEPT on `v`'s logical processor. */
export function invept(v: Vcpu, type: number, eptp: bigint, config: MachineConfig): Outcome {
  if (type === 1 && config.caps.inveptSingle) {
    if (!eptpValid(eptp, config)) return FAIL28;
    const root = EptUnit.root(Number(eptp));
    v.gtlb.dropRoot(root);
    if (!config.bugs.includes('invept-keeps-combined')) v.ctlb.dropRoot(root);
    return OK;
  }
  if (type === 2 && config.caps.inveptAll) {
    v.gtlb.dropAll();
    v.ctlb.dropAll();
    return OK;
  }
  return FAIL28;
}

/** INVVPID on `v`'s logical processor. */
export function invvpid(v: Vcpu, type: number, vpid: number, la: bigint, config: MachineConfig): Outcome {
  if (type > 3 || !config.caps.invvpidTypes[type]) return FAIL28;
  if (vpid === 0 && type !== 2) return FAIL28;
  if (type === 0) {
    const top = la >> 47n; // canonical: bits 63:47 all equal
    if (top !== 0n && top !== 0x1ffffn) return FAIL28;
    v.ctlb.dropPage(vpid, Number((la & 0xffffffffffffn) >> 12n));
  } else if (type === 1) v.ctlb.dropVpid(vpid, false);
  else if (type === 2) v.ctlb.dropAllButVpid0();
  else v.ctlb.dropVpid(vpid, true);
  return OK;
}
