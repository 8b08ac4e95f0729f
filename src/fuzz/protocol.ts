/**
 * What the campaign's main thread and its run engines (inline or worker threads) exchange.
 * Contract: plain structured-clone data (no functions, no class instances); a batch is the same
 * runs whoever executes it, so outputs do not depend on the number of workers.
 *
 * The run space: run r (an integer, continuing across resumed sessions) draws its randomness
 * from the stream `<root>/run<r>`. Runs are grouped in batches of BATCH_RUNS; worker w of N
 * executes the runs r of a batch with r mod N = w. Batch k runs against the corpus and coverage
 * the main thread had after merging batch k - SYNC_LAG_BATCHES (the `sync` sent with batch k),
 * never against anything fresher: that is what makes the result independent of timing.
 */
import type { MachineConfig } from '../hw/config.js';
import type { Feature } from '../gen/features.js';
import type { Signature, Trace } from '../trace/trace.js';
import type { CorpusEntry } from './corpus.js';

/** Runs per batch (the whole batch, all workers). */
export const BATCH_RUNS = 64;
/**
 * Batch k sees the merge of batch k - 2: one batch of slack lets every worker start batch k + 1
 * while the main thread waits for the slowest worker of batch k, so no worker idles at a barrier.
 */
export const SYNC_LAG_BATCHES = 2;

export type OracleName = 'model' | 'machine';

/** Everything a run engine needs to generate and run the same traces on any thread. */
export interface EngineConfig {
  /** Root of the run streams: the campaign seed, or `<seed>/shard<i>of<n>`. */
  root: string;
  opsMax: number;
  features: Feature[];
  swarm: boolean;
  /** Normalized machine configuration, planted bugs included. */
  config: MachineConfig;
  oracle: OracleName;
  /** Re-execute every run whose index is a multiple of this (0: never). */
  stabilityEvery: number;
  /** Keep `config` for every run (an external target: generate.ts GenOptions.fixedConfig). */
  fixedConfig?: boolean;
}

/** Corpus entries and coverage features the main thread accepted from one merged batch. */
export interface Sync {
  corpus: CorpusEntry[];
  features: number[];
}

/** A slice of a batch for one engine: runs start, start + step, ... below end. */
export interface Share {
  batch: number;
  start: number;
  step: number;
  end: number;
  /** Applied before the share runs (null: nothing new). */
  sync: Sync | null;
  /**
   * Runs earlier workers died running (or were stopped on for outlasting the run time limit): the
   * engine makes their traces but does not run them, and reports each as a harness fault
   * (WORKER_FAULT) instead. Absent when no fault happened.
   */
  faulted?: Array<{ run: number; detail: string }>;
}

/**
 * Invariant id of a harness fault: the run's worker threw outside the checks, died, or was
 * stopped for outlasting the run time limit (its own signature, so the trace is kept and counted
 * rather than lost; see `workerFaultSignature`).
 */
export const WORKER_FAULT = 'harness.worker-fault';

/** Coarse fault details (signatures group by them). */
export const FAULT_THREW = 'the run threw outside the checks';
export const FAULT_DIED = 'the worker thread died running it';
export const FAULT_HUNG = 'the run did not finish within the run time limit';

export function workerFaultSignature(detail: string): Signature {
  return { invariant: WORKER_FAULT, op: 'run', detail };
}

export interface RunFailure {
  signature: Signature;
  step: number;
  detail: string;
  /** The id of the rule in dispute (src/model/rules.ts), when the finding names one. */
  rule?: string;
  /**
   * Other explanations that fit the failing step as well (src/check/checkers.ts
   * Finding.alternates), as signatures: the campaign files the failure under one of them when
   * its own signature is new and that one is on file (file-under.ts). Absent when there are none.
   */
  alternates?: Signature[];
}

export interface RunReport {
  run: number;
  /** Ops executed (with all checks). */
  ops: number;
  mutated: boolean;
  /** Coverage features this engine had not seen before this run. */
  fresh: number[];
  /** The trace, when the main thread may keep it (fresh coverage or a failure). */
  trace: Trace | null;
  failure: RunFailure | null;
  /** Determinism self-check: null when this run was not sampled. */
  stable: boolean | null;
  /** Rule coverage of the run: (index, count) pairs (src/fuzz/rule-coverage.ts). */
  rules: number[];
  /**
   * Every coverage feature the run reached, ascending, when its trace may join the corpus (kept,
   * no failure): the seed scheduler's weight input (corpus.ts), which an engine otherwise gets
   * by running the trace again. Absent otherwise, when the run reached too many to keep, and on an
   * external target (its outcomes are not the model's, which engines run corpus traces on).
   */
  features?: number[];
}

export type ToWorker =
  | { type: 'share'; share: Share }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; batch: number; reports: RunReport[] }
  | { type: 'error'; message: string };
