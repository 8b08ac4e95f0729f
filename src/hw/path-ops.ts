/**
 * Path ops: write one raw entry on the translation path of an address (docs/semantics.md
 * "Path ops"). Contract: debug walks with no permission checks, A/D updates, misconfiguration
 * checks or TLB effects; an upper entry that is not a present non-leaf entry, or a table outside
 * RAM, gives `noent` and writes nothing.
 */
import type { Outcome } from './outcome.js';
import { OK } from './outcome.js';
import type { PhysMemory } from './memory.js';
import type { Vcpu } from './vcpu.js';
import { ADDR_LO_MASK, CTL2_MBEC, EPT_PS, EPT_XU, PTE_P, PTE_PS, SPPT_VALID } from './bits.js';
import { EptUnit } from './ept.js';

const TWO32 = 2 ** 32;
const NOENT: Outcome = Object.freeze({ kind: 'noent' });

function entryAddr(lo: number, hi: number, addrHi: number): number {
  return (hi & addrHi) * TWO32 + ((lo & ADDR_LO_MASK) >>> 0);
}

const LEVEL_SPAN = [0, 4096, 2 ** 21, 2 ** 30, 2 ** 39];

function index(addr: number, level: number): number {
  return Math.floor(addr / LEVEL_SPAN[level]) & 511;
}

function writeEntry(mem: PhysMemory, a: number, entry: bigint): Outcome {
  if (!mem.isRam(a)) return NOENT;
  mem.write32(a, Number(entry & 0xffffffffn));
  mem.write32(a + 4, Number((entry >> 32n) & 0xffffffffn));
  return OK;
}

/** Host address of the EPT entry at `level` on the path of `gpa`, or -1. */
function eptEntryAddr(mem: PhysMemory, v: Vcpu, gpa: number, level: number, addrHi: number): number {
  const mbec = (v.ctls2 & CTL2_MBEC) !== 0;
  let table = EptUnit.root(v.eptp);
  for (let l = 4; l > level; l--) {
    const a = table + index(gpa, l) * 8;
    if (!mem.isRam(a)) return -1;
    const lo = mem.read32(a);
    const hi = mem.read32(a + 4);
    const present = (lo & 7) !== 0 || (mbec && (lo & EPT_XU) !== 0);
    if (!present || (l <= 3 && (lo & EPT_PS) !== 0)) return -1;
    table = entryAddr(lo, hi, addrHi);
  }
  return table + index(gpa, level) * 8;
}

/** Debug GPA -> HPA through EPT (any leaf size), or -1. */
export function debugTranslate(mem: PhysMemory, v: Vcpu, gpa: number, addrHi: number): number {
  const mbec = (v.ctls2 & CTL2_MBEC) !== 0;
  let table = EptUnit.root(v.eptp);
  for (let l = 4; l >= 1; l--) {
    const a = table + index(gpa, l) * 8;
    if (!mem.isRam(a)) return -1;
    const lo = mem.read32(a);
    const hi = mem.read32(a + 4);
    if ((lo & 7) === 0 && !(mbec && (lo & EPT_XU) !== 0)) return -1;
    const base = entryAddr(lo, hi, addrHi);
    if (l === 1 || (l <= 3 && (lo & EPT_PS) !== 0)) {
      const size = LEVEL_SPAN[l];
      return base - (base & (size - 1)) + (gpa & (size - 1)); // power-of-two size <= 2^30
    }
    table = base;
  }
  return -1;
}

export function eptSet(mem: PhysMemory, v: Vcpu, gpa: number, level: number, entry: bigint, addrHi: number): Outcome {
  const a = eptEntryAddr(mem, v, gpa, level, addrHi);
  return a < 0 ? NOENT : writeEntry(mem, a, entry);
}

export function gptSet(mem: PhysMemory, v: Vcpu, la: number, level: number, entry: bigint, addrHi: number): Outcome {
  let table = v.cr3 - (v.cr3 & 0xfff);
  for (let l = 4; l > level; l--) {
    const a = debugTranslate(mem, v, table + index(la, l) * 8, addrHi);
    if (a < 0 || !mem.isRam(a)) return NOENT;
    const lo = mem.read32(a);
    const hi = mem.read32(a + 4);
    if ((lo & PTE_P) === 0 || (l <= 3 && (lo & PTE_PS) !== 0)) return NOENT;
    table = entryAddr(lo, hi, addrHi);
  }
  const a = debugTranslate(mem, v, table + index(la, level) * 8, addrHi);
  return a < 0 ? NOENT : writeEntry(mem, a, entry);
}

export function spptSet(mem: PhysMemory, v: Vcpu, gpa: number, level: number, entry: bigint, addrHi: number): Outcome {
  // SPPTP bits [MAXPHYADDR-1:12] (docs/semantics.md "Path ops"); other bits are possible while SPP is off.
  let table = entryAddr(v.spptp >>> 0, Math.floor(v.spptp / 2 ** 32), addrHi);
  for (let l = 4; l > level; l--) {
    const a = table + index(gpa, l) * 8;
    if (!mem.isRam(a)) return NOENT;
    const lo = mem.read32(a);
    const hi = mem.read32(a + 4);
    if ((lo & SPPT_VALID) === 0) return NOENT;
    table = entryAddr(lo, hi, addrHi);
  }
  return writeEntry(mem, table + index(gpa, level) * 8, entry);
}
