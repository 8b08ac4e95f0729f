/**
 * EPT translation of one guest-physical address (ref §1.2, §1.3, §2, §3.3; docs/semantics.md
 * "EPT translation of one GPA").
 * Contract: `translate` returns true with the host-physical address in `hpa`, or false after
 * filling `exit*` with the EPT violation (48), EPT misconfiguration (49) or SPP-related event (66). It uses and fills the
 * vCPU's guest-physical TLB, sets EPT A/D flags on success when EPTP[6] = 1, and after it returns
 * `bits` holds the translation's packed rights (tlb.ts T_* flags). No allocation, no BigInt.
 */
import type { MachineConfig } from './config.js';
import type { PhysMemory } from './memory.js';
import type { Vcpu } from './vcpu.js';
import {
  ADDR_LO_MASK, CTL2_MBEC, CTL2_SPP, EPTP_AD, EPT_A, EPT_D, EPT_MEMTYPE_INVALID, EPT_PS, EPT_R,
  EPT_SPP_HI, EPT_W, EPT_X, EPT_XU, EXIT_EPT_MISCONFIG, EXIT_EPT_VIOLATION, EXIT_SPP, QUAL_FETCH,
  QUAL_GLA_VALID, QUAL_RD, QUAL_WR, QUAL_XLAT, SPP_QUAL_MISS, addrHiMask, rsvdAddrHiMask,
} from './bits.js';
import { SPP_DENIED, SPP_MISS, SPP_OK, SppUnit } from './spp.js';
import { T_EPT_D, T_R, T_SPP, T_W, T_X, T_XU } from './tlb.js';

const TWO32 = 2 ** 32;
/** Bytes covered by one entry at each level (index = floor(addr / span) mod 512). */
const LEVEL_SPAN = [0, 4096, 2 ** 21, 2 ** 30, 2 ** 39];
const PAGE_SIZE_AT = [0, 4096, 2 ** 21, 2 ** 30, 0];

export class EptUnit {
  exitReason = 0;
  exitQual = 0;
  exitGpa = 0.5; // initialised as doubles: these fields hold addresses above 2^31 (no Smi->Double deopts)
  exitGla = 0.5;
  /** Packed T_* rights of the last successful translation. */
  bits = 0;
  /** Host-physical address of the last successful translation. */
  hpa = 0.5;

  private readonly addrHi: number;
  private readonly rsvdHi: number;
  private readonly execOnly: boolean;
  private readonly page1G: boolean;
  private readonly advInfo: boolean;
  private readonly spp: SppUnit;
  private readonly bugGlaBits: boolean;
  private readonly bugMisconfigPriority: boolean;
  /** Host addresses of the entries used by the walk in progress, leaf last. */
  private readonly walkAddr = new Float64Array(4);

  constructor(private readonly mem: PhysMemory, config: MachineConfig) {
    this.addrHi = addrHiMask(config.maxPhyAddr);
    this.rsvdHi = rsvdAddrHiMask(config.maxPhyAddr);
    this.execOnly = config.caps.eptExecOnly;
    this.page1G = config.caps.page1G;
    this.advInfo = config.caps.advExitInfo;
    this.bugGlaBits = config.bugs.includes('ept-gla-bits-wrong');
    this.bugMisconfigPriority = config.bugs.includes('ept-misconfig-priority');
    this.spp = new SppUnit(mem, this.addrHi, this.rsvdHi,
      config.bugs.includes('spp-odd-bits-ignored'), config.bugs.includes('spp-subpage-cross'));
  }

  /** Root host address of an EPTP value held as a number (bits 51:12). */
  static root(eptp: number): number {
    return eptp - (eptp & 0xfff);
  }

