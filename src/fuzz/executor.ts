/**
 * Executors run batches of a campaign's run space (protocol.ts): inline on the calling thread, or
 * on a pool of worker threads, one engine per worker.
 * Contract: `submit` queues a batch; `next` resolves with the reports of the oldest unfinished
 * batch, sorted by run index, whichever thread ran them. Both executors give the same reports
 * for the same batches and syncs (the engine is the same code), so a campaign's outputs do not
 * depend on the executor or the worker count. A worker thread that dies (or errors) is replaced:
 * the replacement starts from the same corpus and coverage the dead one had when it started its
 * oldest unanswered share, gets its unanswered shares again, and reports the run the dead one was
 * running as a harness fault (protocol.ts WORKER_FAULT) instead of running it. Only a worker that
 * keeps dying without running anything (it cannot start) rejects `next` with its error.
 * Run time limit (WorkerPool `runTimeoutMs`, 0 = off): a watchdog timer on the main thread reads
 * the workers' `progress` slots; a worker seen on the same run for longer than the limit is
 * terminated and handled exactly like a dead one, its run reported with FAULT_HUNG. The timer
 * only reads memory (unref'd, cleared on close and abandon), so without a hang nothing changes.
 * The inline executor cannot interrupt a run: the limit applies to worker threads only.
 * Prompt stop: `abandonExecutors()` (the CLI calls it on SIGINT/SIGTERM) makes every live executor
 * answer `next` at once with no reports for every batch not yet returned (workers are terminated,
 * the inline executor stops between runs): the campaign then merges nothing more, so its saved
 * run index stays at the end of the last merged batch and a resumed campaign runs the abandoned
 * runs again. Without it nothing changes.
 */
import { Worker } from 'node:worker_threads';
import { setImmediate as immediate } from 'node:timers/promises';
import type { Target } from '../check/runner.js';
import { RunEngine } from './engine.js';
import { CORPUS_ENTRIES_MAX, type CorpusEntry } from './corpus.js';
import { FAULT_DIED, FAULT_HUNG, type EngineConfig, type FromWorker, type RunReport, type Share, type Sync, type ToWorker } from './protocol.js';

/** Executors created and not closed yet (for `abandonExecutors`). */
const live = new Set<{ abandon(): void }>();

/** Abandons the unfinished batches of every live executor (see the module contract). */
export function abandonExecutors(): void {
  for (const e of live) e.abandon();
}

/** Registers an executor of another module for `abandonExecutors`; the returned function unregisters it. */
export function trackExecutor(e: { abandon(): void }): () => void {
  live.add(e);
  return () => { live.delete(e); };
}

/** The inline executor yields to timers and signals at least this often (ms) while running a batch. */
const INLINE_YIELD_MS = 25;

export interface Executor {
  /** Engines running batches (0 for inline). */
  readonly workers: number;
  submit(batch: number, start: number, end: number, sync: Sync | null): void;
  next(): Promise<RunReport[]>;
  close(): Promise<void>;
}

export class InlineExecutor implements Executor {
  readonly workers = 0;
  private readonly engine: RunEngine;
  private readonly queue: Share[] = [];
  private abandoned = false;

  constructor(cfg: EngineConfig, target: Target, init: Sync) {
    this.engine = new RunEngine(cfg, target);
    this.engine.applySync(init);
    live.add(this);
  }

  abandon(): void {
    this.abandoned = true;
  }

  submit(batch: number, start: number, end: number, sync: Sync | null): void {
    this.queue.push({ batch, start, step: 1, end, sync });
  }

  async next(): Promise<RunReport[]> {
    // Let timers, signals and the campaign's own slices run between batches.
    await immediate();
    const share = this.queue.shift();
    if (share === undefined) throw new Error('InlineExecutor.next with no batch submitted');
    const out: RunReport[] = [];
    let since = performance.now();
    for (const rep of this.engine.shareSteps(share)) {
      if (this.abandoned) return [];
      out.push(rep);
      if (performance.now() - since >= INLINE_YIELD_MS) {
        await immediate();
        since = performance.now();
      }
    }
    return this.abandoned ? [] : out;
  }

  async close(): Promise<void> {
    live.delete(this);
  }
}

/** Data a worker thread starts from. */
export interface WorkerData {
  cfg: EngineConfig;
  init: Sync;
  /** Shared slot: the run the worker is running, -1 between runs (read by the watchdog, and after it died). */
  progress?: Float64Array;
}

