/**
 * Enumerates the branches of a nondeterministic run (ref §6: a stale TLB entry may serve until a
 * required invalidation). Contract: `runOne(prefix, mode)` replays the choices in `prefix` at the
 * first branch points it meets and takes the mode's default after them: `Fresh` takes 0 (the
 * walk from memory), `Cached` the first may-be-cached alternative (what a machine holding every
 * entry does), `Flushed` the first recently flushed one. It reports every branch point with the
 * alternatives worth exploring. `explore` runs the all-fresh branch first, then the all-cached
 * one, then breadth-first every single deviation from the runs found (flushed alternatives only
 * in a second, separate pass), bounded by `maxRuns`. Deterministic: the order depends only on
 * the runs' reports.
 */

export interface BranchPoint {
  /** Alternatives (1-based) from entries that may be cached and differ from the fresh result. */
  alts: number[];
  /** Alternatives from entries a required invalidation removed (only classify violations). */
  flushedAlts: number[];
  /**
   * Set by a run that narrows `alts` / `flushedAlts` after choosing (once it knows what the
   * fresh walk gives): the choice each mode's default took here before that, indexed by Mode.
   */
  defaultsBeforeNarrowing?: readonly number[];
}

export interface Explored {
  /** The choice taken at each branch point met, in order. */
  taken: number[];
  branches: BranchPoint[];
  usedFlushed: boolean;
  /** The run used an alternative that only classifies (a cached entry whose rights deny, served as if they allowed): kept by the second pass too. */
  usedDenied?: boolean;
  flushedAvailable: boolean;
}

export const Mode = { Fresh: 0, Cached: 1, Flushed: 2 } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

/** The choice a run in `mode` takes at a branch point after its prefix. */
export function defaultChoice(bp: BranchPoint, mode: Mode): number {
  if (mode === Mode.Fresh) return 0;
  if (mode === Mode.Flushed && bp.flushedAlts.length > 0) return bp.flushedAlts[0];
  return bp.alts.length > 0 ? bp.alts[0] : 0;
}

/** The choice a run in `mode` took at `bp` by default (before any narrowing of its lists). */
function chosenDefault(bp: BranchPoint, mode: Mode): number {
  return bp.defaultsBeforeNarrowing !== undefined ? bp.defaultsBeforeNarrowing[mode] : defaultChoice(bp, mode);
}

/**
 * Records which queue items would repeat run `r` exactly. A run is a function of the choices it
 * makes; an item (prefix, mode) makes r's choices when prefix is a prefix of r.taken and r, after
 * it, took at every branch point what `mode` takes by default. Such an item needs no run of its
 * own: it would only be dropped as already seen. (About a quarter of all runs were such repeats.)
 */
function noteRepeats(r: Explored, modes: readonly Mode[], repeats: readonly ChoiceSet[]): void {
  for (const mode of modes) {
    let k = r.taken.length;
    while (k > 0 && r.taken[k - 1] === chosenDefault(r.branches[k - 1], mode)) k--;
    let h = HASH_SEED;
    for (let j = 0; j <= r.taken.length; j++) {
      if (j >= k) repeats[mode].addHashed(r.taken, j, h);
      if (j < r.taken.length) h = hashStep(h, r.taken[j]);
    }
  }
}

const HASH_SEED = 0x811c9dc5;

function hashStep(h: number, choice: number): number {
  return Math.imul(h ^ (choice + 1), 0x01000193);
}

/**
 * Sets of choice sequences (the first `length` choices of an array), without a string per
 * sequence: a 32-bit hash finds the candidates and an exact comparison decides.
 */
class ChoiceSet {
  private readonly byHash = new Map<number, { choices: readonly number[]; length: number }[]>();

  static hash(choices: readonly number[], length: number): number {
    let h = HASH_SEED;
    for (let i = 0; i < length; i++) h = hashStep(h, choices[i]);
    return h;
  }

  has(choices: readonly number[], length: number, hash = ChoiceSet.hash(choices, length)): boolean {
    const list = this.byHash.get(hash);
    if (list === undefined) return false;
    for (const e of list) if (e.length === length && samePrefix(e.choices, choices, length)) return true;
    return false;
  }

  /** Adds the first `length` of `choices` (kept by reference: the array must not change). */
  addHashed(choices: readonly number[], length: number, hash: number): void {
    if (this.has(choices, length, hash)) return;
    const list = this.byHash.get(hash);
    if (list === undefined) this.byHash.set(hash, [{ choices, length }]);
    else list.push({ choices, length });
  }
}

