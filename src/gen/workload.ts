/**
 * Workload ops: guest accesses, register changes, raw entry rewrites and invalidations, chosen by
 * weight and biased toward the pages already in play.
 * Contract: every op is well-formed per OP_SCHEMAS (fields in range), whether or not the machine
 * accepts it: invalid values (#GP, vmfail, misconfigurations) are deliberate, at low rates. In a
 * trace that built aliasing (src/gen/alias.ts), accesses favour the live entries of table frames
 * seen as data and table rewrites sometimes point at other tables; elsewhere the draws are as
 * they were without aliasing.
 */
import type { HwOp as Op, HwOpName as OpName, Reg } from '../trace/ops.js';
import {
  CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_SMEP, CR4_SMAP, CR4_PKE, CR4_PKS, CTL2_EPT, CTL2_VPID, CTL2_MBEC, CTL2_SPP,
  EFER_LME, EFER_LMA, EFER_NXE, RFLAGS_AC,
  EPT_A, EPT_D, EPT_IPAT, EPT_PS, EPT_XU, EPT_SW11, EPT_MEMTYPE_SHIFT, EPT_MEMTYPE_WB, EPT_SPP_HI, EPT_SVE_HI,
  PTE_P, PTE_RW, PTE_US, PTE_PWT, PTE_PCD, PTE_A, PTE_D, PTE_PS, PTE_G, PTE_XD_HI, PTE_PKEY_SHIFT_HI,
  SPPT_VALID,
} from '../hw/bits.js';
import type { OpWeights } from './weights.js';
import { World, PAGE, LARGE_PAGE, EPT_NONLEAF, GPT_NONLEAF, entry, type GuestPage } from './world.js';
import { spptLeaf } from './setup.js';
import { HOT_PROBABILITY, aliasEptLeafAddr, aliasGuestAddr, entryLikeValue } from './alias.js';

const SUBPAGE = 128;
const DATA_SIZES: readonly number[] = [1, 2, 4, 8];

/** An offset inside the page: uniform, just below a 4 KiB boundary, or just below a 128-byte one. */
function offset(w: World, p: GuestPage, size: number): number {
  const span = p.large ? LARGE_PAGE : PAGE;
  const base = p.large ? w.rng.int(span / PAGE) * PAGE : 0;
  const back = 1 + w.rng.int(Math.max(1, size - 1));
  switch (w.rng.int(4)) {
    case 0: return w.rng.int(span);
    case 1: return (base + PAGE - back) % span; // crosses into the next 4 KiB page when size > back
    case 2: return base + (1 + w.rng.int(PAGE / SUBPAGE - 1)) * SUBPAGE - back; // crosses a sub-page
    default: return base + w.rng.int(PAGE / 8) * 8; // aligned
  }
}

function access(w: World, kind: 'read' | 'write' | 'fetch'): Op {
  const p = w.pickPage();
  const size = kind === 'fetch' ? 1 + w.rng.int(15) : w.rng.pick(DATA_SIZES);
  // A table frame seen as data (src/gen/alias.ts): often one of its live entries. No draw otherwise.
  const hot = p.hot !== undefined && p.hot.length > 0 && w.rng.chance(HOT_PROBABILITY);
  const la = Math.min(p.la + (hot ? w.rng.pick(p.hot!) : offset(w, p, size)), 2 ** 48 - 1);
  const cpu = w.cpu();
  if (kind === 'write') return { op: 'write', cpu, la, size, value: hot && w.rng.chance(0.6) ? entryLikeValue(w) : w.rng.u64() };
  return { op: kind, cpu, la, size };
}

/** Rights bits of a protection-key register: each key independently AD, WD, both or neither. */
function pkr(w: World): bigint {
  let v = 0;
  for (let k = 0; k < 16; k++) v |= w.rng.int(4) << (2 * k);
  return BigInt(v >>> 0);
}

