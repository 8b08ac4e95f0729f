/**
 * Host-physical memory: RAM is [0, framesMax * 4096), backed sparsely by 4 KiB frames.
 * Contract (docs/semantics.md "Machine shape"): a frame never written reads as zeros; addresses
 * outside RAM read as all-ones and writes there are dropped. Every frame written since the last
 * `beginOp()` is listed by `touched()`. Frames live in one growable Uint32Array pool with a
 * direct-mapped frame→slot cache, so entry reads on the walk paths cost no Map lookup and no
 * allocation. Addresses are numbers below 2^52 (exact in a double).
 */

const FRAME = 4096;
const WORDS_PER_FRAME = 1024;
const CACHE_SIZE = 1024; // direct-mapped frame→slot cache entries (power of two; a trace backs tens of frames)
const CACHE_SHIFT = 22; //  32 - log2(CACHE_SIZE): index = multiplicative hash of the frame number

/** Cache index: a multiplicative hash, so table frames and data frames 2^k apart do not collide. */
function cacheIndex(frame: number): number {
  return Math.imul(frame | 0, 0x9e3779b1) >>> CACHE_SHIFT;
}

export class PhysMemory {
  readonly framesMax: number;
  private readonly slotOf = new Map<number, number>();
  private frameOfSlot: number[] = [];
  private pool: Uint32Array;
  // One buffer for both cache arrays (a machine is built per trace; each ArrayBuffer is costly).
  private readonly cacheBuffer = new ArrayBuffer(CACHE_SIZE * 12);
  private readonly cacheFrame = new Float64Array(this.cacheBuffer, 0, CACHE_SIZE).fill(-1);
  private readonly cacheSlot = new Int32Array(this.cacheBuffer, CACHE_SIZE * 8, CACHE_SIZE);
  private readonly touchedList: number[] = [];
  /** frameView's views, by slot (dropped when the pool grows). */
  private views: Uint8Array[] = [];
  private lastTouched = -1;

  constructor(framesMax: number) {
    this.framesMax = framesMax;
    this.pool = new Uint32Array(WORDS_PER_FRAME * 32); // a trace backs ~20 frames (p90 27); grows by doubling
  }

  /** Forgets the touched-frame list; call at the start of every op. */
  beginOp(): void {
    this.touchedList.length = 0;
    this.lastTouched = -1;
  }

  touched(): readonly number[] {
    return this.touchedList;
  }

  isRam(addr: number): boolean {
    return addr >= 0 && addr < this.framesMax * FRAME;
  }

  /** Slot of a backed frame, or -1. */
  private slot(frame: number): number {
    const c = cacheIndex(frame);
    if (this.cacheFrame[c] === frame) return this.cacheSlot[c];
    const s = this.slotOf.get(frame);
    if (s === undefined) return -1;
    this.cacheFrame[c] = frame;
    this.cacheSlot[c] = s;
    return s;
  }

  private slotForWrite(frame: number): number {
    let s = this.slot(frame);
    if (s < 0) {
      s = this.frameOfSlot.length;
      if ((s + 1) * WORDS_PER_FRAME > this.pool.length) {
        const grown = new Uint32Array(this.pool.length * 2);
        grown.set(this.pool);
        this.pool = grown;
        this.views = []; // they view the old pool
      }
      this.frameOfSlot.push(frame);
      this.slotOf.set(frame, s);
      const c = cacheIndex(frame);
      this.cacheFrame[c] = frame;
      this.cacheSlot[c] = s;
    }
    if (frame !== this.lastTouched) {
      this.lastTouched = frame;
      if (!this.touchedList.includes(frame)) this.touchedList.push(frame);
    }
    return s;
  }

  /** Reads the aligned 32-bit word at `addr` (addr % 4 === 0). */
  read32(addr: number): number {
    // `addr & 0xfff` is exact for any integer below 2^53 (ToInt32 keeps the low 32 bits).
    const frame = (addr - (addr & 0xfff)) / FRAME;
    if (frame >= this.framesMax) return 0xffffffff;
    const c = cacheIndex(frame);
    const s = this.cacheFrame[c] === frame ? this.cacheSlot[c] : this.slot(frame);
    if (s < 0) return 0;
    return this.pool[(s << 10) + ((addr & 0xfff) >>> 2)];
  }

  /** Writes the aligned 32-bit word at `addr`; dropped outside RAM. */
  write32(addr: number, value: number): void {
    const frame = (addr - (addr & 0xfff)) / FRAME;
    if (frame >= this.framesMax) return;
    const s = this.slotForWrite(frame);
    this.pool[(s << 10) + ((addr & 0xfff) >>> 2)] = value >>> 0;
  }

  readByte(addr: number): number {
    const word = this.read32(addr - (addr & 3));
    return (word >>> ((addr & 3) << 3)) & 0xff;
  }

  writeByte(addr: number, value: number): void {
    const frame = (addr - (addr & 0xfff)) / FRAME;
    if (frame >= this.framesMax) return;
    const s = this.slotForWrite(frame);
    const i = (s << 10) + ((addr & 0xfff) >>> 2);
    const shift = (addr & 3) << 3;
    this.pool[i] = ((this.pool[i] & ~(0xff << shift)) | ((value & 0xff) << shift)) >>> 0;
  }

  /** Little-endian read of 1..8 bytes (any alignment, may cross frames). */
  readBytes(addr: number, size: number): bigint {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.readByte(addr + i));
    return v;
  }

  /** Little-endian write of the low `size` bytes of `value`. */
  writeBytes(addr: number, size: number, value: bigint): void {
    let v = value;
    for (let i = 0; i < size; i++) {
      this.writeByte(addr + i, Number(v & 0xffn));
      v >>= 8n;
    }
  }

  /** Zero-copy view of a frame (valid until the next write that grows the pool). */
  frameView(frame: number): Uint8Array | null {
    const s = this.slot(frame);
    if (s < 0) return null;
    // The checkers view every frame an op touched: one view object per slot, made once per pool.
    return (this.views[s] ??= new Uint8Array(this.pool.buffer, s * FRAME, FRAME));
  }

  frameBytes(frame: number): Uint8Array | null {
    const s = this.slot(frame);
    if (s < 0) return null;
    const words = this.pool.slice(s * WORDS_PER_FRAME, (s + 1) * WORDS_PER_FRAME);
    return new Uint8Array(words.buffer);
  }

  /** Backed frame numbers in ascending order (for full sweeps). */
  frames(): number[] {
    return [...this.frameOfSlot].sort((a, b) => a - b);
  }
}
