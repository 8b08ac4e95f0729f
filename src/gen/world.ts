/**
 * The generator's picture of the machine it is building: which host frames hold EPT and SPPT
 * tables, where guest tables live, and which guest pages are mapped where.
 * Contract: bookkeeping only (the machine is never consulted, so generation stays independent of
 * the code under test); it records what setup built, and workload rewrites do not update it: a
 * rewritten entry is still "in play" at the same addresses, which is what the bias wants.
 * Aliasing (src/gen/alias.ts) is recorded the same way: a guest table that is really another
 * table's frame is entered in `guestTables` under the GPA the guest reaches it by, and each
 * construct is listed in `aliases`.
 */
import type { MachineConfig } from '../hw/config.js';
import type { Op } from '../trace/ops.js';
import { EPT_R, EPT_W, EPT_X, EPT_XU, EPT_PS, EPT_MEMTYPE_WB, EPT_MEMTYPE_SHIFT, PTE_P, PTE_RW, PTE_US, PTE_PS, SPPT_VALID } from '../hw/bits.js';
import type { Rng } from './rng.js';
import type { Feature } from './features.js';

export const PAGE = 0x1000;
export const LARGE_PAGE = 0x20_0000;

/** Fixed by the machine's reset state: EPTP root at HPA 0, SPPTP at 0x1000 (docs/semantics.md). */
export const EPT_ROOT_HPA = 0;
export const SPPT_ROOT_HPA = 0x1000;
/** EPT and SPPT tables: host frames from here upward (below DATA_HPA_BASE). */
export const TABLE_HPA_BASE = 0x2000;
/**
 * Guest page tables: one 2 MiB block of guest-physical memory from GPA 0, mapped by a single 2 MiB
 * EPT leaf (RWX, WB) to the 2 MiB host block at GUEST_TABLE_HPA_BASE (table g at HPA base + g).
 * The guest PML4 is the block's first page, GPA 0, which is CR3's reset value: a trace needs no
 * set_reg for CR3, and a minimal repro needs three EPT ops for every guest table it uses.
 */
export const GUEST_TABLE_GPA_BASE = 0;
export const GUEST_TABLE_HPA_BASE = 0x100_0000;
/** Guest tables the block holds. */
export const GUEST_TABLES_MAX = 512;
/** Host frames backing guest data pages (above the guest-table block). */
export const DATA_HPA_BASE = GUEST_TABLE_HPA_BASE + 0x20_0000;
/**
 * Guest-physical regions of 4 KiB and 2 MiB data pages: inside the first GiB, so that they share
 * the guest-table block's EPT PDPT and PD (a 4 KiB page needs an EPT PT entry and its leaf, a
 * 2 MiB page only its leaf).
 */
export const DATA_GPA_BASE = 0x40_0000;
export const LARGE_GPA_BASE = 0x2000_0000;
/** Linear regions the guest maps: low user, high user, kernel half (bit 47 set). */
export const LA_BASES: readonly number[] = [0x40_0000, 0x7f12_3400_0000, 0x8000_0000_0000];

export interface GuestPage {
  la: number;
  gpa: number;
  hpa: number;
  /** 2 MiB (EPT PDE leaf and guest PDE leaf) instead of 4 KiB. */
  large: boolean;
  /** The EPT leaf has the SPP bit and an SPPT path exists for `gpa`. */
  spp: boolean;
  /**
   * The page is a table frame seen as data (src/gen/alias.ts): byte offsets of the entries in
   * play in it (the ones on the paths of other pages), which accesses favour. Absent otherwise.
   */
  hot?: number[];
}

/**
 * Aliasing the generator built (src/gen/alias.ts):
 * - `gpt-on-ept`: a guest paging-structure table is an EPT table frame (guest A/D land in EPT entries);
 * - `gpt-leaf-on-table`: a guest leaf maps a guest or EPT table frame (a data write rewrites an entry);
 * - `ept-leaf-on-table`: an EPT leaf maps an EPT or SPPT table frame to a GPA the guest uses;
 * - `gpt-self`: a guest non-leaf entry points at the table holding it or one above it on the
 *   same path (a PML4 entry pointing at the PML4 is the common case).
 */
export type AliasKind = 'gpt-on-ept' | 'gpt-leaf-on-table' | 'ept-leaf-on-table' | 'gpt-self';
export const ALIAS_KINDS: readonly AliasKind[] = ['gpt-on-ept', 'gpt-leaf-on-table', 'ept-leaf-on-table', 'gpt-self'];

