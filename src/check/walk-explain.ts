/**
 * The translation of one guest access, decoded for a reader (`eptfuzz explain`): the guest walk
 * and every EPT walk it makes, each entry with its address, raw value and flags by name, the
 * rights accumulated level by level, and the SPPT walk of an SPP page.
 * Contract: a read-only report over the reference model's memory and registers as they are
 * before the access (no permission decisions of its own beyond naming where a walk stops: the
 * model's rule says what decided); never used on a hot path (BigInt and strings are fine here).
 */
import type { MachineConfig } from '../hw/config.js';
import {
  CR0_PG, CR0_WP, CR4_PKE, CR4_PKS, CR4_SMAP, CR4_SMEP, CTL2_MBEC, CTL2_SPP, EFER_NXE, EPTP_AD, EPT_A, EPT_D, EPT_IPAT,
  EPT_PS, EPT_R, EPT_SPP_HI, EPT_SVE_HI, EPT_W, EPT_X, EPT_XU, PTE_A, PTE_D, PTE_G, PTE_P, PTE_PCD, PTE_PS, PTE_PWT,
  PTE_RW, PTE_US, PTE_XD_HI,
} from '../hw/bits.js';
import { type Entry, entryAddress, leafBase, levelIndex, levelSpan, mod, splitU64 } from '../model/entry.js';
import { eptIsLeaf, eptMisconfigRule, eptPresent } from '../model/ept.js';
import { guestIsLeaf, guestReservedRule } from '../model/guest-paging.js';
import type { VcpuState } from '../model/registers.js';
import { NO_RULE, ruleId } from '../model/rules.js';

/** What the decoder needs from the model: bytes of host memory and a vCPU's registers. */
export interface ModelView {
  readPhys(hpa: number, size: number): bigint;
  vcpuState(cpu: number): Readonly<VcpuState>;
}

export interface DecodedEntry {
  /** `guest` paging entry, `ept` entry, or `sppt` entry. */
  table: 'guest' | 'ept' | 'sppt';
  level: number;
  /** Host-physical address of the entry. */
  hpa: number;
  /** Guest-physical address of a guest entry (null for EPT and SPPT entries). */
  gpa: number | null;
  raw: bigint;
  flags: string;
  /** Rights accumulated down to this entry (guest: RW US XD; EPT: R W X XU). */
  rights: string;
  /** Why the walk stops here, if it does (not present, a reserved bit's rule, a leaf). */
  stop: string | null;
}

export interface EptWalkReport {
  gpa: number;
  entries: DecodedEntry[];
  /** HPA of the GPA's byte, or null when the walk stops before a leaf. */
  hpa: number | null;
}

export interface PartReport {
  la: number;
  size: number;
  /** Guest walk entries (empty with paging off) and the EPT walk of each one's GPA. */
  guest: Array<{ entry: DecodedEntry | null; tableGpa: number; ept: EptWalkReport }>;
  /** The final GPA (null when the guest walk stops first). */
  gpa: number | null;
  final: EptWalkReport | null;
  /** SPPT walk of an SPP page (4 KiB leaf with bit 61 while SPP is on), with the touched sub-pages. */
  sppt: { entries: DecodedEntry[]; subpages: Array<{ index: number; writable: boolean }> } | null;
}

export interface AccessReport {
  registers: string;
  parts: PartReport[];
}

const hex = (n: number | bigint): string => '0x' + n.toString(16);

function names(lo: number, hi: number, table: ReadonlyArray<[number, boolean, string]>): string {
  const out: string[] = [];
  for (const [bit, isHi, name] of table) if (((isHi ? hi : lo) & bit) !== 0) out.push(name);
  return out.join(' ');
}

const GUEST_FLAGS: ReadonlyArray<[number, boolean, string]> = [
  [PTE_P, false, 'P'], [PTE_RW, false, 'RW'], [PTE_US, false, 'US'], [PTE_PWT, false, 'PWT'], [PTE_PCD, false, 'PCD'],
  [PTE_A, false, 'A'], [PTE_D, false, 'D'], [PTE_PS, false, 'PS'], [PTE_G, false, 'G'], [PTE_XD_HI, true, 'XD'],
];
const EPT_FLAGS: ReadonlyArray<[number, boolean, string]> = [
  [EPT_R, false, 'R'], [EPT_W, false, 'W'], [EPT_X, false, 'X'], [EPT_IPAT, false, 'IPAT'], [EPT_PS, false, 'PS'],
  [EPT_A, false, 'A'], [EPT_D, false, 'D'], [EPT_XU, false, 'XU'], [EPT_SPP_HI, true, 'SPP'], [EPT_SVE_HI, true, 'SVE'],
];

