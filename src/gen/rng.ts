/**
 * The generator's random source: seedrandom's alea behind a small API.
 * Contract: the same seed string gives the same sequence on every machine and Node version
 * (alea works on doubles with exact integer arithmetic); nothing here reads the clock or
 * the ambient random source. `derive` gives an independent stream named by a label, so one campaign seed
 * fans out to per-run streams that do not depend on how much earlier runs consumed.
 */
import seedrandom from 'seedrandom';

export class Rng {
  private readonly next: () => number;
  readonly seed: string;

  constructor(seed: string) {
    this.seed = seed;
    this.next = seedrandom.alea(seed);
  }

  /** An independent stream for `label` (same seed and label → same stream). */
  derive(label: string | number): Rng {
    return new Rng(`${this.seed}/${label}`);
  }

  /** A double in [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in [0, n) for 1 <= n <= 2^32. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi], inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick from an empty list');
    return items[this.int(items.length)];
  }

  /** An index chosen with probability proportional to `weights[i]` (some weight must be > 0). */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i];
      if (x < 0 && weights[i] > 0) return i;
    }
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    throw new Error('Rng.weighted with no positive weight');
  }

  /** 32 random bits as an unsigned number. */
  u32(): number {
    return Math.floor(this.next() * 0x1_0000_0000) >>> 0;
  }

  /** 64 random bits. */
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}
