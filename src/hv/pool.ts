/**
 * The hypervisor's page allocator: table pages for EPTs and SPPTs come from a fixed pool of host
 * frames at the top of RAM, hyp-owned from boot (pkvm-and-vtl.md §1.1: memory pKVM removes from
 * the host EPT at init is hyp-owned with an all-zero host entry).
 * Contract: `alloc` returns a zeroed frame or -1 (the caller turns it into -ENOMEM before it
 * changes anything, using `available`); allocation order is deterministic (lowest free first).
 */
import type { PhysMemory } from '../hw/memory.js';

export class PagePool {
  readonly first: number;
  readonly end: number;
  private readonly free: number[] = [];

  constructor(private readonly mem: PhysMemory, first: number, end: number) {
    this.first = first;
    this.end = end;
    for (let f = end - 1; f >= first; f--) this.free.push(f);
  }

  get available(): number {
    return this.free.length;
  }

  contains(frame: number): boolean {
    return frame >= this.first && frame < this.end;
  }

  alloc(): number {
    const f = this.free.pop();
    if (f === undefined) return -1;
    const base = f * 4096;
    for (let i = 0; i < 4096; i += 4) this.mem.write32(base + i, 0);
    return f;
  }

  /** `alloc` for a caller that writes every word of the frame itself (no zeroing first). */
  allocFilled(): number {
    return this.free.pop() ?? -1;
  }

  /** The free frames (for the pool-conservation check; not a hot path). */
  freeFrames(): readonly number[] {
    return this.free;
  }

  release(frame: number): void {
    this.free.push(frame);
    // Keep the lowest frame next: deterministic reuse regardless of release order.
    this.free.sort((a, b) => b - a);
  }
}