function guestFlags(e: Entry, level: number): string {
  const f = names(e.lo, e.hi, GUEST_FLAGS);
  const leaf = guestIsLeaf(e, level) && (e.lo & PTE_P) !== 0;
  return leaf ? `${f} pkey=${(e.hi >>> 27) & 0xf}` : f;
}

function eptFlags(e: Entry, level: number): string {
  const f = names(e.lo, e.hi, EPT_FLAGS);
  return eptIsLeaf(e, level) ? `${f} memtype=${(e.lo >>> 3) & 7}` : f;
}

/** A qword of model memory as an entry. */
function entryAt(m: ModelView, hpa: number): { e: Entry; raw: bigint } {
  const raw = m.readPhys(hpa, 8);
  return { e: splitU64(raw), raw };
}

const LEVEL_NAMES = ['', 'PTE', 'PDE', 'PDPTE', 'PML4E'];

/** The EPT walk of `gpa` from `root`, every entry decoded (ref docs/semantics.md "EPT translation"). */
export function decodeEptWalk(m: ModelView, config: MachineConfig, root: number, gpa: number, mbec: boolean): EptWalkReport {
  const ctx = { maxPhyAddr: config.maxPhyAddr, mbec, execOnly: config.caps.eptExecOnly, page1G: config.caps.page1G };
  const entries: DecodedEntry[] = [];
  let table = root;
  let r = true, w = true, x = true, xu = true;
  for (let level = 4; level >= 1; level--) {
    const hpa = table + levelIndex(gpa, level) * 8;
    const { e, raw } = entryAt(m, hpa);
    const d: DecodedEntry = { table: 'ept', level, hpa, gpa: null, raw, flags: eptFlags(e, level), rights: '', stop: null };
    entries.push(d);
    if (!eptPresent(e, mbec)) {
      d.rights = 'none';
      d.stop = `not present (bits 2:0 = 0${mbec ? ', XU = 0' : ''})`;
      return { gpa, entries, hpa: null };
    }
    const mis = eptMisconfigRule(e, level, ctx);
    r &&= (e.lo & EPT_R) !== 0;
    w &&= (e.lo & EPT_W) !== 0;
    x &&= (e.lo & EPT_X) !== 0;
    xu &&= (e.lo & EPT_XU) !== 0;
    d.rights = `${r ? 'R' : '-'}${w ? 'W' : '-'}${x ? 'X' : '-'}${mbec ? (xu ? 'U' : '-') : ''}`;
    if (mis !== NO_RULE) {
      d.stop = `misconfigured: ${ruleId(mis)}`;
      return { gpa, entries, hpa: null };
    }
    if (eptIsLeaf(e, level)) {
      d.stop = `leaf (${level === 1 ? '4 KiB' : level === 2 ? '2 MiB' : '1 GiB'})`;
      return { gpa, entries, hpa: leafBase(e, level, config.maxPhyAddr) + mod(gpa, levelSpan(level)) };
    }
    table = entryAddress(e, config.maxPhyAddr);
  }
  return { gpa, entries, hpa: null };
}

function registers(s: Readonly<VcpuState>, config: MachineConfig): string {
  const bits = (v: number, b: number): number => ((v & b) !== 0 ? 1 : 0);
  return [
    `CPL ${s.cpl}`, `CR0.PG ${bits(s.cr0, CR0_PG)}`, `CR0.WP ${bits(s.cr0, CR0_WP)}`, `CR3 ${hex(s.cr3)}`,
    `CR4.SMEP ${bits(s.cr4, CR4_SMEP)}`, `CR4.SMAP ${bits(s.cr4, CR4_SMAP)}`, `CR4.PKE ${bits(s.cr4, CR4_PKE)}`, `CR4.PKS ${bits(s.cr4, CR4_PKS)}`,
    `EFER.NXE ${bits(s.efer, EFER_NXE)}`, `RFLAGS.AC ${s.ac ? 1 : 0}`, `PKRU ${hex(s.pkru)}`, `PKRS ${hex(s.pkrs)}`,
    `EPTP ${hex(s.eptp)} (A/D ${bits(s.eptp, EPTP_AD)})`, `MBEC ${bits(s.ctls2, CTL2_MBEC)}`, `SPP ${bits(s.ctls2, CTL2_SPP)}`,
    `MAXPHYADDR ${config.maxPhyAddr}${config.kvmXo ? ' kvmXo' : ''}`,
  ].join(', ');
}

