/**
 * One EPT hierarchy the hypervisor builds in emulated memory (host identity map or a guest view).
 * Contract: entries are raw words in `mem` (two 32-bit halves); table pages come from the pool.
 * `find` locates the leaf (or the absent slot) covering a GPA and leaves it in public fields, so
 * lookups allocate nothing. `need(gpa, level)` counts the table pages `install` would allocate,
 * so every caller can refuse with -ENOMEM before it changes anything.
 */
import type { PhysMemory } from '../hw/memory.js';
import { EPT_PS, EPT_R, EPT_W, EPT_X, EPT_XU } from '../hw/bits.js';
import type { PagePool } from './pool.js';
import type { VmCache } from './memcache.js';

const LEVEL_SPAN = [0, 4096, 2 ** 21, 2 ** 30, 2 ** 39];
/**
 * GPAs a 4-level hierarchy translates: bits 47:12 index it (x86-memory-protection.md: the SPPT is
 * "indexed exactly like EPT by GPA bits 47:39, 38:30, 29:21, 20:12"). Lookups refuse anything at or
 * above: taking the index modulo 512 would land 2^48 higher on a real entry (issue 12: a
 * set_mem_attrs at GPA 2^48 + x split and rewrote the leaf of x).
 */
export const EPT_GPA_SPAN = 2 ** 48;
const MEMO_SIZE = 1024; // regions remembered (a power of two): 2 GiB of guest memory without a miss
/**
 * A non-leaf entry: RWX and XU (rights are ANDed over levels, so upper entries grant everything;
 * XU matters under MBEC, where a user-mode fetch needs it at every level, and is ignored without).
 */
const TABLE_RIGHTS = EPT_R | EPT_W | EPT_X | EPT_XU;

/** A present non-leaf entry (a pointer to the next table). */
function isTable(lo: number): boolean {
  return (lo & 7) !== 0 && (lo & EPT_PS) === 0;
}

function tableAddr(lo: number, hi: number): number {
  return ((lo & 0xfffff000) >>> 0) + (hi & 0xfffff) * 2 ** 32;
}

/** Mapping a GPA beyond EPT_GPA_SPAN is a hypervisor bug (its range checks come first), not a guest outcome. */
function checkSpan(gpa: number): void {
  if (!(gpa >= 0 && gpa < EPT_GPA_SPAN)) throw new RangeError(`hv: GPA 0x${gpa.toString(16)} is outside what 4-level EPT translates (bits 47:0)`);
}

export function entryIndex(gpa: number, level: number): number {
  return Math.floor(gpa / LEVEL_SPAN[level]) % 512;
}

export class EptTables {
  readonly root: number; // host frame of the PML4
  /** After `find`: level of the leaf (or of the first absent entry), its address and its halves. */
  level = 0;
  addr = 0;
  lo = 0;
  hi = 0;
  /** Table frames in use (root included), for teardown. */
  readonly tables = new Set<number>();
  /**
   * Direct-mapped memo of 2 MiB regions `find` reached through a page table, and that table's
   * address: a lookup in a remembered region reads one entry instead of four. Forgotten whenever
   * an entry above level 1 may change (install, split, rewrite above level 1, destroy).
   */
  private readonly memoRegion = new Float64Array(MEMO_SIZE).fill(-1);
  private readonly memoTable = new Float64Array(MEMO_SIZE);
  private memoUsed = false;

  private forgetMemo(): void {
    if (!this.memoUsed) return;
    this.memoRegion.fill(-1);
    this.memoUsed = false;
  }

