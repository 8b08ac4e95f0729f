/**
 * Guest access rights and protection keys, evaluated over a whole walk (ref §4.2, §4.3,
 * docs/semantics.md "Guest access" step 3). Contract: a pure decision from the walk's combined
 * rights (R/W ANDed, U/S ANDed, XD ORed, the leaf's key) and the registers at access time; cached
 * translations keep entry bits and call this again, so register changes act at once.
 */
import { PKR_AD, PKR_WD } from '../hw/bits.js';
import { NO_RULE, RULE } from './rules.js';

export type GuestAccess = 'read' | 'write' | 'fetch';

export interface WalkRights {
  /** R/W = 1 at every level. */
  rw: boolean;
  /** U/S = 1 at every level: a user-mode linear address (ref §4.2). */
  us: boolean;
  /** XD = 1 at some level. */
  xd: boolean;
  /** Bits 62:59 of the leaf (ref §4.3: keys in non-leaf entries are ignored). */
  pkey: number;
}

export interface RightsRegs {
  cpl: number;
  wp: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
  nxe: boolean;
  pke: boolean;
  pks: boolean;
  pkru: number;
  pkrs: number;
  pkOnUserToSupervisor: 'sdm' | 'qemu';
}

/** Result of the rights check: allowed, or denied with or without the PK flag. */
export const RIGHTS_OK = 0;
export const RIGHTS_DENIED = 1;
export const RIGHTS_DENIED_PK = 2;

/** ref §4.2 table "Access rights" (explicit accesses only: no implicit supervisor accesses here). */
function ordinaryDenies(kind: GuestAccess, w: WalkRights, regs: RightsRegs): boolean {
  const user = regs.cpl === 3;
  const xd = regs.nxe && w.xd; // XD only counts with EFER.NXE (a cached entry may outlive NXE)
  if (kind === 'fetch') {
    if (user) return !w.us || xd;
    // supervisor fetch: XD; SMEP forbids user-mode addresses. SMAP never blocks fetches.
    return xd || (w.us && regs.smep);
  }
  if (user) {
    if (!w.us) return true; // user access to a supervisor-mode address
    return kind === 'write' && !w.rw; // CR0.WP irrelevant for user writes
  }
  // supervisor data access to a user-mode address with SMAP: allowed only with EFLAGS.AC = 1
  if (w.us && regs.smap && !regs.ac) return true;
  // supervisor write: WP = 1 needs R/W = 1 at every level (user or supervisor address)
  return kind === 'write' && regs.wp && !w.rw;
}

/**
 * ref §4.3: keys apply to data accesses only (IA-32e paging); the register is chosen by the
 * address type (user-mode address -> PKRU with CR4.PKE, supervisor-mode -> PKRS with CR4.PKS).
 * AD denies reads and writes; WD denies writes by user-mode accesses or with CR0.WP = 1.
 */
function keyDenies(kind: GuestAccess, w: WalkRights, regs: RightsRegs): boolean {
  if (kind === 'fetch') return false; // "PKRU never rejects instruction fetches"
  let pkr: number;
  if (w.us) {
    if (!regs.pke) return false;
    pkr = regs.pkru;
  } else {
    if (!regs.pks) return false;
    pkr = regs.pkrs;
  }
  const bits = Math.floor(pkr / 4 ** w.pkey) & 3;
  if ((bits & PKR_AD) !== 0) return true;
  return kind === 'write' && (bits & PKR_WD) !== 0 && (regs.cpl === 3 || regs.wp);
}

/**
 * The whole check: a denial is ordinary OR key; PK is set whenever the key alone would deny
 * (ref §4.3 "PK flag and ordering", e.g. 0x27), except a user-mode access to a supervisor page
 * under choices.pkOnUserToSupervisor = 'qemu' (ref §4.3 "Divergence").
 */
export function checkRights(kind: GuestAccess, w: WalkRights, regs: RightsRegs): number {
  const ordinary = ordinaryDenies(kind, w, regs);
  const key = keyDenies(kind, w, regs);
  if (key && ordinary && regs.cpl === 3 && !w.us && regs.pkOnUserToSupervisor === 'qemu') {
    return RIGHTS_DENIED; // QEMU stops at the U/S violation and never looks at PKRS
  }
  if (key) return RIGHTS_DENIED_PK;
  return ordinary ? RIGHTS_DENIED : RIGHTS_OK;
}

/**
 * The key-stage rule (src/model/rules.ts) of an access whose walk reached the rights check: which
 * register applies by the address type and what it said (deny AD / WD, the WD exemption with
 * CR0.WP = 0, allow, or keys off); fetches are never keyed. Labels outcomes only: no allocation.
 */