/** The whole translation of a guest access of `size` bytes at `la` on `cpu`, as the model's memory gives it now. */
export function decodeAccess(m: ModelView, config: MachineConfig, cpu: number, la: number, size: number, write = true): AccessReport {
  const s = m.vcpuState(cpu);
  const mbec = (s.ctls2 & CTL2_MBEC) !== 0;
  const root = Math.floor(s.eptp / 4096) * 4096;
  const parts: PartReport[] = [];
  const first = Math.min(size, 4096 - mod(la, 4096));
  const pieces: Array<[number, number]> = [[la, first]];
  if (first < size) pieces.push([(la + first) % 2 ** 48, size - first]);
  const gctx = { maxPhyAddr: config.maxPhyAddr, nxe: (s.efer & EFER_NXE) !== 0, page1G: config.caps.page1G };
  for (const [pla, psize] of pieces) {
    const part: PartReport = { la: pla, size: psize, guest: [], gpa: null, final: null, sppt: null };
    parts.push(part);
    if ((s.cr0 & CR0_PG) === 0) {
      part.gpa = pla;
    } else {
      let tableGpa = Math.floor(s.cr3 / 4096) * 4096;
      let rw = true, us = true, xd = false;
      for (let level = 4; level >= 1; level--) {
        const gpa = tableGpa + levelIndex(pla, level) * 8;
        const ept = decodeEptWalk(m, config, root, gpa, mbec);
        if (ept.hpa === null) {
          part.guest.push({ entry: null, tableGpa: gpa, ept });
          break;
        }
        const { e, raw } = entryAt(m, ept.hpa);
        const d: DecodedEntry = { table: 'guest', level, hpa: ept.hpa, gpa, raw, flags: guestFlags(e, level), rights: '', stop: null };
        part.guest.push({ entry: d, tableGpa: gpa, ept });
        if ((e.lo & PTE_P) === 0) {
          d.rights = 'none';
          d.stop = 'not present (P = 0)';
          break;
        }
        const rsvd = guestReservedRule(e, level, gctx);
        rw &&= (e.lo & PTE_RW) !== 0;
        us &&= (e.lo & PTE_US) !== 0;
        xd ||= (e.hi & PTE_XD_HI) !== 0;
        d.rights = `${rw ? 'RW' : 'R-'} ${us ? 'user' : 'supervisor'}${xd ? ' XD' : ''}`;
        if (rsvd !== NO_RULE) {
          d.stop = `reserved bit: ${ruleId(rsvd)}`;
          break;
        }
        if (guestIsLeaf(e, level)) {
          d.stop = `leaf (${level === 1 ? '4 KiB' : level === 2 ? '2 MiB' : '1 GiB'}) ${LEVEL_NAMES[level]}`;
          part.gpa = leafBase(e, level, config.maxPhyAddr) + mod(pla, levelSpan(level));
          break;
        }
        tableGpa = entryAddress(e, config.maxPhyAddr);
      }
    }
    if (part.gpa === null) continue;
    part.final = decodeEptWalk(m, config, root, part.gpa, mbec);
    const leaf = part.final.entries[part.final.entries.length - 1];
    // SPP applies to writes only (ref §3.3)
    if (write && part.final.hpa !== null && (s.ctls2 & CTL2_SPP) !== 0 && leaf !== undefined && leaf.level === 1 && (splitU64(leaf.raw).hi & EPT_SPP_HI) !== 0) {
      part.sppt = decodeSppt(m, config, s.spptp, part.gpa, psize);
    }
  }
  return { registers: registers(s, config), parts };
}

