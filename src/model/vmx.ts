/**
 * VMX operand checks of the reference model: VMWRITEs of EPTP / SPPTP / secondary controls as VM
 * entry would check them (vmfail 7), and INVEPT / INVVPID operands (vmfail 28), with what each
 * valid INVEPT / INVVPID must invalidate. Contract: pure; ref §1.1, §3.1, §6.2 and
 * docs/semantics.md "VMCS writes" / "TLBs and invalidation".
 */
import type { MachineConfig } from '../hw/config.js';
import { CTL2_EPT, CTL2_MBEC, CTL2_SPP, CTL2_VPID, EPTP_AD, EPTP_SSS } from '../hw/bits.js';
import { RULE } from './rules.js';

/** ref §1.1: memory type 0 or 6, walk length 4, AD only with the capability, bits 7 and 11:8 zero, no bits >= MAXPHYADDR. */
export function eptpValid(v: bigint, config: MachineConfig): boolean {
  const low = Number(v & 0xfffn);
  const memtype = low & 7;
  if (memtype !== 0 && memtype !== 6) return false;
  if (((low >> 3) & 7) !== 3) return false;
  if ((low & EPTP_AD) !== 0 && !config.caps.eptAD) return false;
  if ((low & EPTP_SSS) !== 0) return false;
  if ((low & 0xf00) !== 0) return false;
  return v >> BigInt(config.maxPhyAddr) === 0n;
}

/** semantics.md: SPPTP bits 11:0 zero and no bits >= MAXPHYADDR. */
export function spptpValid(v: bigint, config: MachineConfig): boolean {
  return (v & 0xfffn) === 0n && v >> BigInt(config.maxPhyAddr) === 0n;
}

/** semantics.md: EPT and VPID set; only bits 1, 5, 22 (with caps.mbec) and 23 (with caps.spp). */
export function ctls2Valid(v: number, config: MachineConfig): boolean {
  if ((v & CTL2_EPT) === 0 || (v & CTL2_VPID) === 0) return false;
  let allowed = CTL2_EPT | CTL2_VPID;
  if (config.caps.mbec) allowed |= CTL2_MBEC;
  if (config.caps.spp) allowed |= CTL2_SPP;
  return (v & ~allowed) === 0 && v >= 0 && v <= 0xffffffff;
}

/** EP4TA: EPTP bits 51:12 (ref §6.1), as a frame number. */
export function ep4taOf(eptp: number): number {
  return Math.floor(eptp / 4096);
}

/** What a valid INVEPT invalidates: one EP4TA (type 1) or all (type 2); null = vmfail 28. */
export function inveptScope(type: number, eptp: bigint, config: MachineConfig): { ep4ta: number | null } | null {
  if (type === 1) {
    if (!config.caps.inveptSingle || !eptpValid(eptp, config)) return null;
    return { ep4ta: ep4taOf(Number(eptp)) };
  }
  if (type === 2) return config.caps.inveptAll ? { ep4ta: null } : null;
  return null;
}

export type InvvpidScope =
  | { kind: 'address'; vpid: number; linearPage: number }
  | { kind: 'context'; vpid: number; keepGlobal: boolean }
  | { kind: 'all' };

/** ref §6.2 operand checks (type supported, VPID 0 only with type 2, canonical address for type 0); null = vmfail 28. */
export function invvpidScope(type: number, vpid: number, la: bigint, config: MachineConfig): InvvpidScope | null {
  if (type > 3 || !config.caps.invvpidTypes[type]) return null;
  if (vpid === 0 && type !== 2) return null;
  if (type === 0) {
    const top = la >> 47n; // bits 63:47 all equal
    if (top !== 0n && top !== 0x1ffffn) return null;
    return { kind: 'address', vpid, linearPage: Number((la & 0xffffffffffffn) >> 12n) };
  }
  if (type === 2) return { kind: 'all' };
  return { kind: 'context', vpid, keepGlobal: type === 3 };
}

/** Which INVEPT operand check failed (inveptScope returned null): the rule of the vmfail. */
export function inveptFailRule(type: number, config: MachineConfig): number {
  return type === 1 && config.caps.inveptSingle ? RULE.inveptBadEptp : RULE.inveptBadType;
}

/** Which INVVPID operand check failed (invvpidScope returned null), in the order invvpidScope checks. */
export function invvpidFailRule(type: number, vpid: number, config: MachineConfig): number {
  if (type > 3 || !config.caps.invvpidTypes[type]) return RULE.invvpidBadType;
  if (vpid === 0 && type !== 2) return RULE.invvpidVpid0;
  return RULE.invvpidNoncanon;
}
