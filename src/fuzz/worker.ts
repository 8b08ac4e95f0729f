/**
 * A campaign worker thread: one RunEngine, fed shares of batches by the main thread
 * (executor.ts), answering each with its run reports.
 * Contract: the engine is built from `workerData` (protocol.ts EngineConfig plus the initial
 * sync); shares are executed in the order received; nothing is written to disk here (the main
 * thread owns the crash store, corpus and stats). The run in progress is published in the shared
 * `progress` slot (-1 between runs), so that if this thread dies, or stays on one run past the run
 * time limit, the pool can report that run as a harness fault; runs that throw are reported as
 * faults by the engine itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TARGETS } from '../check/targets.js';
import { RunEngine } from './engine.js';
import type { WorkerData } from './executor.js';
import type { FromWorker, ToWorker } from './protocol.js';

const port = parentPort;
if (port !== null) {
  const data = workerData as WorkerData;
  const engine = new RunEngine(data.cfg, TARGETS[data.cfg.oracle]);
  engine.applySync(data.init);
  port.on('message', (m: ToWorker) => {
    if (m.type === 'stop') { port.close(); return; }
    const slot = data.progress;
    const reports = engine.runShare(m.share, slot === undefined ? undefined : (run) => { slot[0] = run; });
    const out: FromWorker = { type: 'done', batch: m.share.batch, reports };
    port.postMessage(out);
  });
  const ready: FromWorker = { type: 'ready' };
  port.postMessage(ready);
}