export interface AliasRecord {
  kind: AliasKind;
  /** The linear address that reaches the alias. */
  la: number;
  /** The GPA the aliased frame is reached by, and the frame. */
  gpa: number;
  hpa: number;
}

/** The non-leaf EPT entry the generator uses: RWX (and XU, ignored without MBEC). */
export const EPT_NONLEAF = EPT_R | EPT_W | EPT_X | EPT_XU;
/** A plain writable WB leaf. */
export const EPT_LEAF_RWX = EPT_R | EPT_W | EPT_X | EPT_XU | (EPT_MEMTYPE_WB << EPT_MEMTYPE_SHIFT);
export const GPT_NONLEAF = PTE_P | PTE_RW | PTE_US;

export function entry(addr: number, lo: number, hi = 0): bigint {
  return BigInt(addr) | BigInt(lo >>> 0) | (BigInt(hi >>> 0) << 32n);
}

/** Key of the table at `level` covering `addr` (level 4 = root; index bits above that table). */
export function tableKey(level: number, addr: number): string {
  return `${level}:${Math.floor(addr / 2 ** (12 + 9 * level))}`;
}

export class World {
  readonly ops: Op[] = [];
  readonly pages: GuestPage[] = [];
  /** Recently used pages, most recent last: the bias toward what is already in play. */
  readonly recent: GuestPage[] = [];
  readonly eptTables = new Map<string, number>();
  readonly spptTables = new Map<string, number>();
  /** Guest tables: key → GPA of the table (HPA in guestTableHpa). */
  readonly guestTables = new Map<string, number>();
  readonly guestTableHpa = new Map<number, number>();
  /** HPAs of every table frame (EPT, SPPT, guest), for raw phys_write targets. */
  readonly tableFrames: number[] = [EPT_ROOT_HPA];
  /** Aliasing constructs setup built (src/gen/alias.ts); empty in most traces. */
  readonly aliases: AliasRecord[] = [];
  readonly eptp: bigint[];
  cr3 = 0;
  mbec = false;
  sppOn = false;
  private tableNext = TABLE_HPA_BASE;
  private dataNext = DATA_HPA_BASE;
  private guestTableNext = GUEST_TABLE_GPA_BASE;
  private dataGpaNext = DATA_GPA_BASE;
  private largeGpaNext = LARGE_GPA_BASE;

  constructor(readonly config: MachineConfig, readonly features: ReadonlySet<Feature>, readonly rng: Rng) {
    const eptp = 0x1en | (config.caps.eptAD ? 0x40n : 0n);
    this.eptp = Array.from({ length: config.vcpus }, () => eptp);
    this.eptTables.set(tableKey(4, 0), EPT_ROOT_HPA);
    this.spptTables.set(tableKey(4, 0), SPPT_ROOT_HPA);
  }

  cpu(): number {
    return this.config.vcpus > 1 && this.rng.chance(0.3) ? this.rng.int(this.config.vcpus) : 0;
  }

  allocTable(): number {
    const hpa = this.tableNext;
    this.tableNext += PAGE;
    this.tableFrames.push(hpa);
    return hpa;
  }

  allocData(bytes: number): number {
    this.dataNext = Math.ceil(this.dataNext / bytes) * bytes;
    const hpa = this.dataNext;
    this.dataNext += bytes;
    return hpa;
  }

  allocDataGpa(large: boolean): number {
    if (large) {
      const gpa = this.largeGpaNext;
      this.largeGpaNext += LARGE_PAGE * (1 + this.rng.int(3));
      return gpa;
    }
    // Sparse: a stride of 1..64 pages spreads pages over several EPT page tables.
    const gpa = this.dataGpaNext;
    this.dataGpaNext += PAGE * (1 + (this.rng.chance(0.3) ? this.rng.int(512) : this.rng.int(4)));
    return gpa;
  }

  /** Builds the EPT path to `gpa` down to `leafLevel` + 1 and writes the leaf. */
  mapEpt(gpa: number, leafLevel: 1 | 2, leaf: bigint): void {
    for (let level = 4; level > leafLevel; level--) {
      const key = tableKey(level - 1, gpa);
      if (this.eptTables.has(key)) continue;
      const hpa = this.allocTable();
      this.eptTables.set(key, hpa);
      this.ops.push({ op: 'ept_set', cpu: this.cpu(), gpa, level, entry: entry(hpa, EPT_NONLEAF) });
    }
    this.ops.push({ op: 'ept_set', cpu: this.cpu(), gpa, level: leafLevel, entry: leaf });
  }

