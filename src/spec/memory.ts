/**
 * The reference model's host-physical memory: a plain map from frame number to its 4096 bytes.
 * Contract (docs/semantics.md "Machine shape"): RAM is [0, framesMax * 4096); a frame never
 * written reads as zeros; bytes at or above the end of RAM read as all-ones and writes there are
 * dropped (this holds for table walks too). Reads of 32-bit words are little-endian and aligned.
 */

import type { Entry } from './entry.js';

export const PAGE = 4096;

export class SpecMemory {
  private readonly frames = new Map<number, { bytes: Uint8Array; view: DataView }>();
  readonly ramEnd: number;

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
    return f.view.getUint32(hpa % PAGE, true);
  }

  /** An aligned 64-bit table entry as two halves. */
  readEntry(hpa: number): Entry {
    return { lo: this.readU32(hpa), hi: this.readU32(hpa + 4) };
  }

  readByte(hpa: number): number {
    if (hpa >= this.ramEnd) return 0xff;
    const f = this.frames.get(Math.floor(hpa / PAGE));
    return f === undefined ? 0 : f.bytes[hpa % PAGE];
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
    f.view.setUint32(hpa % PAGE, lo >>> 0, true);
    f.view.setUint32((hpa % PAGE) + 4, hi >>> 0, true);
  }

  /** The live bytes of a frame, or null if it was never written. Callers must not mutate it. */
  frameBytes(frame: number): Uint8Array | null {
    return this.frames.get(frame)?.bytes ?? null;
  }

  private frame(n: number): { bytes: Uint8Array; view: DataView } {
    let f = this.frames.get(n);
    if (f === undefined) {
      const bytes = new Uint8Array(PAGE);
      f = { bytes, view: new DataView(bytes.buffer) };
      this.frames.set(n, f);
    }
    return f;
  }
}