/**
 * How to start a worker running src/fuzz/worker: compiled JavaScript runs worker.js directly;
 * TypeScript sources (vitest, tsx) boot a small script that registers tsx's loader in the worker
 * first, since Node 20 does not pass --import loaders on to `new Worker('x.ts')`.
 */
function spawnWorker(data: WorkerData): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const api = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./worker.ts', self).href;
    const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); }).catch((e) => { setImmediate(() => { throw e; }); });`;
    return new Worker(boot, { eval: true, workerData: data });
  }
  return new Worker(new URL('./worker.js', self), { workerData: data });
}

interface Pending {
  batch: number;
  parts: RunReport[][];
  missing: number;
}

/** Restarts in a row without a run finishing before the pool gives up (a worker that cannot start). */
const RESTARTS_IDLE_MAX = 3;

/** Default per-run time limit on worker threads (ms): far beyond any normal run. */
export const RUN_TIMEOUT_MS_DEFAULT = 60_000;
/** The watchdog looks at the progress slots every min(limit / 4, this) ms. */
const WATCHDOG_TICK_MAX_MS = 1000;

interface Slot {
  worker: Worker;
  /** This worker's own slot (a replacement gets a fresh one, so a dying worker cannot write to it). */
  progress: Float64Array;
  /** The watchdog's last reading of `progress`, and when (performance.now()) it first read it. */
  seen: number;
  since: number;
  /** Shares posted to this worker and not answered yet, oldest first. */
  outstanding: Share[];
  /** Restarts since this slot last answered a share. */
  restarts: number;
}

export class WorkerPool implements Executor {
  private readonly slots: Slot[] = [];
  private readonly pending: Pending[] = [];
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private closing = false;
  /**
   * Every corpus entry and feature sent so far (init first, then each batch's sync), and where
   * each batch's sync starts in them: a replacement worker is rebuilt from a prefix. Only the
   * newest CORPUS_ENTRIES_MAX entries matter (an engine's pool keeps no more), so older ones are
   * dropped (`corpusDropped` of them so far).
   */
  private corpusLog: CorpusEntry[];
  private corpusDropped = 0;
  private readonly featureLog: number[];
  private readonly syncStart = new Map<number, { corpus: number; features: number }>();
  /** Worker faults handled so far (tests, stats). */
  faults = 0;
  private abandoned = false;
  private readonly watchdog: NodeJS.Timeout | null = null;

  /** `runTimeoutMs`: the per-run time limit (0: off), see the module contract. */
  constructor(private readonly cfg: EngineConfig, readonly workers: number, init: Sync, private readonly runTimeoutMs = 0) {
    this.corpusLog = init.corpus.slice();
    this.featureLog = init.features.slice();
    for (let w = 0; w < workers; w++) {
      const slot: Slot = { worker: null as unknown as Worker, progress: new Float64Array(0), seen: -1, since: 0, outstanding: [], restarts: 0 };
      this.slots.push(slot);
      this.start(w, init);
    }
    if (runTimeoutMs > 0) {
      this.watchdog = setInterval(() => this.watch(), Math.max(1, Math.min(runTimeoutMs / 4, WATCHDOG_TICK_MAX_MS)));
      this.watchdog.unref();
    }
    live.add(this);
  }

  abandon(): void {
    if (this.abandoned || this.closing) return;
    this.abandoned = true;
    this.closing = true;
    this.stopWatchdog();
    for (const s of this.slots) void s.worker.terminate().catch(() => undefined);
    this.wake?.();
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
  }

  /**
   * The watchdog tick: a worker whose progress slot shows the same run as when it was first read
   * more than the limit ago is stopped (a run index never comes back on one worker, so equal
   * readings mean one run in progress all along, however late the ticks are).
   */
  private watch(): void {
    if (this.closing || this.failure !== null) return;
    const now = performance.now();
    for (let w = 0; w < this.slots.length; w++) {
      const slot = this.slots[w];
      const run = slot.progress[0];
      if (run !== slot.seen) {
        slot.seen = run;
        slot.since = now;
      } else if (run >= 0 && now - slot.since > this.runTimeoutMs) {
        this.restart(w, `worker ${w} ran run ${run} for over ${this.runTimeoutMs} ms`, FAULT_HUNG, run);
      }
    }
  }

  /** Starts (or restarts) worker w from `init`. */
  private start(w: number, init: Sync): void {
    const slot = this.slots[w];
    slot.progress = new Float64Array(new SharedArrayBuffer(8));
    slot.progress[0] = -1;
    slot.seen = -1;
    slot.since = performance.now();
    const worker = spawnWorker({ cfg: this.cfg, init, progress: slot.progress });
    slot.worker = worker;
    let handled = false;
    const died = (why: string): void => {
      if (handled || this.closing || slot.worker !== worker) return;
      handled = true;
      this.restart(w, why);
    };
    worker.on('message', (m: FromWorker) => { if (slot.worker === worker) this.onMessage(w, m); });
    worker.on('error', (e: Error) => died(`worker ${w} failed: ${e.message}`));
    worker.on('exit', (code) => died(`worker ${w} exited with code ${code}`));
  }

  /**
   * Worker w died (or was stopped on run `running`, `detail` then says why): report its run in
   * progress as a fault with `detail`, start a replacement, resend its shares.
   */
  private restart(w: number, why: string, detail = FAULT_DIED, running = this.slots[w].progress[0]): void {
    const slot = this.slots[w];
    void slot.worker.terminate().catch(() => undefined);
    const head = slot.outstanding[0];
    // Shares run in order, so the run in progress is in the oldest one, or (its answer posted
    // but not received) a later one.
    const lost = slot.outstanding.find((s) => running >= s.start && running < s.end && (running - s.start) % s.step === 0);
    if (lost === undefined) {
      // No run was lost (idle, or between runs): restart, unless it keeps dying like this.
      if (++slot.restarts > RESTARTS_IDLE_MAX) { this.fail(new Error(why)); return; }
    } else {
      this.faults++;
      slot.restarts = 0;
      (lost.faulted ??= []).push({ run: running, detail });
    }
    const first = head?.batch;
    const at = first === undefined ? { corpus: this.corpusDropped + this.corpusLog.length, features: this.featureLog.length } : this.syncStart.get(first)!;
    const keep = Math.max(0, at.corpus - this.corpusDropped - CORPUS_ENTRIES_MAX);
    const init: Sync = { corpus: this.corpusLog.slice(keep, at.corpus - this.corpusDropped), features: this.featureLog.slice(0, at.features) };
    this.start(w, init);
    for (const share of slot.outstanding) this.post(w, share);
  }

  private post(w: number, share: Share): void {
    const msg: ToWorker = { type: 'share', share };
    this.slots[w].worker.postMessage(msg);
  }

  private fail(e: Error): void {
    if (this.failure === null) this.failure = e;
    this.wake?.();
  }

  private onMessage(w: number, m: FromWorker): void {
    if (m.type === 'error') { this.fail(new Error(m.message)); return; }
    if (m.type !== 'done') return;
    const slot = this.slots[w];
    const i = slot.outstanding.findIndex((s) => s.batch === m.batch);
    if (i >= 0) slot.outstanding.splice(i, 1);
    slot.restarts = 0;
    const p = this.pending.find((x) => x.batch === m.batch);
    if (p === undefined) return;
    p.parts.push(m.reports);
    p.missing--;
    if (p.missing === 0) this.wake?.();
  }

  submit(batch: number, start: number, end: number, sync: Sync | null): void {
    const n = this.workers;
    this.syncStart.set(batch, { corpus: this.corpusDropped + this.corpusLog.length, features: this.featureLog.length });
    if (sync !== null) {
      for (const e of sync.corpus) this.corpusLog.push(e);
      for (const f of sync.features) this.featureLog.push(f);
      if (this.corpusLog.length > 2 * CORPUS_ENTRIES_MAX) {
        // Keep a margin past the cap: a replacement may start a few batches back.
        const drop = this.corpusLog.length - CORPUS_ENTRIES_MAX - 4096;
        this.corpusLog = this.corpusLog.slice(drop);
        this.corpusDropped += drop;
      }
    }
    this.pending.push({ batch, parts: [], missing: n });
    for (let w = 0; w < n; w++) {
      // Run r belongs to worker r mod n.
      const first = start + ((((w - start) % n) + n) % n);
      const share: Share = { batch, start: first, step: n, end, sync };
      this.slots[w].outstanding.push(share);
      this.post(w, share);
    }
  }

  async next(): Promise<RunReport[]> {
    const head = this.pending[0];
    if (head === undefined) throw new Error('WorkerPool.next with no batch submitted');
    while (head.missing > 0 && this.failure === null && !this.abandoned) {
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = null;
    }
    this.pending.shift();
    this.syncStart.delete(head.batch);
    if (this.abandoned) return [];
    if (this.failure !== null) throw this.failure;
    return head.parts.flat().sort((a, b) => a.run - b.run);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.stopWatchdog();
    live.delete(this);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
