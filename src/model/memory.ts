/**
 * The reference model's host-physical memory: a plain map from frame number to its 4096 bytes.
 * Contract (docs/semantics.md "Machine shape"): RAM is [0, framesMax * 4096); a frame never
 * written reads as zeros; bytes at or above the end of RAM read as all-ones and writes there are
 * dropped (this holds for table walks too). 32-bit words and 64-bit entries are little-endian and
 * aligned (table entries always are).
 */

import type { Entry } from './entry.js';

export const PAGE = 4096;

// Words are read through a Uint32Array, which is little-endian only on a little-endian host.
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('eptfuzz needs a little-endian host');

/** What the walks read memory through (SpecMemory, or a recorder in front of it). */
export interface EntryReader {
  inRam(hpa: number): boolean;
  readEntry(hpa: number): Entry;
}

/** One backed frame: its bytes, and the same bytes as little-endian words. */
export interface FrameRecord {
  readonly bytes: Uint8Array;
  readonly words: Uint32Array;
}

/**
 * Entries read outside RAM and from never-written frames, shared (entries are never changed in
 * place; not frozen, so they keep the same hidden class as every other entry on the walk paths).
 */
const ALL_ONES_ENTRY: Entry = { lo: 0xffffffff, hi: 0xffffffff };
export const ZERO_ENTRY: Entry = { lo: 0, hi: 0 };

/** Frames per backing buffer (see `frame`). */
const SLAB_FRAMES = 32;

export class SpecMemory implements EntryReader {
  private readonly frames = new Map<number, FrameRecord>();
  readonly ramEnd: number;
  private slab = new ArrayBuffer(0);
  private slabUsed = SLAB_FRAMES;

  constructor(framesMax: number) {
    this.ramEnd = framesMax * PAGE;
  }

  inRam(hpa: number): boolean {
    return hpa < this.ramEnd;
  }

  /** Aligned little-endian 32-bit read (all-ones outside RAM, zero in a never-written frame). */
  readU32(hpa: number): number {
    if (hpa >= this.ramEnd) return 0xffffffff;
    const f = this.frames.get(Math.floor(hpa / PAGE));
    if (f === undefined) return 0;
    return f.words[(hpa % PAGE) >>> 2];
  }

  /** An aligned 64-bit table entry as two halves. */
  readEntry(hpa: number): Entry {
    if (hpa >= this.ramEnd) return ALL_ONES_ENTRY;
    const f = this.frames.get(Math.floor(hpa / PAGE));
    if (f === undefined) return ZERO_ENTRY;
    const w = (hpa % PAGE) >>> 2;
    return { lo: f.words[w], hi: f.words[w + 1] };
  }

  readByte(hpa: number): number {
    if (hpa >= this.ramEnd) return 0xff;
    const f = this.frames.get(Math.floor(hpa / PAGE));
    return f === undefined ? 0 : f.bytes[hpa % PAGE];
  }

  /** The record of a backed frame (live: later writes show through it), or undefined if never written. */
  record(frame: number): FrameRecord | undefined {
    return this.frames.get(frame);
  }

  /** Writes one byte; dropped outside RAM. */
  writeByte(hpa: number, value: number): void {
    if (hpa >= this.ramEnd) return;
    this.frame(Math.floor(hpa / PAGE)).bytes[hpa % PAGE] = value & 0xff;
  }

  /** Writes an aligned 64-bit entry given as two 32-bit halves; dropped outside RAM. */
  writeQword(hpa: number, lo: number, hi: number): void {
    if (hpa >= this.ramEnd) return;
    const f = this.frame(Math.floor(hpa / PAGE));
    const w = (hpa % PAGE) >>> 2;
    f.words[w] = lo >>> 0;
    f.words[w + 1] = hi >>> 0;
  }

  /** The live bytes of a frame, or null if it was never written. Callers must not mutate it. */
  frameBytes(frame: number): Uint8Array | null {
    return this.frames.get(frame)?.bytes ?? null;
  }

  /** Numbers of every frame ever written. */
  frameNumbers(): number[] {
    return [...this.frames.keys()];
  }

  private frame(n: number): FrameRecord {
    let f = this.frames.get(n);
    if (f === undefined) {
      // Frames are carved from shared zeroed buffers: one ArrayBuffer per frame costs about 2 us
      // (a model per trace writes tens of frames), a view into a larger one a tenth of that.
      if (this.slabUsed === SLAB_FRAMES) {
        this.slab = new ArrayBuffer(SLAB_FRAMES * PAGE);
        this.slabUsed = 0;
      }
      const offset = this.slabUsed++ * PAGE;
      f = { bytes: new Uint8Array(this.slab, offset, PAGE), words: new Uint32Array(this.slab, offset, PAGE / 4) };
      this.frames.set(n, f);
    }
    return f;
  }
}