  /** Host address of the EPT table at `level` on the path of `gpa`, if setup built it. */
  eptTable(level: number, gpa: number): number | undefined {
    return this.eptTables.get(tableKey(level, gpa));
  }

  spptTable(level: number, gpa: number): number | undefined {
    return this.spptTables.get(tableKey(level, gpa));
  }

  guestTable(level: number, la: number): number | undefined {
    return this.guestTables.get(tableKey(level, la));
  }

  /** A new guest table page: the next page of the guest-table block (already EPT-mapped). */
  newGuestTable(): number {
    const gpa = this.guestTableNext;
    if (gpa >= GUEST_TABLE_GPA_BASE + GUEST_TABLES_MAX * PAGE) throw new Error('guest-table block full');
    this.guestTableNext += PAGE;
    const hpa = GUEST_TABLE_HPA_BASE + (gpa - GUEST_TABLE_GPA_BASE);
    this.guestTableHpa.set(gpa, hpa);
    this.tableFrames.push(hpa);
    return gpa;
  }

  /**
   * Maps the guest-table block (one 2 MiB EPT leaf) and makes its first page the guest PML4. CR3
   * of every vCPU already holds it (reset value 0): no set_reg is written.
   */
  initGuestRoot(): void {
    this.mapEpt(GUEST_TABLE_GPA_BASE, 2, entry(GUEST_TABLE_HPA_BASE, EPT_LEAF_RWX | EPT_PS));
    this.cr3 = this.newGuestTable();
    this.guestTables.set(tableKey(4, 0), this.cr3);
  }

  /** Builds the guest path to `la` and writes the leaf (PTE or 2 MiB PDE). */
  mapGuest(la: number, leafLevel: 1 | 2, leaf: bigint): void {
    this.mapGuestEntry(la, leafLevel, leaf);
  }

  /** Builds the guest path to `la` down to the table at `level` and writes `e` there (any level 1..4). */
  mapGuestEntry(la: number, level: number, e: bigint): void {
    for (let l = 4; l > level; l--) {
      const key = tableKey(l - 1, la);
      if (this.guestTables.has(key)) continue;
      const gpa = this.newGuestTable();
      this.guestTables.set(key, gpa);
      this.ops.push({ op: 'gpt_set', cpu: this.cpu(), la, level: l, entry: entry(gpa, GPT_NONLEAF) });
    }
    this.ops.push({ op: 'gpt_set', cpu: this.cpu(), la, level, entry: e });
  }

  /**
   * Whether the guest entry at `level` on the path of `la` is in use by what the world built: it
   * points at a recorded table, or is (level 2) a large page's leaf, or (level 1) a page's PTE.
   */
  guestEntryUsed(level: number, la: number): boolean {
    if (level > 1 && this.guestTables.has(tableKey(level - 1, la))) return true;
    const span = 2 ** (12 + 9 * (level - 1));
    const slot = Math.floor(la / span);
    return this.pages.some((p) => (p.large ? level === 2 : level === 1) && Math.floor(p.la / span) === slot);
  }

  /** Builds the SPPT path to `gpa` and writes the leaf. */
  mapSppt(gpa: number, leaf: bigint): void {
    for (let level = 4; level > 1; level--) {
      const key = tableKey(level - 1, gpa);
      if (this.spptTables.has(key)) continue;
      const hpa = this.allocTable();
      this.spptTables.set(key, hpa);
      this.ops.push({ op: 'sppt_set', cpu: this.cpu(), gpa, level, entry: entry(hpa, SPPT_VALID) });
    }
    this.ops.push({ op: 'sppt_set', cpu: this.cpu(), gpa, level: 1, entry: leaf });
  }

  addPage(p: GuestPage): void {
    this.pages.push(p);
    this.touch(p);
  }

  /** Marks a page as recently used (bounded list). */
  touch(p: GuestPage): void {
    const i = this.recent.indexOf(p);
    if (i >= 0) this.recent.splice(i, 1);
    this.recent.push(p);
    if (this.recent.length > RECENT_MAX) this.recent.shift();
  }

  /** A page in play: usually a recent one, else any. */
  pickPage(): GuestPage {
    const p = this.recent.length > 0 && this.rng.chance(0.7) ? this.rng.pick(this.recent) : this.rng.pick(this.pages);
    this.touch(p);
    return p;
  }
}

/** Recent pages kept for the bias: a handful, so that ops cluster the way real bugs need. */
export const RECENT_MAX = 6;

export const EPT_LARGE_FLAG = EPT_PS;
export const GPT_LARGE_FLAG = PTE_PS;
