/**
 * Builds one access.c-style case as a trace: a fixed EPT identity map, a 4-level guest walk whose
 * PML4E/PDPTE/PDE/PTE carry the case's flags, the case's registers, then one access (or two, for
 * `twice`). Contract: the layout is fixed, so every case differs only in the bits under test;
 * the EPT grants RWX (no EPT exit can happen) so only guest-paging rules decide the outcome.
 */
import { normalizeConfig, type MachineConfig } from '../../src/hw/config.js';
import type { Op, Reg } from '../../src/trace/ops.js';
import type { Trace } from '../../src/trace/trace.js';
import { SCHEMA_VERSION } from '../../src/trace/trace.js';

export const LA = 0x40_0000; //            PML4[0] -> PDPT[0] -> PD[2] -> PT[0]
export const LA_LARGE = 0x60_0000; //      PD[3]: a 2 MiB leaf when pde.pse
const CR3 = 0x1_0000;
const PDPT = 0x1_1000;
const PD = 0x1_2000;
const PT = 0x1_3000;
const DATA = 0x1_4000;
const DATA_LARGE = 0x20_0000;

export interface PagingCase {
  pte: { p: boolean; rw: boolean; us: boolean; a: boolean; d: boolean; nx: boolean; rsvdBit: number; pkey: number };
  pde: { p: boolean; rw: boolean; us: boolean; a: boolean; pse: boolean; nx: boolean; rsvdBit: number; pkey: number };
  pdpteRo: boolean;
  cr0Wp: boolean;
  eferNx: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
  pke: boolean;
  pks: boolean;
  pkru: number;
  pkrs: number;
  cpl: number;
  access: 'read' | 'write' | 'fetch';
  twice: boolean;
}

const bit = (n: number): bigint => 1n << BigInt(n);

function flags(e: { p: boolean; rw: boolean; us: boolean; a: boolean; nx: boolean; rsvdBit: number; pkey: number }): bigint {
  let v = 0n;
  if (e.p) v |= 1n;
  if (e.rw) v |= 2n;
  if (e.us) v |= 4n;
  if (e.a) v |= 0x20n;
  if (e.nx) v |= bit(63);
  if (e.rsvdBit > 0) v |= bit(e.rsvdBit);
  v |= BigInt(e.pkey) << 59n;
  return v;
}

export function pagingCaseTrace(c: PagingCase, config: MachineConfig = normalizeConfig({ maxPhyAddr: 36 })): Trace {
  const ops: Op[] = [];
  const reg = (r: Reg, value: number | bigint) => ops.push({ op: 'set_reg', cpu: 0, reg: r, value: BigInt(value) });
  // EPT: PML4 (HPA 0) -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000, 4 KiB identity leaves RWX WB;
  // PD[1] is a 2 MiB identity leaf for the large data page.
  ops.push({ op: 'ept_set', cpu: 0, gpa: 0, level: 4, entry: 0x2007n });
  ops.push({ op: 'ept_set', cpu: 0, gpa: 0, level: 3, entry: 0x3007n });
  ops.push({ op: 'ept_set', cpu: 0, gpa: 0, level: 2, entry: 0x4007n });
  ops.push({ op: 'ept_set', cpu: 0, gpa: DATA_LARGE, level: 2, entry: BigInt(DATA_LARGE) | 0xb7n });
  for (const gpa of [CR3, PDPT, PD, PT, DATA]) ops.push({ op: 'ept_set', cpu: 0, gpa, level: 1, entry: BigInt(gpa) | 0x37n });
  reg('cr3', CR3);
  const la = c.pde.pse ? LA_LARGE : LA;
  ops.push({ op: 'gpt_set', cpu: 0, la, level: 4, entry: BigInt(PDPT) | 0x27n });
  ops.push({ op: 'gpt_set', cpu: 0, la, level: 3, entry: BigInt(PD) | (c.pdpteRo ? 0x25n : 0x27n) });
  if (c.pde.pse) {
    ops.push({ op: 'gpt_set', cpu: 0, la, level: 2, entry: BigInt(DATA_LARGE) | 0x80n | (c.pte.d ? 0x40n : 0n) | flags(c.pde) });
  } else {
    ops.push({ op: 'gpt_set', cpu: 0, la, level: 2, entry: BigInt(PT) | flags(c.pde) });
    ops.push({ op: 'gpt_set', cpu: 0, la, level: 1, entry: BigInt(DATA) | (c.pte.d ? 0x40n : 0n) | flags(c.pte) });
  }
  reg('efer', 0x500 | (c.eferNx ? 0x800 : 0));
  reg('cr4', (0x20 | (c.smep ? 1 << 20 : 0) | (c.smap ? 1 << 21 : 0) | (c.pke ? 1 << 22 : 0) | (c.pks ? 1 << 24 : 0)) >>> 0);
  reg('cr0', (0x80000001 | (c.cr0Wp ? 0x10000 : 0)) >>> 0);
  reg('pkru', c.pkru);
  reg('pkrs', c.pkrs);
  reg('rflags', c.ac ? 1 << 18 : 0);
  reg('cpl', c.cpl);
  const access: Op = c.access === 'write'
    ? { op: 'write', cpu: 0, la: la + 0x10, size: 4, value: 0xdeadbeefn }
    : { op: c.access, cpu: 0, la: la + 0x10, size: 4 };
  ops.push(access);
  if (c.twice) ops.push(access);
  return { schema: SCHEMA_VERSION, eptfuzz: 'test', machine: config, ops };
}
