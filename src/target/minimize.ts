/**
 * Minimizing a failure found on an external target, with the target as the predicate, many
 * candidates per target run. Contract: the result is the one the ordinary minimizer
 * (src/shrink/minimize.ts, same passes, same step budget) computes with this target as a
 * synchronous predicate: the passes are re-run from the start on a cache of answers; at a
 * candidate not in the cache they continue as if it failed to keep the signature (the usual
 * answer) to collect up to `batchMax` such candidates, which one target run then answers. Only
 * known answers ever accept a candidate, so every result keeps the signature. When `msMax` has
 * passed, or `shouldStop` says so (a campaign asked to stop), one last pass runs with unknown
 * answers taken as "no" and nothing new is evaluated: the best trace found so far, at once.
 */
import { sameSignature, signatureOf } from '../check/violation.js';
import { TARGET_FAULT, targetFaultSignature } from '../fuzz/target-executor.js';
import { shrinkOps, SHRINK_STEPS_MAX_DEFAULT, SHRINK_MS_MAX_DEFAULT } from '../shrink/minimize.js';
import type { MinimizeResult } from '../shrink/trace.js';
import type { Op } from '../trace/ops.js';
import type { Signature, Trace } from '../trace/trace.js';
import { formatOp } from '../trace/text.js';
import { runOnTarget, type ExternalTarget, type TraceVerdict } from './external.js';

/** Candidates per target run: one Bochs boot answers this many. */
export const SPECULATION_BATCH = 48;

class Speculation extends Error {}

/**
 * Thrown when `shouldStop` came true before the failure was confirmed on the target (the run may
 * have been cut by the stop): the caller keeps the failure pending, not "did not reproduce".
 */
export class MinimizeStopped extends Error {
  constructor() { super('minimization stopped before the failure was confirmed on the target'); }
}

function verdictSignature(v: TraceVerdict): Signature | null {
  if (v.kind === 'fault') return targetFaultSignature(v.why);
  if (v.kind === 'judged' && v.judged.first !== null) return signatureOf(v.judged.first);
  return null;
}

const keyOf = (ops: readonly Op[]): string => ops.map(formatOp).join('\n');

export interface TargetMinimizeOptions {
  stepsMax?: number;
  msMax?: number;
  batchMax?: number;
  /** Polled before each target run: true ends the minimization with the best trace found so far. */
  shouldStop?: () => boolean;
  /** Called after each target run with the number of candidates answered so far (progress). */
  progress?: (answered: number) => void;
}

export async function minimizeOnTarget(target: ExternalTarget, trace: Trace, want: Signature | undefined, opts: TargetMinimizeOptions = {}): Promise<MinimizeResult | null> {
  const stepsMax = opts.stepsMax ?? SHRINK_STEPS_MAX_DEFAULT;
  const msMax = opts.msMax ?? SHRINK_MS_MAX_DEFAULT;
  const batchMax = opts.batchMax ?? SPECULATION_BATCH;
  const stopping = (): boolean => opts.shouldStop?.() === true;
  if (stopping()) throw new MinimizeStopped();
  const [first] = await runOnTarget(target, [trace]);
  if (stopping()) throw new MinimizeStopped();
  const found = verdictSignature(first);
  if (found === null) return null;
  const signature = want ?? found;
  if (!sameSignature(signature, found)) return null;
  const cache = new Map<string, boolean>([[keyOf(trace.ops), true]]);
  const started = Date.now();
  for (;;) {
    const misses: Op[][] = [];
    const missKeys = new Set<string>();
    const final = Date.now() - started >= msMax || stopping();
    const predicate = (ops: Op[]): boolean => {
      const key = keyOf(ops);
      const known = cache.get(key);
      if (known !== undefined) return known;
      if (!final && !missKeys.has(key)) {
        missKeys.add(key);
        misses.push(ops);
        if (misses.length >= batchMax) throw new Speculation();
      }
      return false;
    };
    let shrunk: ReturnType<typeof shrinkOps> | null = null;
    try {
      shrunk = shrinkOps(trace.ops, predicate, { stepsMax, msMax: Number.POSITIVE_INFINITY, now: () => 0 });
    } catch (e) {
      if (!(e instanceof Speculation)) throw e;
    }
    if (misses.length === 0 && shrunk !== null) {
      const report = { ...shrunk.report, timedOut: final };
      return { trace: { ...trace, ops: shrunk.ops, signature }, signature, report };
    }
    if (stopping()) continue; // the next pass is the final one: nothing new is run
    const verdicts = await runOnTarget(target, misses.map((ops) => ({ ...trace, ops })));
    if (stopping()) continue; // a run the stop may have cut answers nothing
    verdicts.forEach((v, i) => {
      const s = verdictSignature(v);
      cache.set(keyOf(misses[i]), s !== null && sameSignature(s, signature) && (s.invariant !== TARGET_FAULT || v.kind === 'fault'));
    });
    opts.progress?.(cache.size);
  }
}
