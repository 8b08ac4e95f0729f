/**
 * The branch enumerator: the all-fresh run first, every combination of alternatives after it,
 * flushed alternatives only in the separate pass, and the run bound respected.
 */
import { describe, expect, it } from 'vitest';
import { type BranchPoint, type Explored, type Mode, defaultChoice, explore } from '../../../src/spec/explore.js';

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