function samePrefix(a: readonly number[], b: readonly number[], length: number): boolean {
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface Exploration<R> {
  /** Runs that used only may-be-cached state; [0] is the all-fresh run. */
  runs: R[];
  /** Runs that used at least one recently flushed entry. */
  flushedRuns: R[];
}

type RunOne<R> = (prefix: number[], mode: Mode) => R;

const NO_PREFIX: number[] = [];

/** Queues the run that takes `taken`'s choices before position p and `choice` at p (if it differs). */
function deviate(queue: { prefix: number[]; mode: Mode }[], taken: readonly number[], p: number, choice: number, mode: Mode): void {
  if (choice === taken[p]) return;
  const prefix = taken.slice(0, p + 1);
  prefix[p] = choice;
  queue.push({ prefix, mode });
}

function pass<R extends Explored>(runOne: RunOne<R>, maxRuns: number, withFlushed: boolean, seeds: { run?: R; mode: Mode }[], keep: (r: R) => void): boolean {
  const queue: { prefix: number[]; mode: Mode; run?: R }[] = seeds.map((s) => ({ prefix: NO_PREFIX, mode: s.mode, run: s.run }));
  const modes = [...new Set(seeds.map((s) => s.mode))];
  const seen = new ChoiceSet();
  const repeats: ChoiceSet[] = []; // by Mode, for the seeds' modes only
  for (const m of modes) repeats[m] = new ChoiceSet();
  let runs = 0;
  let flushedAvailable = false;
  for (let head = 0; head < queue.length && runs < maxRuns; head++) {
    const item = queue[head];
    runs++; // a repeat counts towards the bound as if it ran, so the bound cuts where it always did
    if (item.run === undefined && repeats[item.mode].has(item.prefix, item.prefix.length)) continue;
    const r = item.run ?? runOne(item.prefix, item.mode);
    const hash = ChoiceSet.hash(r.taken, r.taken.length);
    if (seen.has(r.taken, r.taken.length, hash)) continue;
    seen.addHashed(r.taken, r.taken.length, hash);
    noteRepeats(r, modes, repeats);
    if (r.flushedAvailable) flushedAvailable = true;
    keep(r);
    // Every single deviation after the item's prefix: 0, then the alternatives, in order.
    for (let p = item.prefix.length; p < r.branches.length; p++) {
      const bp = r.branches[p];
      deviate(queue, r.taken, p, 0, item.mode);
      for (const o of bp.alts) deviate(queue, r.taken, p, o, item.mode);
      if (withFlushed) for (const o of bp.flushedAlts) deviate(queue, r.taken, p, o, item.mode);
    }
  }
  return flushedAvailable;
}

export function explore<R extends Explored>(runOne: RunOne<R>, maxRuns: number): Exploration<R> {
  const { runs, flushedAvailable } = exploreCached(runOne, maxRuns);
  return { runs, flushedRuns: flushedAvailable ? exploreFlushed(runOne, maxRuns) : [] };
}

/**
 * The first pass of `explore` alone: the runs that use only may-be-cached state, and whether any
 * run met a recently flushed alternative (then `exploreFlushed` has something to find). The two
 * passes are independent, so a caller may run the second one later, or never (the model does so
 * only when its `flushed` list is read, model.ts).
 */
export function exploreCached<R extends Explored>(runOne: RunOne<R>, maxRuns: number): { runs: R[]; flushedAvailable: boolean } {
  // The common case: the fresh run met no branch point worth exploring.
  const first = runOne(NO_PREFIX, Mode.Fresh);
  if (!first.flushedAvailable && first.branches.every((b) => b.alts.length === 0)) return { runs: [first], flushedAvailable: false };
  const runs: R[] = [];
  const flushedAvailable = pass(runOne, maxRuns, false, [{ run: first, mode: Mode.Fresh }, { mode: Mode.Cached }], (r) => runs.push(r));
  return { runs, flushedAvailable };
}

/** The second pass of `explore` alone: every run that used at least one recently flushed entry (or a classification-only one, `usedDenied`). */
export function exploreFlushed<R extends Explored>(runOne: RunOne<R>, maxRuns: number): R[] {
  const flushedRuns: R[] = [];
  pass(runOne, maxRuns, true, [{ mode: Mode.Flushed }], (r) => {
    if (r.usedFlushed || r.usedDenied === true) flushedRuns.push(r);
  });
  return flushedRuns;
}
