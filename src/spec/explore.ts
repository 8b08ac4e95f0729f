/**
 * Enumerates the branches of a nondeterministic run (ref §6: a stale TLB entry may serve until a
 * required invalidation). Contract: `runOne(prefix)` replays the choices in `prefix` at the first
 * branch points it meets and takes 0 (fresh) after them; it reports every branch point with the
 * alternatives worth exploring. `explore` runs the all-fresh branch first, then breadth-first
 * every other alternative (cached ones; recently flushed ones only in a second, separate pass),
 * bounded by `maxRuns`. Deterministic: the order depends only on the runs' reports.
 */

export interface BranchPoint {
  /** Alternatives (1-based) from entries that may be cached and differ from the fresh result. */
  alts: number[];
  /** Alternatives from entries a required invalidation removed (only classify violations). */
  flushedAlts: number[];
}

export interface Explored {
  /** The choice taken at each branch point met, in order. */
  taken: number[];
  branches: BranchPoint[];
  usedFlushed: boolean;
  flushedAvailable: boolean;
}

export interface Exploration<R> {
  /** Runs that used only may-be-cached state; [0] is the all-fresh run. */
  runs: R[];
  /** Runs that used at least one recently flushed entry. */
  flushedRuns: R[];
}

const NO_PREFIX: number[] = [];

function pass<R extends Explored>(runOne: (prefix: number[]) => R, maxRuns: number, withFlushed: boolean, keep: (r: R) => void, fresh: R): boolean {
  const queue: number[][] = [NO_PREFIX];
  let runs = 0;
  let flushedAvailable = false;
  while (queue.length > 0 && runs < maxRuns) {
    const prefix = queue.shift()!;
    const r = prefix === NO_PREFIX ? fresh : runOne(prefix);
    runs++;
    if (r.flushedAvailable) flushedAvailable = true;
    keep(r);
    for (let p = prefix.length; p < r.branches.length; p++) {
      const bp = r.branches[p];
      const head = r.taken.slice(0, p);
      for (const a of bp.alts) queue.push([...head, a]);
      if (withFlushed) for (const a of bp.flushedAlts) queue.push([...head, a]);
    }
  }
  return flushedAvailable;
}

export function explore<R extends Explored>(runOne: (prefix: number[]) => R, maxRuns: number): Exploration<R> {
  // The common case: the fresh run met no branch point worth exploring.
  const first = runOne(NO_PREFIX);
  if (!first.flushedAvailable && first.branches.every((b) => b.alts.length === 0)) return { runs: [first], flushedRuns: [] };
  const runs: R[] = [];
  const flushedRuns: R[] = [];
  const flushedAvailable = pass(runOne, maxRuns, false, (r) => runs.push(r), first);
  if (flushedAvailable) {
    pass(runOne, maxRuns, true, (r) => {
      if (r.usedFlushed) flushedRuns.push(r);
    }, first);
  }
  return { runs, flushedRuns };
}