  /**
   * @param acc     qualification access bits: QUAL_RD / QUAL_WR / QUAL_FETCH (paging-structure
   *                accesses pass RD, or RD|WR under EPT A/D or for an A/D update)
   * @param final   true for the access to the final GPA of a linear address (qualification bit 8)
   * @param user    fetch from a user-mode linear address (MBEC selects XU instead of XS)
   * @param adv     advanced exit information bits 9-11 for a final access (0 otherwise)
   * @param len     bytes accessed within this page (SPP checks every touched sub-page)
   */
  translate(v: Vcpu, gpa: number, acc: number, final: boolean, user: boolean, la: number, adv: number, len: number): boolean {
    const mbec = (v.ctls2 & CTL2_MBEC) !== 0;
    const ad = (v.eptp & EPTP_AD) !== 0;
    const root = EptUnit.root(v.eptp);
    const offset = gpa & 0xfff;
    const gpaPage = (gpa - offset) / 4096;
    // Rights the access needs, in T_* form.
    const need = ((acc & QUAL_RD) !== 0 ? T_R : 0) | ((acc & QUAL_WR) !== 0 ? T_W : 0)
      | ((acc & QUAL_FETCH) !== 0 ? (mbec && user ? T_XU : T_X) : 0);

    // Guest-physical TLB (ref §6.1): a hit is used only if it allows the access outright.
    const slot = v.gtlb.find(root, gpaPage);
    if (slot >= 0) {
      const b = v.gtlb.bitsAt(slot);
      if ((b & need) === need && ((acc & QUAL_WR) === 0 || !ad || (b & T_EPT_D) !== 0)) {
        this.bits = b;
        this.hpa = v.gtlb.hpaPageAt(slot) * 4096 + offset;
        return true;
      }
      v.gtlb.dropPage(gpaPage);
    }

    const mem = this.mem;
    let table = root;
    let perms = EPT_R | EPT_W | EPT_X | EPT_XU;
    let level = 4;
    let lo = 0;
    let hi = 0;
    for (; ; level--) {
      const a = table + ((Math.floor(gpa / LEVEL_SPAN[level]) & 511) << 3);
      this.walkAddr[4 - level] = a;
      lo = mem.read32(a);
      hi = mem.read32(a + 4);
      // ref §1.2 "Present": bits 2:0 != 0, or bit 10 with MBEC.
      if ((lo & 7) === 0 && !(mbec && (lo & EPT_XU) !== 0)) {
        return this.violation(v, gpa, acc, 0, final, la, adv, gpaPage, mbec);
      }
      const leaf = level === 1 || (level <= 3 && (lo & EPT_PS) !== 0);
      if (this.misconfigured(lo, hi, level, leaf, mbec)) {
        if (this.bugMisconfigPriority && (perms & lo & this.permMask(need, mbec)) !== this.permMask(need, mbec)) {
          return this.violation(v, gpa, acc, perms & lo, final, la, adv, gpaPage, mbec);
        }
        this.exitReason = EXIT_EPT_MISCONFIG;
        this.exitQual = 0;
        this.exitGpa = gpa;
        this.exitGla = -1;
        v.gtlb.dropPage(gpaPage);
        return false;
      }
      perms &= lo;
      if (leaf) break;
      table = (hi & this.addrHi) * TWO32 + ((lo & ADDR_LO_MASK) >>> 0);
    }

    const size = PAGE_SIZE_AT[level];
    const frameBase = (hi & this.addrHi) * TWO32 + ((lo & ADDR_LO_MASK) >>> 0);
    const offsetMask = size - 1; // size is a power of two <= 2^30: masking the low 32 bits is exact (no fmod)
    const hpa = frameBase - (frameBase & offsetMask) + (gpa & offsetMask);
    const spp = level === 1 && (hi & EPT_SPP_HI) !== 0 && (v.ctls2 & CTL2_SPP) !== 0;
    const mask = this.permMask(need, mbec);
    if ((perms & mask) !== mask) {
      // ref §3.3: an SPP-eligible write (final GPA, 4 KiB leaf with bit 61, R = 1 and W = 0 over
      // the levels) consults the SPPT instead of faulting outright.
      if (spp && final && (acc & QUAL_WR) !== 0 && (acc & QUAL_FETCH) === 0 && (perms & EPT_R) !== 0 && (perms & EPT_W) === 0
        && (mask & ~EPT_W & ~perms) === 0) {
        const r = this.spp.check(v.spptp, gpa, len);
        if (r === SPP_DENIED) {
          return this.violation(v, this.spp.deniedGpa, acc, perms, final, la, adv, gpaPage, mbec);
        }
        if (r !== SPP_OK) {
          this.exitReason = EXIT_SPP;
          this.exitQual = r === SPP_MISS ? SPP_QUAL_MISS : 0;
          this.exitGpa = gpa;
          this.exitGla = la;
          v.gtlb.dropPage(gpaPage);
          return false;
        }
      } else {
        return this.violation(v, gpa, acc, perms, final, la, adv, gpaPage, mbec);
      }
    }

    // ref §1.3 "Accessed and Dirty Flags for EPT": A in every entry used, D in the leaf on writes.
    // T_EPT_D records that the leaf's D flag is set in memory (needed only while EPTP[6] = 1).
    let dirty = (lo & EPT_D) !== 0;
    if (ad) {
      const write = (acc & QUAL_WR) !== 0;
      for (let i = 0, n = 5 - level; i < n; i++) {
        const a = this.walkAddr[i];
        const cur = mem.read32(a);
        const want = (cur | EPT_A | (write && i === n - 1 ? EPT_D : 0)) >>> 0; // unsigned, as read32 returns
        if (want !== cur) mem.write32(a, want);
      }
      dirty = write || (lo & EPT_D) !== 0;
    }
    const b = ((perms & EPT_R) ? T_R : 0) | ((perms & EPT_W) ? T_W : 0) | ((perms & EPT_X) ? T_X : 0)
      | (mbec && (perms & EPT_XU) ? T_XU : 0) | (dirty ? T_EPT_D : 0) | (spp ? T_SPP : 0);
    this.bits = b;
    // An SPP-granted write is not cached as writable (ref §3.4, Bochs): cache the plain rights.
    v.gtlb.fill(root, gpaPage, (hpa - (hpa & 0xfff)) / 4096, b);
    this.hpa = hpa;
    return true;
  }