function setReg(w: World): Op {
  const cpu = w.cpu();
  const caps = w.config.caps;
  const pk = w.features.has('pk');
  const regs: Reg[] = ['cr0', 'cr0', 'cr3', 'cr4', 'cr4', 'efer', 'rflags', 'cpl', 'cpl'];
  if (pk && caps.pku) regs.push('pkru', 'pkru');
  if (pk && caps.pks) regs.push('pkrs', 'pkrs');
  const reg = w.rng.pick(regs);
  const bad = w.rng.chance(0.03);
  let value: bigint;
  switch (reg) {
    case 'cr0': {
      let v = CR0_PE | CR0_PG | (w.rng.chance(0.5) ? CR0_WP : 0);
      if (w.rng.chance(0.05)) v &= ~CR0_PG;
      value = bad ? (1n << 32n) | BigInt(v >>> 0) : BigInt(v >>> 0);
      break;
    }
    case 'cr3':
      value = bad ? 1n << 60n : BigInt(w.cr3);
      break;
    case 'cr4': {
      let v = CR4_PAE;
      if (w.rng.chance(0.3)) v |= CR4_PGE;
      if (caps.smep && w.rng.chance(0.4)) v |= CR4_SMEP;
      if (caps.smap && w.rng.chance(0.4)) v |= CR4_SMAP;
      if (pk && caps.pku && w.rng.chance(0.5)) v |= CR4_PKE;
      if (pk && caps.pks && w.rng.chance(0.5)) v |= CR4_PKS;
      value = BigInt((bad ? v | (1 << w.rng.int(32)) : v) >>> 0);
      break;
    }
    case 'efer': {
      const v = EFER_LME | EFER_LMA | (w.rng.chance(0.7) ? EFER_NXE : 0);
      value = BigInt(bad ? v | (1 << 15) : v);
      break;
    }
    case 'rflags':
      value = w.rng.chance(0.5) ? BigInt(RFLAGS_AC) : 0n;
      break;
    case 'cpl':
      value = bad ? 4n : BigInt(w.rng.chance(0.8) ? w.rng.pick([0, 3]) : w.rng.range(1, 2));
      break;
    default: // pkru, pkrs
      value = bad ? 1n << 32n : pkr(w);
  }
  return { op: 'set_reg', cpu, reg, value };
}

/** A reserved address bit (at or above MAXPHYADDR, below 52) in the high half. */
function reservedAddrHi(w: World): number {
  const top = w.config.maxPhyAddr;
  if (top >= 52) return 0;
  return (1 << (w.rng.range(top, 51) - 32)) >>> 0;
}

/** An EPT entry for `page` at `level`, keeping its address but with interesting bits. */
function eptEntry(w: World, p: GuestPage, level: number): bigint {
  const leafLevel = p.large ? 2 : 1;
  const xo = w.features.has('xo');
  let perms = w.rng.int(8);
  if (!xo && (perms & 1) === 0 && (perms & 4) !== 0 && w.rng.chance(0.8)) perms |= 1;
  if (w.rng.chance(0.3)) perms = 7;
  let lo = perms;
  let hi = 0;
  if (w.mbec || xo) lo |= w.rng.chance(0.6) ? EPT_XU : 0;
  if (w.rng.chance(0.2)) lo |= EPT_A;
  if (w.rng.chance(0.1)) lo |= EPT_SW11;
  if (w.rng.chance(0.1)) hi |= EPT_SVE_HI;
  let addr: number;
  if (level === leafLevel) {
    addr = w.rng.chance(0.05) ? w.rng.pick(w.pages).hpa : p.hpa;
    addr = aliasEptLeafAddr(w, level) ?? addr; // draws only in a trace that built aliasing
    const memtype = w.rng.chance(0.8) ? EPT_MEMTYPE_WB : w.rng.chance(0.5) ? 0 : w.rng.int(8);
    lo |= memtype << EPT_MEMTYPE_SHIFT;
    if (w.rng.chance(0.2)) lo |= EPT_IPAT;
    if (w.rng.chance(0.2)) lo |= EPT_D;
    if (level === 2) lo |= w.rng.chance(0.95) ? EPT_PS : 0;
    if (level === 2 && w.rng.chance(0.05)) lo |= 1 << (12 + w.rng.int(9)); // 2 MiB alignment bit
    if (level === 1 && w.features.has('spp') && w.rng.chance(p.spp ? 0.8 : 0.2)) hi |= EPT_SPP_HI;
  } else {
    addr = w.eptTable(level - 1, p.gpa) ?? p.hpa;
    lo = (lo & ~7) | (w.rng.chance(0.6) ? EPT_NONLEAF & 7 : perms);
    if (w.rng.chance(0.05)) lo |= 1 << (3 + w.rng.int(5)); // reserved bits 7:3 / 6:3
  }
  if (w.rng.chance(0.04)) hi |= reservedAddrHi(w);
  return entry(addr, lo, hi);
}

