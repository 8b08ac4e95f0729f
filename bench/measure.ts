/**
 * Timing helpers for benchmarks: figures are medians over repeated rounds and are reported as
 * ratios against a baseline measured in the same run, because these machines are noisy.
 */
export interface Figure { name: string; perSecond: number }

/** Runs `body(n)` for `rounds` rounds of about `roundMs` each; returns the median rate in ops/s. */
export function rate(body: (n: number) => void, opsPerCall: number, rounds = 7, roundMs = 150): number {
  // Calibrate the call count so one round takes about roundMs.
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    body(n);
    const ms = performance.now() - t0;
    if (ms > 20) { n = Math.max(1, Math.round((n * roundMs) / ms)); break; }
    n *= 4;
  }
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    body(n);
    rates.push((n * opsPerCall) / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)];
}

export function fmtRate(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : `${(r / 1e3).toFixed(1)} k/s`;
}

/**
 * Ratio of two workloads measured in alternating rounds (A, B, A, B, ...): each pair of adjacent
 * rounds sees the same machine load, so the median of the per-pair ratios survives noise that
 * separate medians do not. Returns { ratio: rateB / rateA, rateA, rateB } (medians).
 */
export function interleavedRatio(a: (n: number) => void, b: (n: number) => void, rounds = 15, roundMs = 100): { ratio: number; rateA: number; rateB: number } {
  const calibrate = (body: (n: number) => void): number => {
    let n = 1;
    for (;;) {
      const t0 = performance.now();
      body(n);
      const ms = performance.now() - t0;
      if (ms > 20) return Math.max(1, Math.round((n * roundMs) / ms));
      n *= 4;
    }
  };
  const na = calibrate(a);
  const nb = calibrate(b);
  const ra: number[] = [];
  const rb: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    a(na);
    const rateA = na / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    b(nb);
    const rateB = nb / ((performance.now() - t0) / 1000);
    ra.push(rateA);
    rb.push(rateB);
    ratios.push(rateB / rateA);
  }
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  return { ratio: median(ratios), rateA: median(ra), rateB: median(rb) };
}