  /**
   * A guest view's memory caches (hv.memcache 'vm'), and whether `install` takes new tables from
   * them (set around a share or donation to the VM, or a memslot fault, with `cache.cpu` naming the
   * vCPU whose cache is used); the root and every other table come from the pool. A table page goes
   * back where it came from (the pool, or the cache of the vCPU it was taken from).
   */
  cache: VmCache | null = null;
  useCache = false;
  /**
   * While a guest access runs under memcache 'vm': the tables `install` adds, as (frame, parent
   * entry address, its old low and high words), flattened, so that an access answered -ENOMEM can
   * take them back (`unlinkTables`) and leave the VM's tables as they were.
   */
  allocLog: number[] | null = null;
  /**
   * Planted ept-walker-stale-pte (set by the hypervisor from config.bugs, src/bugs/catalogue.ts):
   * when a huge leaf replaces a table, the walk goes on from the entry it read before the
   * replacement and frees the detached table a second time.
   */
  staleWalkFree = false;
  /** The array `allocLog` uses (reused: a guest access allocates nothing to keep its log). */
  private readonly logBuf: number[] = [];

  /** Starts an empty `allocLog` (a guest access on a VM). */
  startLog(): void {
    this.logBuf.length = 0;
    this.allocLog = this.logBuf;
  }

  constructor(private readonly mem: PhysMemory, private readonly pool: PagePool, root: number) {
    this.root = root;
    this.tables.add(root);
  }

  private source(): PagePool | VmCache {
    return this.useCache && this.cache !== null ? this.cache : this.pool;
  }

  private releaseFrame(frame: number): void {
    if (this.cache !== null && this.cache.inUse.has(frame)) this.cache.release(frame);
    else this.pool.release(frame);
  }

  static create(mem: PhysMemory, pool: PagePool): EptTables | null {
    const root = pool.alloc();
    return root < 0 ? null : new EptTables(mem, pool, root);
  }

  /**
   * Finds the entry covering `gpa`: a leaf (level 1, or a 2 MiB / 1 GiB leaf) or the first
   * not-present entry (lo = hi = 0 at that level when the table is missing below). True when the
   * entry found is non-zero (a leaf or an annotation). A GPA at or above EPT_GPA_SPAN has no entry
   * (false, with `addr` -1: nothing to rewrite).
   */
  find(gpa: number): boolean {
    if (gpa >= EPT_GPA_SPAN) {
      this.level = 4;
      this.addr = -1;
      this.lo = 0;
      this.hi = 0;
      return false;
    }
    const mem = this.mem;
    const region = Math.floor(gpa / 2 ** 21);
    const slot = region & (MEMO_SIZE - 1);
    if (this.memoRegion[slot] === region) {
      const a = this.memoTable[slot] + entryIndex(gpa, 1) * 8;
      this.level = 1;
      this.addr = a;
      this.lo = mem.read32(a);
      this.hi = mem.read32(a + 4);
      return this.lo !== 0 || this.hi !== 0;
    }
    let table = this.root * 4096;
    for (let level = 4; ; level--) {
      const a = table + entryIndex(gpa, level) * 8;
      const lo = mem.read32(a);
      const hi = mem.read32(a + 4);
      this.level = level;
      this.addr = a;
      this.lo = lo;
      this.hi = hi;
      if (level === 1 || !isTable(lo)) return lo !== 0 || hi !== 0;
      table = tableAddr(lo, hi);
      if (level === 2) {
        this.memoRegion[slot] = region;
        this.memoTable[slot] = table;
        this.memoUsed = true;
      }
    }
  }

  /** Table pages `install(gpa, level)` would allocate. */
  need(gpa: number, level: number): number {
    checkSpan(gpa);
    const mem = this.mem;
    let table = this.root * 4096;
    for (let l = 4; l > level; l--) {
      const a = table + entryIndex(gpa, l) * 8;
      const lo = mem.read32(a);
      if (!isTable(lo)) return l - level; // missing, or a huge leaf to split into a table
      table = tableAddr(lo, mem.read32(a + 4));
    }
    return 0;
  }

