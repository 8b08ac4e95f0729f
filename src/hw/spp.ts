/**
 * The SPPT walk and the sub-page write check (ref §3.2-§3.4).
 * Contract: `sppCheck` walks the SPPT from SPPTP for the write [gpa, gpa + len) (within one 4 KiB
 * page) and returns SPP_OK, SPP_MISS (exit 66, qual bit 11 = 1), SPP_MISCONFIG (exit 66, bit 11 = 0)
 * or SPP_DENIED, in which case `deniedGpa` is the first byte of the write inside the first denied
 * sub-page (docs/semantics.md step 6). Reads host memory only; no side effects.
 */
import type { PhysMemory } from './memory.js';
import { ADDR_LO_MASK, SPPT_LEAF_ODD, SPPT_NONLEAF_RSVD_HI, SPPT_NONLEAF_RSVD_LO, SPPT_VALID, SUBPAGE_SIZE } from './bits.js';

export const SPP_OK = 0;
export const SPP_MISS = 1;
export const SPP_MISCONFIG = 2;
export const SPP_DENIED = 3;

export class SppUnit {
  deniedGpa = 0;
  constructor(
    private readonly mem: PhysMemory,
    private readonly addrHi: number,
    private readonly rsvdHi: number,
    private readonly odd_bits_ignored: boolean,
    private readonly cross_checks_first_only: boolean,
  ) {}

  check(spptp: number, gpa: number, len: number): number {
    const mem = this.mem;
    let table = spptp - (spptp & 0xfff);
    for (let level = 4; level >= 2; level--) {
      const idx = Math.floor(gpa / 2 ** (12 + 9 * (level - 1))) % 512;
      const a = table + idx * 8;
      const lo = mem.read32(a);
      const hi = mem.read32(a + 4);
      // ref §3.4: a non-leaf entry with bit 0 clear is an SPPT miss.
      if ((lo & SPPT_VALID) === 0) return SPP_MISS;
      // ref §3.2: bits 11:1, 63:52 and address bits >= MAXPHYADDR are reserved.
      if ((lo & SPPT_NONLEAF_RSVD_LO) !== 0 || (hi & (SPPT_NONLEAF_RSVD_HI | this.rsvdHi)) !== 0) return SPP_MISCONFIG;
      table = (hi & this.addrHi) * 2 ** 32 + ((lo & ADDR_LO_MASK) >>> 0);
    }
    const a = table + (Math.floor(gpa / 4096) % 512) * 8;
    const lo = mem.read32(a);
    const hi = mem.read32(a + 4);
    // ref §3.2: odd bits of the leaf are reserved -> misconfiguration.
    if (!this.odd_bits_ignored && ((lo | hi) & SPPT_LEAF_ODD) !== 0) return SPP_MISCONFIG;
    const offset = gpa & 0xfff;
    const first = offset >>> 7;
    const last = this.cross_checks_first_only ? first : (offset + len - 1) >>> 7;
    for (let i = first; i <= last; i++) {
      // ref §3.2: bit 2i of the leaf grants writes to sub-page i (bytes 128i .. 128i+127).
      const allowed = i < 16 ? (lo >>> (2 * i)) & 1 : (hi >>> (2 * (i - 16))) & 1;
      if (allowed === 0) {
        this.deniedGpa = gpa - offset + Math.max(offset, i * SUBPAGE_SIZE);
        return SPP_DENIED;
      }
    }
    return SPP_OK;
  }
}