function decodeSppt(m: ModelView, config: MachineConfig, spptp: number, gpa: number, size: number): PartReport['sppt'] {
  const entries: DecodedEntry[] = [];
  let table = Math.floor(spptp / 4096) * 4096;
  for (let level = 4; level >= 2; level--) {
    const hpa = table + levelIndex(gpa, level) * 8;
    const { e, raw } = entryAt(m, hpa);
    const d: DecodedEntry = { table: 'sppt', level, hpa, gpa: null, raw, flags: (e.lo & 1) !== 0 ? 'valid' : 'not valid', rights: '', stop: null };
    entries.push(d);
    if ((e.lo & 1) === 0) {
      d.stop = 'SPPT miss (bit 0 = 0)';
      return { entries, subpages: [] };
    }
    table = entryAddress(e, config.maxPhyAddr);
  }
  const hpa = table + levelIndex(gpa, 1) * 8;
  const { e, raw } = entryAt(m, hpa);
  entries.push({ table: 'sppt', level: 1, hpa, gpa: null, raw, flags: 'sub-page write bits (even bits)', rights: '', stop: 'leaf' });
  const subpages: Array<{ index: number; writable: boolean }> = [];
  const from = Math.floor(mod(gpa, 4096) / 128);
  const to = Math.floor((mod(gpa, 4096) + size - 1) / 128);
  for (let i = from; i <= to; i++) {
    const bit = 2 * i;
    subpages.push({ index: i, writable: ((bit < 32 ? e.lo >>> bit : e.hi >>> (bit - 32)) & 1) === 1 });
  }
  return { entries, subpages };
}

/** One decoded entry as a line: `guest L2 PDE gpa 0x.. @hpa 0x.. = 0x.. [P RW US A] rights ...; stop`. */
export function formatEntry(d: DecodedEntry): string {
  const name = d.table === 'guest' ? `guest L${d.level} ${LEVEL_NAMES[d.level]} gpa ${hex(d.gpa ?? 0)}` : d.table === 'ept' ? `EPT L${d.level}` : `SPPT L${d.level}`;
  return `${name} @hpa ${hex(d.hpa)} = ${hex(d.raw)} [${d.flags}]${d.rights !== '' ? ` rights ${d.rights}` : ''}${d.stop !== null ? ` -- ${d.stop}` : ''}`;
}

/**
 * Where host address `hpa` sits in an access's walks: "the A flag of guest L1 PTE for la 0x..."
 * (bit `bit`), or a data byte of part k; null when the walks never read it.
 */
export function locate(r: AccessReport, hpa: number, bit: number | null): string | null {
  for (const p of r.parts) {
    for (const g of p.guest) {
      for (const d of [...g.ept.entries, ...(g.entry !== null ? [g.entry] : [])]) {
        if (hpa >= d.hpa && hpa < d.hpa + 8) return `${entryName(d, p.la, g.tableGpa)}${flagName(d, hpa, bit)}`;
      }
    }
    for (const d of p.final?.entries ?? []) if (hpa >= d.hpa && hpa < d.hpa + 8) return `${entryName(d, p.la, p.gpa ?? 0)}${flagName(d, hpa, bit)}`;
    for (const d of p.sppt?.entries ?? []) if (hpa >= d.hpa && hpa < d.hpa + 8) return `SPPT L${d.level} entry for gpa ${hex(p.gpa ?? 0)}`;
    if (p.final?.hpa != null && hpa >= p.final.hpa && hpa < p.final.hpa + p.size) return `data byte ${hpa - p.final.hpa} of the access's part at la ${hex(p.la)} (gpa ${hex((p.gpa ?? 0) + hpa - p.final.hpa)})`;
  }
  return null;
}

function entryName(d: DecodedEntry, la: number, gpa: number): string {
  return d.table === 'guest' ? `the guest L${d.level} ${LEVEL_NAMES[d.level]} for la ${hex(la)}` : `the EPT L${d.level} entry for gpa ${hex(gpa)}`;
}

function flagName(d: DecodedEntry, hpa: number, bit: number | null): string {
  if (bit === null) return ` (byte ${hpa - d.hpa})`;
  const b = 8 * (hpa - d.hpa) + bit;
  const table = d.table === 'guest' ? GUEST_FLAGS : EPT_FLAGS;
  for (const [mask, isHi, name] of table) {
    const pos = (isHi ? 32 : 0) + Math.log2(mask);
    if (pos === b) return `: its ${name} flag (bit ${b})`;
  }
  return `: bit ${b}`;
}
