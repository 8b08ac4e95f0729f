/**
 * Raw 64-bit table entries as plain `{ lo, hi }` halves, and the address arithmetic every walk
 * shares. Contract: no BigInt on the walk paths; addresses are exact JavaScript numbers (< 2^53).
 * Levels count from the leaf (1 = PTE .. 4 = PML4E); a level-L table is indexed by address bits
 * [12 + 9L - 1 : 12 + 9(L - 1)] for guest paging, EPT and the SPPT alike (ref §3.2, SDM 4.5).
 */
import { addrHiMask } from '../hw/bits.js';

export interface Entry {
  lo: number;
  hi: number;
}

export const TWO32 = 2 ** 32;

/** Bytes mapped by one entry at `level` (4 KiB, 2 MiB, 1 GiB, 512 GiB). */
export function levelSpan(level: number): number {
  return 2 ** (12 + 9 * (level - 1));
}

/** Index (0..511) of the entry for `addr` in a level-`level` table. */
export function levelIndex(addr: number, level: number): number {
  return Math.floor(addr / levelSpan(level)) % 512;
}

/** Address bits [maxPhyAddr-1 : 12] of an entry: the next table, or a 4 KiB frame. */
export function entryAddress(e: Entry, maxPhyAddr: number): number {
  return (e.hi & addrHiMask(maxPhyAddr)) * TWO32 + ((e.lo & 0xfffff000) >>> 0);
}

/** Base address of the region a leaf at `level` maps (bits [maxPhyAddr-1 : 12 + 9(level-1)]). */
export function leafBase(e: Entry, level: number, maxPhyAddr: number): number {
  const a = entryAddress(e, maxPhyAddr);
  const span = levelSpan(level);
  return a - (a % span);
}

export function splitU64(v: bigint): Entry {
  return { lo: Number(v & 0xffffffffn), hi: Number((v >> 32n) & 0xffffffffn) };
}

/** True when bit `bit` (0..63) of the number `v` (< 2^53) is set. */
export function bitOf(v: number, bit: number): boolean {
  return Math.floor(v / 2 ** bit) % 2 === 1;
}