export function keyStageRule(kind: GuestAccess, w: WalkRights, regs: RightsRegs): number {
  if (kind === 'fetch') return RULE.pkFetch;
  const bits = keyBits(w, regs);
  if (bits < 0) return w.us ? RULE.pkruOff : RULE.pksOff;
  if ((bits & PKR_AD) !== 0) return w.us ? RULE.pkruAd : RULE.pksAd;
  if (kind === 'write' && (bits & PKR_WD) !== 0) {
    if (regs.cpl === 3 || regs.wp) return w.us ? RULE.pkruWd : RULE.pksWd;
    return w.us ? RULE.pkruWdWp0 : RULE.pksWdWp0;
  }
  return w.us ? RULE.pkruAllow : RULE.pksAllow;
}

/**
 * The rights-stage rule without keys (src/model/rules.ts): the ordinary denial (U/S, R/W, XD, SMEP,
 * SMAP), else the exemption that let the access through (CR0.WP = 0, EFLAGS.AC), else
 * paging.rights.allow.
 */
export function ordinaryRule(kind: GuestAccess, w: WalkRights, regs: RightsRegs): number {
  if (ordinaryDenies(kind, w, regs)) return ordinaryDenialRule(kind, w, regs);
  return exemptionRule(kind, w, regs) ?? RULE.rightsAllow;
}

/** The rule of an ordinary (keyless) denial, for an access whose rights check denies it. */
function ordinaryDenialRule(kind: GuestAccess, w: WalkRights, regs: RightsRegs): number {
  const user = regs.cpl === 3;
  if (kind === 'fetch') {
    if (user) return !w.us ? RULE.usUser : RULE.xdFetch;
    return regs.nxe && w.xd ? RULE.xdFetch : RULE.smepFetch;
  }
  if (user) return !w.us ? RULE.usUser : RULE.rwUser;
  if (w.us && regs.smap && !regs.ac) return RULE.smapData;
  return RULE.rwSupWp;
}

/** The exemption that let an allowed access through (CR0.WP = 0, EFLAGS.AC), or null. */
function exemptionRule(kind: GuestAccess, w: WalkRights, regs: RightsRegs): number | null {
  const user = regs.cpl === 3;
  if (kind === 'write' && !user && !w.rw) return RULE.rwSupWp0;
  if (kind !== 'fetch' && !user && w.us && regs.smap && regs.ac) return RULE.smapAc;
  return null;
}

/** Whether the register of the other address type would deny the data access by key (pk.register-by-address). */
export function otherRegisterDenies(kind: GuestAccess, w: WalkRights, regs: RightsRegs): boolean {
  if (kind === 'fetch' || (w.us ? !regs.pks : !regs.pke)) return false;
  const bits = Math.floor((w.us ? regs.pkrs : regs.pkru) / 4 ** w.pkey) & 3;
  if ((bits & PKR_AD) !== 0) return true;
  return kind === 'write' && (bits & PKR_WD) !== 0 && (regs.cpl === 3 || regs.wp);
}

/** The key bits (AD | WD) the access's register holds for the leaf's key, or -1 when keys are off for it (ref §4.3). */
function keyBits(w: WalkRights, regs: RightsRegs): number {
  if (w.us ? !regs.pke : !regs.pks) return -1;
  return Math.floor((w.us ? regs.pkru : regs.pkrs) / 4 ** w.pkey) & 3;
}

/**
 * The rule (src/model/rules.ts) that decided `checkRights`: for a denial the rule whose check
 * denied (the key's when the key denies, since the error code then carries PK), for an allowed
 * access the exemption that let it through (CR0.WP = 0, EFLAGS.AC, fetches not keyed), or NO_RULE
 * when nothing special applied. Called once per walk, only to label an outcome: no allocation.
 */
export function rightsRule(kind: GuestAccess, w: WalkRights, regs: RightsRegs, verdict: number): number {
  const bits = keyBits(w, regs);
  if (verdict === RIGHTS_DENIED_PK) {
    if ((bits & PKR_AD) !== 0) return w.us ? RULE.pkruAd : RULE.pksAd;
    return w.us ? RULE.pkruWd : RULE.pksWd;
  }
  if (verdict === RIGHTS_DENIED) return keyDenies(kind, w, regs) ? RULE.pkQemu : ordinaryDenialRule(kind, w, regs);
  if (bits > 0) {
    if (kind === 'fetch') return RULE.pkFetch;
    if (kind === 'write' && (bits & PKR_WD) !== 0) return w.us ? RULE.pkruWdWp0 : RULE.pksWdWp0;
  }
  return exemptionRule(kind, w, regs) ?? NO_RULE;
}
