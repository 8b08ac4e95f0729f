/**
 * Per-logical-processor translation caches (ref §6.1; docs/semantics.md "TLBs and invalidation").
 * Contract: two direct-mapped caches in typed arrays (no allocation on lookup or fill):
 * - GpaTlb: guest-physical mappings, tagged by EP4TA, keyed by GPA page;
 * - CombinedTlb: combined mappings, tagged by VPID and EP4TA, keyed by linear page.
 * They hold entry bits, never access decisions; the machine re-checks rights on every hit.
 * A slot conflict simply replaces the old entry (the processor may always cache less).
 */

const SIZE = 512;
const SHIFT = 23; // 32 - log2(SIZE)

/**
 * Slot of a page number: a multiplicative hash, so pages 2^k apart (aligned table pages and data
 * pages) do not systematically evict each other as they would with the low bits as the index.
 */
function slotOf(page: number): number {
  return Math.imul(page | 0, 0x9e3779b1) >>> SHIFT;
}

/** Packed EPT rights and status, as stored in both caches. */
export const T_R = 1; //    EPT R over the levels
export const T_W = 2; //    EPT W
export const T_X = 4; //    EPT X (XS)
export const T_XU = 8; //   EPT XU (MBEC)
export const T_EPT_D = 16; // the EPT leaf's dirty flag is set in memory (writes need it while EPTP[6] = 1)
export const T_SPP = 32; // EPT leaf is a 4 KiB leaf with bit 61 set
/** Guest bits of a combined entry. */
export const C_RW = 1 << 8; //  R/W = 1 at every guest level
export const C_US = 1 << 9; //  U/S = 1 at every guest level (user-mode address)
export const C_XD = 1 << 10; // XD = 1 at some guest level
export const C_G = 1 << 11; //  global
export const C_D = 1 << 12; //  guest leaf dirty
export const C_PKEY_SHIFT = 16; // bits 19:16 protection key

export class GpaTlb {
  /** False turns the cache off (every lookup misses): benchmarks and cache-free differential runs. */
  enabled = true;
  // One buffer for every field: a machine is built per trace, and each ArrayBuffer costs far more
  // to create than a view on one.
  private readonly buffer = new ArrayBuffer(SIZE * (3 * 8 + 4 + 1));
  private readonly tagPage = new Float64Array(this.buffer, 0, SIZE);
  private readonly tagRoot = new Float64Array(this.buffer, SIZE * 8, SIZE);
  private readonly hpaPage = new Float64Array(this.buffer, SIZE * 16, SIZE);
  private readonly bits = new Int32Array(this.buffer, SIZE * 24, SIZE);
  private readonly valid = new Uint8Array(this.buffer, SIZE * 28, SIZE);

  /** Returns the slot of a hit, or -1. */
  find(root: number, gpaPage: number): number {
    const i = slotOf(gpaPage);
    return this.enabled && this.valid[i] === 1 && this.tagPage[i] === gpaPage && this.tagRoot[i] === root ? i : -1;
  }
  hpaPageAt(slot: number): number { return this.hpaPage[slot]; }
  bitsAt(slot: number): number { return this.bits[slot]; }

  fill(root: number, gpaPage: number, hpaPage: number, bits: number): void {
    const i = slotOf(gpaPage);
    this.valid[i] = 1;
    this.tagPage[i] = gpaPage;
    this.tagRoot[i] = root;
    this.hpaPage[i] = hpaPage;
    this.bits[i] = bits;
  }

  dropPage(gpaPage: number): void {
    const i = slotOf(gpaPage);
    if (this.tagPage[i] === gpaPage) this.valid[i] = 0;
  }
  dropRoot(root: number): void {
    for (let i = 0; i < SIZE; i++) if (this.tagRoot[i] === root) this.valid[i] = 0;
  }
  dropAll(): void { this.valid.fill(0); }
}

export class CombinedTlb {
  enabled = true;
  // One buffer for every field (see GpaTlb).
  private readonly buffer = new ArrayBuffer(SIZE * (3 * 8 + 2 * 4 + 1));
  private readonly tagPage = new Float64Array(this.buffer, 0, SIZE);
  private readonly tagRoot = new Float64Array(this.buffer, SIZE * 8, SIZE);
  private readonly hpaPage = new Float64Array(this.buffer, SIZE * 16, SIZE);
  private readonly tagVpid = new Int32Array(this.buffer, SIZE * 24, SIZE);
  private readonly bits = new Int32Array(this.buffer, SIZE * 28, SIZE);
  private readonly valid = new Uint8Array(this.buffer, SIZE * 32, SIZE);

  find(vpid: number, root: number, linPage: number): number {
    const i = slotOf(linPage);
    return this.enabled && this.valid[i] === 1 && this.tagPage[i] === linPage && this.tagRoot[i] === root && this.tagVpid[i] === vpid ? i : -1;
  }
  hpaPageAt(slot: number): number { return this.hpaPage[slot]; }
  bitsAt(slot: number): number { return this.bits[slot]; }

  fill(vpid: number, root: number, linPage: number, hpaPage: number, bits: number): void {
    const i = slotOf(linPage);
    this.valid[i] = 1;
    this.tagPage[i] = linPage;
    this.tagRoot[i] = root;
    this.tagVpid[i] = vpid;
    this.hpaPage[i] = hpaPage;
    this.bits[i] = bits;
  }

  drop(slot: number): void { this.valid[slot] = 0; }

  /** Drops the mappings of one linear page for `vpid` (all EP4TAs, global ones included). */
  dropPage(vpid: number, linPage: number): void {
    const i = slotOf(linPage);
    if (this.tagPage[i] === linPage && this.tagVpid[i] === vpid) this.valid[i] = 0;
  }
  /** Drops every mapping of `vpid`; keeps global ones when `keepGlobal`. */
  dropVpid(vpid: number, keepGlobal: boolean): void {
    for (let i = 0; i < SIZE; i++) {
      if (this.tagVpid[i] === vpid && !(keepGlobal && (this.bits[i] & C_G) !== 0)) this.valid[i] = 0;
    }
  }
  /** Drops every mapping except those tagged with VPID 0. */
  dropAllButVpid0(): void {
    for (let i = 0; i < SIZE; i++) if (this.tagVpid[i] !== 0) this.valid[i] = 0;
  }
  dropRoot(root: number): void {
    for (let i = 0; i < SIZE; i++) if (this.tagRoot[i] === root) this.valid[i] = 0;
  }
  dropAll(): void { this.valid.fill(0); }
}
