/**
 * A campaign worker thread: one RunEngine, fed shares of batches by the main thread
 * (executor.ts), answering each with its run reports.
 * Contract: the engine is built from `workerData` (protocol.ts EngineConfig plus the initial
 * sync); shares are executed in the order received; nothing is written to disk here (the main
 * thread owns the crash store, corpus and stats).
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
    const reports = engine.runShare(m.share);
    const out: FromWorker = { type: 'done', batch: m.share.batch, reports };
    port.postMessage(out);
  });
  const ready: FromWorker = { type: 'ready' };
  port.postMessage(ready);
}
