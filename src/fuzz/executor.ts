/**
 * Executors run batches of a campaign's run space (protocol.ts): inline on the calling thread, or
 * on a pool of worker threads, one engine per worker.
 * Contract: `submit` queues a batch; `next` resolves with the reports of the oldest unfinished
 * batch, sorted by run index, whichever thread ran them. Both executors give the same reports
 * for the same batches and syncs (the engine is the same code), so a campaign's outputs do not
 * depend on the executor or the worker count. A worker that fails rejects `next` with its error.
 */
import { Worker } from 'node:worker_threads';
import { setImmediate as immediate } from 'node:timers/promises';
import type { Target } from '../check/runner.js';
import { RunEngine } from './engine.js';
import type { EngineConfig, FromWorker, RunReport, Share, Sync, ToWorker } from './protocol.js';

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

  constructor(cfg: EngineConfig, target: Target, init: Sync) {
    this.engine = new RunEngine(cfg, target);
    this.engine.applySync(init);
  }

  submit(batch: number, start: number, end: number, sync: Sync | null): void {
    this.queue.push({ batch, start, step: 1, end, sync });
  }

  async next(): Promise<RunReport[]> {
    // Let timers, signals and the campaign's own slices run between batches.
    await immediate();
    const share = this.queue.shift();
    if (share === undefined) throw new Error('InlineExecutor.next with no batch submitted');
    return this.engine.runShare(share);
  }

  async close(): Promise<void> {}
}

/** Data a worker thread starts from. */
export interface WorkerData {
  cfg: EngineConfig;
  init: Sync;
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

export class WorkerPool implements Executor {
  private readonly pool: Worker[] = [];
  private readonly pending: Pending[] = [];
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private closing = false;

  constructor(cfg: EngineConfig, readonly workers: number, init: Sync) {
    for (let w = 0; w < workers; w++) {
      const worker = spawnWorker({ cfg, init });
      worker.on('message', (m: FromWorker) => this.onMessage(m));
      worker.on('error', (e: Error) => this.fail(new Error(`worker ${w} failed: ${e.message}`)));
      worker.on('exit', (code) => { if (!this.closing) this.fail(new Error(`worker ${w} exited with code ${code}`)); });
      this.pool.push(worker);
    }
  }

  private fail(e: Error): void {
    if (this.failure === null) this.failure = e;
    this.wake?.();
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'error') { this.fail(new Error(m.message)); return; }
    if (m.type !== 'done') return;
    const p = this.pending.find((x) => x.batch === m.batch);
    if (p === undefined) return;
    p.parts.push(m.reports);
    p.missing--;
    if (p.missing === 0) this.wake?.();
  }

  submit(batch: number, start: number, end: number, sync: Sync | null): void {
    const n = this.workers;
    this.pending.push({ batch, parts: [], missing: n });
    for (let w = 0; w < n; w++) {
      // Run r belongs to worker r mod n.
      const first = start + ((((w - start) % n) + n) % n);
      const msg: ToWorker = { type: 'share', share: { batch, start: first, step: n, end, sync } };
      this.pool[w].postMessage(msg);
    }
  }

  async next(): Promise<RunReport[]> {
    const head = this.pending[0];
    if (head === undefined) throw new Error('WorkerPool.next with no batch submitted');
    while (head.missing > 0 && this.failure === null) {
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = null;
    }
    if (this.failure !== null) throw this.failure;
    this.pending.shift();
    return head.parts.flat().sort((a, b) => a.run - b.run);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.pool.map((w) => w.terminate()));
  }
}
