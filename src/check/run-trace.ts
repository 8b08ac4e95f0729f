/**
 * `runTrace(trace, opts)`: runs a trace on a new Machine and a new ReferenceModel built from
 * trace.machine, with every check (see runner.ts for the per-op contract).
 */
import type { Trace } from '../trace/trace.js';
import { runWith, type RunOptions, type RunResult } from './runner.js';
import { MODEL_TARGET } from './targets.js';

export function runTrace(trace: Trace, opts: RunOptions = {}): RunResult {
  return runWith(trace, MODEL_TARGET, opts);
}