function eptSet(w: World): Op {
  const p = w.pickPage();
  const leafLevel = p.large ? 2 : 1;
  const level = w.rng.chance(0.8) ? leafLevel : w.rng.range(leafLevel + 1, 4);
  return { op: 'ept_set', cpu: w.cpu(), gpa: p.gpa, level, entry: eptEntry(w, p, level) };
}

function gptEntry(w: World, p: GuestPage, level: number): bigint {
  const leafLevel = p.large ? 2 : 1;
  let lo = w.rng.chance(0.92) ? PTE_P : 0;
  if (w.rng.chance(0.7)) lo |= PTE_RW;
  if (w.rng.chance(0.6)) lo |= PTE_US;
  if (w.rng.chance(0.4)) lo |= PTE_A;
  if (w.rng.chance(0.1)) lo |= PTE_PWT | PTE_PCD;
  let hi = 0;
  if (w.rng.chance(0.2)) hi |= PTE_XD_HI;
  let addr: number;
  if (level === leafLevel) {
    addr = w.rng.chance(0.05) ? w.rng.pick(w.pages).gpa : p.gpa;
    addr = aliasGuestAddr(w, level, true) ?? addr; // draws only in a trace that built aliasing
    if (w.rng.chance(0.3)) lo |= PTE_D;
    if (w.rng.chance(0.2)) lo |= PTE_G;
    if (level === 2) lo |= PTE_PS;
    if (level === 2 && w.rng.chance(0.05)) lo |= 1 << (13 + w.rng.int(8)); // 2 MiB alignment bit
    if (w.features.has('pk') && w.rng.chance(0.6)) hi |= w.rng.int(16) << PTE_PKEY_SHIFT_HI;
  } else {
    addr = aliasGuestAddr(w, level, false) ?? w.guestTable(level - 1, p.la) ?? p.gpa;
    if (w.rng.chance(0.6)) lo |= GPT_NONLEAF;
    if (level >= 3 && w.rng.chance(0.03)) lo |= PTE_PS;
  }
  if (w.rng.chance(0.04)) hi |= reservedAddrHi(w);
  return entry(addr, lo, hi);
}

function gptSet(w: World): Op {
  const p = w.pickPage();
  const leafLevel = p.large ? 2 : 1;
  const level = w.rng.chance(0.8) ? leafLevel : w.rng.range(leafLevel + 1, 4);
  return { op: 'gpt_set', cpu: w.cpu(), la: p.la, level, entry: gptEntry(w, p, level) };
}

function spptSet(w: World): Op {
  const spp = w.pages.filter((p) => p.spp);
  const p = spp.length > 0 && w.rng.chance(0.8) ? w.rng.pick(spp) : w.pickPage();
  const level = w.rng.chance(0.85) ? 1 : w.rng.range(2, 4);
  let value: bigint;
  if (level === 1) {
    value = spptLeaf(w);
    if (w.rng.chance(0.05)) value |= 1n << BigInt(2 * w.rng.int(32) + 1); // reserved odd bit
  } else {
    const table = w.spptTable(level - 1, p.gpa);
    value = table === undefined ? 0n : entry(table, w.rng.chance(0.8) ? SPPT_VALID : 0);
    if (w.rng.chance(0.1)) value |= 1n << BigInt(1 + w.rng.int(11));
  }
  return { op: 'sppt_set', cpu: w.cpu(), gpa: p.gpa, level, entry: value };
}

function invvpid(w: World): Op {
  const cpu = w.cpu();
  const type = w.rng.chance(0.95) ? w.rng.int(4) : w.rng.range(4, 15);
  const vpid = w.rng.chance(0.9) ? w.rng.range(1, w.config.vcpus) : w.rng.int(4);
  let la = BigInt(w.pickPage().la);
  if (la >= 2n ** 47n) la |= 0xffffn << 48n; // canonical form of a kernel-half address
  if (w.rng.chance(0.03)) la = 1n << 50n; // non-canonical
  return { op: 'invvpid', cpu, type, vpid, la };
}