  /** EPT permission bits (R, W, X/XS, XU) that `need` requires. */
  private permMask(need: number, mbec: boolean): number {
    return ((need & T_R) ? EPT_R : 0) | ((need & T_W) ? EPT_W : 0) | ((need & T_X) ? EPT_X : 0)
      | (mbec && (need & T_XU) ? EPT_XU : 0);
  }

  /** ref §1.3 "EPT Misconfigurations", checked only for present entries. */
  private misconfigured(lo: number, hi: number, level: number, leaf: boolean, mbec: boolean): boolean {
    if ((lo & (EPT_R | EPT_W)) === EPT_W) return true; // 1. W without R
    if ((lo & EPT_R) === 0 && !this.execOnly && ((lo & EPT_X) !== 0 || (mbec && (lo & EPT_XU) !== 0))) return true; // 2. execute-only unsupported
    if ((hi & this.rsvdHi) !== 0) return true; // 3. address bits [51:MAXPHYADDR]
    if (level === 4) return (lo & 0xf8) !== 0; // PML4E bits 7:3 reserved (PS included)
    if (!leaf) return (lo & 0x78) !== 0; // non-leaf PDPTE/PDE bits 6:3 reserved
    if (level === 3 && (!this.page1G || (lo & 0x3ffff000) !== 0)) return true; // 1 GiB: PS reserved without support; bits 29:12
    if (level === 2 && (lo & 0x1ff000) !== 0) return true; // 2 MiB: bits 20:12
    return ((EPT_MEMTYPE_INVALID >>> ((lo >>> 3) & 7)) & 1) !== 0; // 4. memory type 2, 3, 7
  }

  /** ref §2.1: fills an EPT-violation exit; `perms` = ANDed rights (0 when a level was not present). */
  private violation(v: Vcpu, gpa: number, acc: number, perms: number, final: boolean, la: number, adv: number, gpaPage: number, mbec: boolean): false {
    let qual = acc | ((perms & 7) << 3) | (mbec && (perms & EPT_XU) ? 1 << 6 : 0) | QUAL_GLA_VALID;
    if (final) qual |= QUAL_XLAT | (this.advInfo ? adv : 0);
    if (this.bugGlaBits && !final) qual |= QUAL_XLAT; // planted: bit 8 set for page-walk accesses too
    this.exitReason = EXIT_EPT_VIOLATION;
    this.exitQual = qual;
    this.exitGpa = gpa;
    this.exitGla = la;
    v.gtlb.dropPage(gpaPage);
    return false;
  }
}
