/**
 * Raw 64-bit table entries as plain `{ lo, hi }` halves, and the address arithmetic every walk
 * shares. Contract: no BigInt on the walk paths; addresses are exact JavaScript numbers (< 2^53).
 * Levels count from the leaf (1 = PTE .. 4 = PML4E); a level-L table is indexed by address bits
 * [12 + 9L - 1 : 12 + 9(L - 1)] for guest paging, EPT and the SPPT alike (ref §3.2, SDM 4.5).
 */
import { addrHiMask, rsvdAddrHiMask } from '../hw/bits.js';

export interface Entry {
  lo: number;
  hi: number;
}

export const TWO32 = 2 ** 32;

const SPANS = [1, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39, 2 ** 48];

/** Bytes mapped by one entry at `level` (4 KiB, 2 MiB, 1 GiB, 512 GiB; 256 TiB for a whole level-4 table). */
export function levelSpan(level: number): number {
  return SPANS[level];
}

// Address masks of the high half per MAXPHYADDR (36..52), computed once: walks are hot.
const ADDR_HI: number[] = [];
const RSVD_HI: number[] = [];
for (let m = 32; m <= 52; m++) {
  ADDR_HI[m] = addrHiMask(m);
  RSVD_HI[m] = rsvdAddrHiMask(m);
}

/** High-half mask of address bits [maxPhyAddr-1 : 32]. */
export function addrHi(maxPhyAddr: number): number {
  return ADDR_HI[maxPhyAddr];
}

/** High-half mask of the reserved address bits [51 : maxPhyAddr]. */
export function rsvdHi(maxPhyAddr: number): number {
  return RSVD_HI[maxPhyAddr];
}

/**
 * `x mod m` for an integer 0 <= x < 2^53 and a power of two m, exactly. Written with floor: `%`
 * on a number beyond 32 bits is a floating-point remainder, several times slower, and the walks
 * take it on every address.
 */
export function mod(x: number, m: number): number {
  return x - Math.floor(x / m) * m;
}

/** Index (0..511) of the entry for `addr` in a level-`level` table. */
export function levelIndex(addr: number, level: number): number {
  return mod(Math.floor(addr / levelSpan(level)), 512);
}

/** Address bits [maxPhyAddr-1 : 12] of an entry: the next table, or a 4 KiB frame. */
export function entryAddress(e: Entry, maxPhyAddr: number): number {
  return (e.hi & ADDR_HI[maxPhyAddr]) * TWO32 + ((e.lo & 0xfffff000) >>> 0);
}

/** Base address of the region a leaf at `level` maps (bits [maxPhyAddr-1 : 12 + 9(level-1)]). */
export function leafBase(e: Entry, level: number, maxPhyAddr: number): number {
  const a = entryAddress(e, maxPhyAddr);
  const span = levelSpan(level);
  return a - mod(a, span);
}

export function splitU64(v: bigint): Entry {
  return { lo: Number(v & 0xffffffffn), hi: Number((v >> 32n) & 0xffffffffn) };
}

/** True when bit `bit` (0..63) of the number `v` (< 2^53) is set. */
export function bitOf(v: number, bit: number): boolean {
  return Math.floor(v / 2 ** bit) % 2 === 1;
}