function invept(w: World): Op {
  const cpu = w.cpu();
  const type = w.rng.chance(0.95) ? w.rng.range(1, 2) : w.rng.pick([0, 3, 7]);
  const eptp = w.rng.chance(0.9) ? w.eptp[cpu] : w.rng.u64() & ~0xfffn;
  return { op: 'invept', cpu, type, eptp };
}

function setEptp(w: World): Op {
  const cpu = w.cpu();
  let value = 0x1en | (w.config.caps.eptAD && w.rng.chance(0.6) ? 0x40n : 0n);
  if (w.rng.chance(0.1)) value = w.rng.pick([0x100n, 0x16n, 0x18n, 0x9en, 1n << BigInt(w.config.maxPhyAddr)]) | value;
  else w.eptp[cpu] = value;
  return { op: 'set_eptp', cpu, value };
}

function setCtls2(w: World): Op {
  const caps = w.config.caps;
  let v = CTL2_EPT | CTL2_VPID;
  if ((w.features.has('xo') && caps.mbec && w.rng.chance(0.5))) v |= CTL2_MBEC;
  if ((w.features.has('spp') && caps.spp && w.rng.chance(0.7))) v |= CTL2_SPP;
  if (w.rng.chance(0.05)) v &= ~(w.rng.chance(0.5) ? CTL2_EPT : CTL2_VPID);
  const cpu = w.cpu();
  return { op: 'set_ctls2', cpu, value: v >>> 0 };
}

function physWrite(w: World): Op {
  const table = w.rng.chance(0.6);
  const hpa = table ? w.rng.pick(w.tableFrames) + 8 * w.rng.int(512) : w.pickPage().hpa + w.rng.int(PAGE - 8);
  const size = table ? 8 : w.rng.pick(DATA_SIZES);
  const mask = size === 8 ? (1n << 64n) - 1n : (1n << BigInt(8 * size)) - 1n;
  const value = table ? entry(w.rng.pick(w.pages).hpa, w.rng.int(0x1000)) : w.rng.u64() & mask;
  return { op: 'phys_write', hpa, size, value };
}

function physRead(w: World): Op {
  const hpa = w.rng.chance(0.5) ? w.rng.pick(w.tableFrames) + 8 * w.rng.int(512) : w.pickPage().hpa + w.rng.int(PAGE - 8);
  return { op: 'phys_read', hpa, size: w.rng.pick(DATA_SIZES) };
}


export const OP_KINDS: readonly OpName[] = [
  'read', 'write', 'fetch', 'set_reg', 'invlpg', 'invvpid', 'invept', 'set_eptp', 'set_spptp',
  'set_ctls2', 'phys_write', 'phys_read', 'ept_set', 'gpt_set', 'sppt_set',
];

/** One workload op of the given kind. */
export function opOfKind(w: World, kind: OpName): Op {
  switch (kind) {
    case 'read': case 'write': case 'fetch': return access(w, kind);
    case 'set_reg': return setReg(w);
    case 'invlpg': return { op: 'invlpg', cpu: w.cpu(), la: w.pickPage().la + w.rng.int(PAGE) };
    case 'invvpid': return invvpid(w);
    case 'invept': return invept(w);
    case 'set_eptp': return setEptp(w);
    case 'set_spptp': return { op: 'set_spptp', cpu: w.cpu(), value: w.rng.chance(0.9) ? 0x1000n : 0x1008n };
    case 'set_ctls2': return setCtls2(w);
    case 'phys_write': return physWrite(w);
    case 'phys_read': return physRead(w);
    case 'ept_set': return eptSet(w);
    case 'gpt_set': return gptSet(w);
    case 'sppt_set': return spptSet(w);
  }
}

/** Weight table in OP_KINDS order, for Rng.weighted. */
export function weightList(weights: OpWeights): number[] {
  return OP_KINDS.map((k) => weights[k]);
}

/** One workload op chosen by weight. */
export function workloadOp(w: World, weightsInOrder: readonly number[]): Op {
  return opOfKind(w, OP_KINDS[w.rng.weighted(weightsInOrder)]);
}