  /**
   * Writes the entry at `level` on the path of `gpa`, creating missing tables (and splitting a
   * huge leaf in the way, children inheriting its bits). False (nothing allocated) when the pool
   * is short.
   */
  install(gpa: number, level: number, lo: number, hi: number): boolean {
    const src = this.source();
    if (this.need(gpa, level) > src.available) return false; // need() also refuses a GPA beyond the span
    this.forgetMemo();
    const mem = this.mem;
    let table = this.root * 4096;
    for (let l = 4; l > level; l--) {
      const a = table + entryIndex(gpa, l) * 8;
      let elo = mem.read32(a);
      let ehi = mem.read32(a + 4);
      if (!isTable(elo)) {
        const frame = src.alloc();
        this.allocLog?.push(frame, a, elo, ehi);
        this.tables.add(frame);
        if (elo !== 0 || ehi !== 0) this.fillChildren(frame, l, elo, ehi);
        elo = (frame * 4096) | TABLE_RIGHTS;
        ehi = 0;
        mem.write32(a, elo >>> 0);
        mem.write32(a + 4, 0);
      }
      table = tableAddr(elo, ehi);
    }
    const a = table + entryIndex(gpa, level) * 8;
    // A huge leaf written over an (empty) table: the table pages below go back to the pool, else
    // they would be held by no table and never freed (found by hv.pool-conservation: a 4 KiB
    // share unshared, then the region mapped as one 2 MiB leaf).
    const old = mem.read32(a);
    if (level > 1 && isTable(old)) {
      const frame = tableAddr(old, mem.read32(a + 4)) / 4096;
      // Logged as (-1: a pool page, -2 - c: a page of vCPU c's cache, entry address): an -ENOMEM
      // undo links an empty table there again, from the same source (docs/hypervisor.md "The page pool").
      this.allocLog?.push(this.cache !== null && this.cache.inUse.has(frame) ? -2 - this.cache.originOf(frame) : -1, a, 0, 0);
      this.releaseSubtree(frame, level - 1);
      // Planted: the walker keeps the table entry it read before its callback replaced it, walks
      // the detached table and frees it again on the way up (the defect fixed by a9f0e3d5a089
      // "KVM: arm64: Reload PTE after invoking walker callback on preorder traversal").
      if (this.staleWalkFree) this.releaseFrame(frame);
    }
    mem.write32(a, lo >>> 0);
    mem.write32(a + 4, hi >>> 0);
    return true;
  }

  /** Takes back the tables `allocLog` recorded (newest first): each parent entry gets its old words again. */
  unlinkTables(log: readonly number[]): void {
    if (log.length === 0) return;
    this.forgetMemo();
    for (let i = log.length - 4; i >= 0; i -= 4) {
      if (log[i] < 0) {
        // An empty table a huge leaf replaced: link a zeroed one again (its frame is not observable).
        const cache = log[i] <= -2 ? this.cache : null;
        if (cache !== null) cache.cpu = -2 - log[i];
        const frame = (cache ?? this.pool).alloc();
        if (cache !== null) cache.cpu = -1;
        this.tables.add(frame);
        this.mem.write32(log[i + 1], ((frame * 4096) | TABLE_RIGHTS) >>> 0);
        this.mem.write32(log[i + 1] + 4, 0);
        continue;
      }
      this.mem.write32(log[i + 1], log[i + 2] >>> 0);
      this.mem.write32(log[i + 1] + 4, log[i + 3] >>> 0);
      this.tables.delete(log[i]);
      this.releaseFrame(log[i]);
    }
  }

  /** Frees the table at `frame` (at `level`) and the tables below it; every leaf in them must be empty. */
  private releaseSubtree(frame: number, level: number): void {
    for (let i = 0; i < 512; i++) {
      const a = frame * 4096 + i * 8;
      const lo = this.mem.read32(a);
      const hi = this.mem.read32(a + 4);
      if (level > 1 && isTable(lo)) this.releaseSubtree(tableAddr(lo, hi) / 4096, level - 1);
      else if (lo !== 0 || hi !== 0) throw new Error('hv: a huge leaf written over a table that still maps pages');
    }
    this.tables.delete(frame);
    this.releaseFrame(frame);
  }

