/**
 * Scenario builder: emits the ops (set_eptp, ept_set, gpt_set, sppt_set, set_reg, ...) that
 * build EPT, guest paging and SPPT tables from an empty machine, then the accesses under test.
 * Contract: produces plain op lists only (no model or machine inside), so every vector runs on
 * the reference model and on the machine alike. It mirrors which tables it allocated so that
 * upper levels are shared and can be rewritten (e.g. the permission under test at one level).
 *
 * Layout (host-physical = guest-physical for tables): EPT root 0x100000, EPT tables from
 * 0x101000; guest PML4/PDPT/PD pages from 0x200000; guest page-table (level-1) pages from
 * 0x600000 (their own 2 MiB EPT region); SPPT root 0x1000, SPPT tables from 0x700000; data
 * frames from 0x800000. Data GPAs live at 512 GiB (their own EPT PML4 slot).
 */
import { EPT_PS, EPT_XU, PTE_A, PTE_P, PTE_PS, PTE_RW, PTE_US } from '../../src/hw/bits.js';
import type { Op, Reg } from '../../src/trace/ops.js';

export const LAYOUT = {
  eptRoot: 0x100000,
  eptPool: 0x101000,
  guestPool: 0x200000,
  ptPool: 0x600000,
  spptRoot: 0x1000,
  spptPool: 0x700000,
  dataPool: 0x800000,
  /** A data GPA in its own EPT PML4 slot (512 GiB). */
  dataGpa: 0x80_0000_0000,
  /** A linear address with a distinct index at every level. */
  dataLa: 0x7f12_3456_7000,
} as const;

export const EPT_RWX = 7n;
export const EPT_WB = 6n << 3n;
export const G_UPPER = BigInt(PTE_P | PTE_RW | PTE_US | PTE_A);

export interface BuilderOptions {
  cpu?: number;
  /** Secondary control MBEC (bit 22). */
  mbec?: boolean;
  /** Secondary control SPP (bit 23). */
  spp?: boolean;
  /** EPTP bit 6 (default true, as the default configuration's caps.eptAD). */
  eptAD?: boolean;
}

const span = (level: number): number => 2 ** (12 + 9 * (level - 1));
const region = (a: number, level: number): number => Math.floor(a / span(level + 1));

export class ScenarioBuilder {
  readonly ops: Op[] = [];
  readonly cpu: number;
  readonly mbec: boolean;
  private nextEpt: number = LAYOUT.eptPool;
  private nextGuest: number = LAYOUT.guestPool;
  private nextPt: number = LAYOUT.ptPool;
  private nextSppt: number = LAYOUT.spptPool;
  private nextData: number = LAYOUT.dataPool;
  /** `${level}:${region}` -> address of the level-`level` table covering that region. */
  private readonly ept = new Map<string, number>([['4:0', LAYOUT.eptRoot]]);
  private readonly guest = new Map<string, number>();
  private readonly sppt = new Map<string, number>([['4:0', LAYOUT.spptRoot]]);

  constructor(opts: BuilderOptions = {}) {
    this.cpu = opts.cpu ?? 0;
    this.mbec = opts.mbec ?? false;
    const ctls2 = 0x22 | (this.mbec ? 1 << 22 : 0) | (opts.spp ? 1 << 23 : 0);
    if (ctls2 !== 0x22) this.ops.push({ op: 'set_ctls2', cpu: this.cpu, value: ctls2 });
    this.ops.push({ op: 'set_eptp', cpu: this.cpu, value: BigInt(LAYOUT.eptRoot) | 0x1en | ((opts.eptAD ?? true) ? 0x40n : 0n) });
    if (opts.spp) this.ops.push({ op: 'set_spptp', cpu: this.cpu, value: BigInt(LAYOUT.spptRoot) });
  }

  /** Full EPT rights: RWX, plus XU with MBEC. */
  get full(): bigint {
    return EPT_RWX | (this.mbec ? BigInt(EPT_XU) : 0n);
  }

  /** A fresh 4 KiB data frame (host-physical). */
  dataFrame(): number {
    const f = this.nextData;
    this.nextData += 0x1000;
    return f;
  }

  // ---- EPT ------------------------------------------------------------------------------------

  /** Makes the level-`level` EPT table on the path of `gpa` exist (upper entries get full rights). */
  private eptTable(gpa: number, level: number): number {
    for (let l = 4; l > level; l--) {
      const key = `${l - 1}:${region(gpa, l - 1)}`;
      if (!this.ept.has(key)) {
        const t = this.nextEpt;
        this.nextEpt += 0x1000;
        this.ept.set(key, t);
        this.ops.push({ op: 'ept_set', cpu: this.cpu, gpa, level: l, entry: BigInt(t) | this.full });
      }
    }
    return this.ept.get(`${level}:${region(gpa, level)}`)!;
  }

  /** Maps `gpa` to `hpa` with a leaf at `level` (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB). `extra` is ORed in (e.g. bit 61). */
  eptMap(gpa: number, hpa: number, perms: bigint, level = 1, extra = 0n, memtype = EPT_WB): this {
    this.eptTable(gpa, level);
    const ps = level > 1 ? BigInt(EPT_PS) : 0n;
    this.ops.push({ op: 'ept_set', cpu: this.cpu, gpa, level, entry: BigInt(hpa) | perms | memtype | ps | extra });
    return this;
  }

  /** Rewrites the non-leaf EPT entry at `level` (> leaf) on the path of `gpa` with `perms` (and `extra`). */
  eptUpper(gpa: number, level: number, perms: bigint, extra = 0n): this {
    const child = this.ept.get(`${level - 1}:${region(gpa, level - 1)}`);
    if (child === undefined) throw new Error(`no EPT table below level ${level}`);
    this.ops.push({ op: 'ept_set', cpu: this.cpu, gpa, level, entry: BigInt(child) | perms | extra });
    return this;
  }

