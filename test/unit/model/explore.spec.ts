/**
 * The branch enumerator: the all-fresh run first, every combination of alternatives after it,
 * flushed alternatives only in the separate pass, and the run bound respected.
 */
import { describe, expect, it } from 'vitest';
import { type BranchPoint, type Explored, type Mode, defaultChoice, explore, exploreCached, exploreFlushed } from '../../../src/model/explore.js';

interface FakeRun extends Explored {
  path: string;
}

/** A run meeting `points` branch points, each with `alts` cached and `flushed` flushed alternatives. */
function fake(points: number, alts: number, flushed = 0): (prefix: number[], mode: Mode) => FakeRun {
  return (prefix, mode) => {
    const taken: number[] = [];
    const branches: BranchPoint[] = [];
    let usedFlushed = false;
    for (let p = 0; p < points; p++) {
      const bp = {
        alts: Array.from({ length: alts }, (_v, i) => i + 1),
        flushedAlts: Array.from({ length: flushed }, (_v, i) => alts + i + 1),
      };
      branches.push(bp);
      const c = p < prefix.length ? prefix[p] : defaultChoice(bp, mode);
      if (c > alts) usedFlushed = true;
      taken.push(c);
    }
    return { taken, branches, usedFlushed, flushedAvailable: flushed > 0, path: taken.join('') };
  };
}

describe('explore', () => {
  it('a run without alternatives is explored once', () => {
    const r = explore(fake(3, 0), 100);
    expect(r.runs.map((x) => x.path)).toEqual(['000']);
    expect(r.flushedRuns).toEqual([]);
  });

  it('enumerates every combination, the fresh run first, then the all-cached one', () => {
    const r = explore(fake(3, 1), 100);
    expect(r.runs[0].path).toBe('000');
    expect(r.runs[1].path).toBe('111');
    expect(new Set(r.runs.map((x) => x.path))).toEqual(new Set(['000', '001', '010', '011', '100', '101', '110', '111']));
    expect(r.runs).toHaveLength(8);
  });

  it('flushed alternatives only appear in flushedRuns', () => {
    const r = explore(fake(2, 1, 1), 100);
    expect(r.runs.every((x) => !x.path.includes('2'))).toBe(true);
    expect(r.flushedRuns.length).toBeGreaterThan(0);
    expect(r.flushedRuns.every((x) => x.path.includes('2'))).toBe(true);
    expect(new Set(r.flushedRuns.map((x) => x.path))).toEqual(new Set(['02', '12', '20', '21', '22']));
  });

  it('respects the run bound and reaches the all-cached run early', () => {
    const r = explore(fake(20, 1), 64);
    expect(r.runs.length).toBeLessThanOrEqual(64);
    expect(r.runs.length).toBeGreaterThan(40);
    expect(r.runs[1].path).toBe('1'.repeat(20));
  });
});

/**
 * The enumeration as first written (every queue item run, runs told apart by their choices as a
 * string): the optimised `explore` must return the very same runs in the same order, bound
 * included. Only the number of `runOne` calls may differ.
 */
function referenceExplore<R extends Explored>(runOne: (prefix: number[], mode: Mode) => R, maxRuns: number): { runs: R[]; flushedRuns: R[] } {
  const pass = (withFlushed: boolean, seeds: { run?: R; mode: Mode }[], keep: (r: R) => void): boolean => {
    const queue: { prefix: number[]; mode: Mode; run?: R }[] = seeds.map((s) => ({ prefix: [], mode: s.mode, run: s.run }));
    const seen = new Set<string>();
    let runs = 0;
    let flushedAvailable = false;
    while (queue.length > 0 && runs < maxRuns) {
      const item = queue.shift()!;
      const r = item.run ?? runOne(item.prefix, item.mode);
      runs++;
      const key = r.taken.join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      if (r.flushedAvailable) flushedAvailable = true;
      keep(r);
      for (let p = item.prefix.length; p < r.branches.length; p++) {
        const bp = r.branches[p];
        const options = withFlushed ? [0, ...bp.alts, ...bp.flushedAlts] : [0, ...bp.alts];
        for (const o of options) if (o !== r.taken[p]) queue.push({ prefix: [...r.taken.slice(0, p), o], mode: item.mode });
      }
    }
    return flushedAvailable;
  };
  const first = runOne([], 0);
  if (!first.flushedAvailable && first.branches.every((b) => b.alts.length === 0)) return { runs: [first], flushedRuns: [] };
  const runs: R[] = [];
  const flushedRuns: R[] = [];
  if (pass(false, [{ run: first, mode: 0 }, { mode: 1 }], (r) => runs.push(r))) {
    pass(true, [{ mode: 2 }], (r) => { if (r.usedFlushed) flushedRuns.push(r); });
  }
  return { runs, flushedRuns };
}