  /** Splits the huge leaf covering `gpa` at `level` into 512 children; false when the pool is empty. */
  split(gpa: number, level: number): boolean {
    if (!this.find(gpa) || this.level !== level || level === 1) return true;
    const lo = this.lo;
    const hi = this.hi;
    const frame = this.pool.allocFilled(); // fillChildren writes all 512 entries
    if (frame < 0) return false;
    this.forgetMemo();
    this.tables.add(frame);
    this.fillChildren(frame, level, lo, hi);
    this.mem.write32(this.addr, ((frame * 4096) | TABLE_RIGHTS) >>> 0);
    this.mem.write32(this.addr + 4, 0);
    return true;
  }

  /** 512 children of a huge leaf: same bits (pKVM state included, §1.1 "state bits copied"), consecutive addresses. */
  private fillChildren(frame: number, level: number, lo: number, hi: number): void {
    const childSpan = LEVEL_SPAN[level - 1];
    const childLevel = level - 1;
    const base = ((lo & 0xfffff000) >>> 0) + (hi & 0xfffff) * 2 ** 32;
    const flags = childLevel === 1 ? lo & 0xfff & ~EPT_PS : lo & 0xfff;
    const hiFlags = hi & ~0xfffff;
    for (let i = 0; i < 512; i++) {
      const addr = base + i * childSpan;
      this.mem.write32(frame * 4096 + i * 8, ((addr % 2 ** 32) & 0xfffff000 | flags) >>> 0);
      this.mem.write32(frame * 4096 + i * 8 + 4, (Math.floor(addr / 2 ** 32) | hiFlags) >>> 0);
    }
  }

  /** Rewrites the entry found by the last `find` (its address is kept). */
  rewrite(lo: number, hi: number): void {
    if (this.level !== 1) this.forgetMemo();
    this.mem.write32(this.addr, lo >>> 0);
    this.mem.write32(this.addr + 4, hi >>> 0);
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** Visits every non-zero leaf: (gpa of the leaf's first byte, level, lo, hi, entry address). */
  forEachLeaf(visit: (gpa: number, level: number, lo: number, hi: number, addr: number) => void): void {
    const walk = (frame: number, level: number, base: number): void => {
      for (let i = 0; i < 512; i++) {
        const a = frame * 4096 + i * 8;
        const lo = this.mem.read32(a);
        const hi = this.mem.read32(a + 4);
        if (lo === 0 && hi === 0) continue;
        const gpa = base + i * LEVEL_SPAN[level];
        if (level === 1 || !isTable(lo)) visit(gpa, level, lo, hi, a);
        else walk(tableAddr(lo, hi) / 4096, level - 1, gpa);
      }
    };
    walk(this.root, 4, 0);
  }

  /** The table frames reachable from the root in memory (root included), in walk order. */
  reachableTables(): number[] {
    const out: number[] = [];
    const walk = (frame: number, level: number): void => {
      out.push(frame);
      if (level === 1) return;
      for (let i = 0; i < 512; i++) {
        const a = frame * 4096 + i * 8;
        const lo = this.mem.read32(a);
        if (isTable(lo)) walk(tableAddr(lo, this.mem.read32(a + 4)) / 4096, level - 1);
      }
    };
    walk(this.root, 4);
    return out;
  }

  /**
   * Returns every table page from the pool to the pool; those from the VM's cache stay with the
   * cache (its owner gives them back to the host). The caller flushes TLBs first.
   */
  destroy(): void {
    this.forgetMemo();
    for (const f of [...this.tables].sort((a, b) => a - b)) if (this.cache === null || !this.cache.inUse.has(f)) this.pool.release(f);
    this.tables.clear();
  }
}