  /** Host-physical address of the EPT entry at `level` on the path of `gpa` (after eptMap). */
  eptEntryHpa(gpa: number, level: number): number {
    const t = this.ept.get(`${level}:${region(gpa, level)}`);
    if (t === undefined) throw new Error(`no EPT table at level ${level}`);
    return t + (Math.floor(gpa / span(level)) % 512) * 8;
  }

  /** Raw EPT entry write. */
  eptRaw(gpa: number, level: number, entry: bigint): this {
    this.ops.push({ op: 'ept_set', cpu: this.cpu, gpa, level, entry });
    return this;
  }

  // ---- guest paging -----------------------------------------------------------------------------

  private guestTable(la: number, level: number, upper: bigint): number {
    if (!this.guest.has('4:0')) {
      const root = this.allocGuest(4);
      this.guest.set('4:0', root);
      this.ops.push({ op: 'set_reg', cpu: this.cpu, reg: 'cr3', value: BigInt(root) });
    }
    for (let l = 4; l > level; l--) {
      const key = `${l - 1}:${region(la, l - 1)}`;
      if (!this.guest.has(key)) {
        const t = this.allocGuest(l - 1);
        this.guest.set(key, t);
        this.ops.push({ op: 'gpt_set', cpu: this.cpu, la, level: l, entry: BigInt(t) | upper });
      }
    }
    return this.guest.get(`${level}:${region(la, level)}`)!;
  }

  private allocGuest(level: number): number {
    let t: number;
    if (level === 1) {
      t = this.nextPt;
      this.nextPt += 0x1000;
    } else {
      t = this.nextGuest;
      this.nextGuest += 0x1000;
    }
    this.eptMap(t, t, this.full); // guest tables: identity, full rights
    return t;
  }

  /** Maps `la` to `gpa` with a guest leaf at `level`; `flags` are the leaf's bits (P, RW, US, A, D, XD, key...). */
  guestMap(la: number, gpa: number, flags: bigint, level = 1, upper = G_UPPER): this {
    this.guestTable(la, level, upper);
    const ps = level > 1 ? BigInt(PTE_PS) : 0n;
    this.ops.push({ op: 'gpt_set', cpu: this.cpu, la, level, entry: BigInt(gpa) | flags | ps });
    return this;
  }

  /** Rewrites the non-leaf guest entry at `level` on the path of `la` with `flags`. */
  guestUpper(la: number, level: number, flags: bigint): this {
    const child = this.guest.get(`${level - 1}:${region(la, level - 1)}`);
    if (child === undefined) throw new Error(`no guest table below level ${level}`);
    this.ops.push({ op: 'gpt_set', cpu: this.cpu, la, level, entry: BigInt(child) | flags });
    return this;
  }

  /** Raw guest entry write. */
  guestRaw(la: number, level: number, entry: bigint): this {
    this.ops.push({ op: 'gpt_set', cpu: this.cpu, la, level, entry });
    return this;
  }

  /** GPA of the guest table page at `level` on the path of `la` (after guestMap). */
  guestTableGpa(la: number, level: number): number {
    const t = this.guest.get(`${level}:${region(la, level)}`);
    if (t === undefined) throw new Error(`no guest table at level ${level}`);
    return t;
  }

  /** GPA of the guest entry at `level` on the path of `la`. */
  guestEntryGpa(la: number, level: number): number {
    return this.guestTableGpa(la, level) + (Math.floor(la / span(level)) % 512) * 8;
  }

  // ---- SPPT ---------------------------------------------------------------------------------------

  /** Writes the SPPT leaf (L1E) of `gpa`, building valid upper entries as needed. */
  spptLeaf(gpa: number, leaf: bigint): this {
    for (let l = 4; l > 1; l--) {
      const key = `${l - 1}:${region(gpa, l - 1)}`;
      if (!this.sppt.has(key)) {
        const t = this.nextSppt;
        this.nextSppt += 0x1000;
        this.sppt.set(key, t);
        this.ops.push({ op: 'sppt_set', cpu: this.cpu, gpa, level: l, entry: BigInt(t) | 1n });
      }
    }
    this.ops.push({ op: 'sppt_set', cpu: this.cpu, gpa, level: 1, entry: leaf });
    return this;
  }

  /** Raw SPPT entry write (the upper levels must exist). */
  spptRaw(gpa: number, level: number, entry: bigint): this {
    this.ops.push({ op: 'sppt_set', cpu: this.cpu, gpa, level, entry });
    return this;
  }

  /** Address of the SPPT table at `level` on the path of `gpa` (after spptLeaf). */
  spptTable(gpa: number, level: number): number {
    return this.sppt.get(`${level}:${region(gpa, level)}`)!;
  }

  // ---- registers and accesses -----------------------------------------------------------------------

  reg(reg: Reg, value: bigint | number): this {
    this.ops.push({ op: 'set_reg', cpu: this.cpu, reg, value: BigInt(value) });
    return this;
  }

  read(la: number, size = 8): this {
    this.ops.push({ op: 'read', cpu: this.cpu, la, size });
    return this;
  }

  write(la: number, size: number, value: bigint): this {
    this.ops.push({ op: 'write', cpu: this.cpu, la, size, value });
    return this;
  }

  fetch(la: number, size = 1): this {
    this.ops.push({ op: 'fetch', cpu: this.cpu, la, size });
    return this;
  }

  op(o: Op): this {
    this.ops.push(o);
    return this;
  }
}