/**
 * A seeded random tree of runs: the branch points met, and their alternatives, depend on the
 * choices made so far (as in the model, where a stale translation leads the walk elsewhere); some
 * branch points narrow their alternatives after a fresh choice, as the model's combined-TLB one does.
 */
function randomTree(seed: number): (prefix: number[], mode: Mode) => FakeRun {
  const hash = (xs: number[]): number => {
    let h = seed * 2654435761;
    for (const x of xs) h = Math.imul(h ^ (x + 7), 0x01000193) >>> 0;
    return h >>> 0;
  };
  return (prefix, mode) => {
    const taken: number[] = [];
    const branches: BranchPoint[] = [];
    let usedFlushed = false;
    let flushedAvailable = false;
    const depth = 1 + (hash([]) % 7);
    for (let p = 0; p < depth; p++) {
      const h = hash(taken);
      if (h % 5 === 0) continue; // no branch point here on this path
      const alts = Array.from({ length: h % 3 }, (_v, i) => i + 1);
      const flushedAlts = Array.from({ length: (h >>> 3) % 2 }, (_v, i) => alts.length + i + 1);
      const bp: BranchPoint = { alts, flushedAlts };
      branches.push(bp);
      if (flushedAlts.length > 0) flushedAvailable = true;
      const c = taken.length < prefix.length ? prefix[taken.length] : defaultChoice(bp, mode);
      if (c > alts.length) usedFlushed = true;
      taken.push(c);
      if (c === 0 && alts.length > 0 && (h >>> 5) % 2 === 0) {
        // narrowed after the fact: the first alternative turned out to give the fresh result
        bp.defaultsBeforeNarrowing = [0, 1, 2].map((m) => defaultChoice(bp, m as Mode));
        bp.alts = bp.alts.slice(1);
      }
    }
    return { taken, branches, usedFlushed, flushedAvailable, path: taken.join('') };
  };
}

describe('explore against the reference enumeration', () => {
  it('returns the same runs in the same order, and never runs more', () => {
    let saved = 0;
    for (let seed = 1; seed <= 400; seed++) {
      for (const maxRuns of [3, 16, 256]) {
        let calls = 0;
        let refCalls = 0;
        const tree = randomTree(seed);
        const got = explore((p, m) => { calls++; return tree(p, m); }, maxRuns);
        const want = referenceExplore((p, m) => { refCalls++; return tree(p, m); }, maxRuns);
        expect(got.runs.map((r) => r.path), `seed ${seed} bound ${maxRuns}`).toEqual(want.runs.map((r) => r.path));
        expect(got.flushedRuns.map((r) => r.path), `seed ${seed} bound ${maxRuns}`).toEqual(want.flushedRuns.map((r) => r.path));
        expect(calls).toBeLessThanOrEqual(refCalls);
        saved += refCalls - calls;
      }
    }
    expect(saved).toBeGreaterThan(0); // repeats were skipped somewhere
  });

  it('exploreCached and exploreFlushed are the two passes of explore', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const tree = randomTree(seed);
      const both = explore(tree, 64);
      const first = exploreCached(tree, 64);
      expect(first.runs.map((r) => r.path)).toEqual(both.runs.map((r) => r.path));
      const flushed = first.flushedAvailable ? exploreFlushed(tree, 64) : [];
      expect(flushed.map((r) => r.path)).toEqual(both.flushedRuns.map((r) => r.path));
    }
  });
});
