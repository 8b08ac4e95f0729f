/**
 * Guest access rights for 4-level paging: SDM-3A-4.6.1 "Determination of Access Rights" and
 * 4.6.2 "Protection Keys" (ref §4.2, §4.3).
 * Contract: `rightsFault` returns 0 when the access is allowed, else the #PF error code
 * (P = 1 plus W, U, I and PK as they apply). Inputs are the walk's combined bits; registers come
 * from the vCPU at access time. Pure: no state, no allocation.
 */
import { CR0_WP, CR4_PKE, CR4_PKS, CR4_SMAP, CR4_SMEP, EFER_NXE, PF_I, PF_P, PF_PK, PF_U, PF_W, PKR_AD, PKR_WD } from './bits.js';
import type { Vcpu } from './vcpu.js';

export const ACC_READ = 0;
export const ACC_WRITE = 1;
export const ACC_FETCH = 2;

/** Planted-bug switches that change this rule (all false on the correct machine). */
export interface RightsBugs {
  pkRegByCpl: boolean;
  pkWdIgnoresWp: boolean;
  pkOnFetch: boolean;
}

/** Error-code bits that describe the access itself (ref §4.1): W, U, and I when SMEP or NXE. */
export function accessErrorBits(v: Vcpu, kind: number): number {
  return (kind === ACC_WRITE ? PF_W : 0) | (v.cpl === 3 ? PF_U : 0)
    | (kind === ACC_FETCH && ((v.cr4 & CR4_SMEP) !== 0 || (v.efer & EFER_NXE) !== 0) ? PF_I : 0);
}

/**
 * @param rw    R/W = 1 at every level
 * @param us    U/S = 1 at every level (a user-mode address)
 * @param xd    XD = 1 at some level (only meaningful with EFER.NXE = 1)
 * @param pkey  protection key of the leaf (bits 62:59)
 */
export function rightsFault(v: Vcpu, kind: number, rw: boolean, us: boolean, xd: boolean, pkey: number,
  qemuPkChoice: boolean, bugs: RightsBugs): number {
  const user = v.cpl === 3;
  const wp = (v.cr0 & CR0_WP) !== 0;
  const write = kind === ACC_WRITE;
  let deny = false;
  if (kind === ACC_FETCH) {
    const nx = xd && (v.efer & EFER_NXE) !== 0;
    // User fetches need a user-mode address; supervisor fetches from user pages are blocked by SMEP.
    deny = user ? (!us || nx) : (nx || (us && (v.cr4 & CR4_SMEP) !== 0));
  } else if (user) {
    deny = !us || (write && !rw);
  } else {
    // SMAP: explicit supervisor data accesses to user pages need EFLAGS.AC = 1 (ref §4.2).
    if (us && (v.cr4 & CR4_SMAP) !== 0 && !v.ac) deny = true;
    // CR0.WP = 1: supervisor writes honour R/W on every page.
    if (write && wp && !rw) deny = true;
  }

  // ref §4.3: keys apply to data accesses only; the register is chosen by the address type.
  let pk = false;
  if (kind !== ACC_FETCH || bugs.pkOnFetch) {
    const userReg = bugs.pkRegByCpl ? user : us;
    const enabled = userReg ? (v.cr4 & CR4_PKE) !== 0 : (v.cr4 & CR4_PKS) !== 0;
    if (enabled && !(qemuPkChoice && user && !us)) {
      const rights = ((userReg ? v.pkru : v.pkrs) >>> (2 * pkey)) & 3;
      if ((rights & PKR_AD) !== 0) pk = true;
      // WD blocks writes only for user-mode accesses or when CR0.WP = 1.
      else if (write && (rights & PKR_WD) !== 0 && (user || wp || (bugs.pkWdIgnoresWp && !userReg))) pk = true;
    }
  }
  if (!deny && !pk) return 0;
  return PF_P | accessErrorBits(v, kind) | (pk ? PF_PK : 0);
}
