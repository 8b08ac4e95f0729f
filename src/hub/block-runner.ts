/**
 * Runs one block of a hub campaign on this machine's engines (an executor of src/fuzz: worker
 * threads, or inline with `workers` 0), fed exactly the corpus and coverage a local campaign's
 * batch of the same index would see.
 * Contract: block k (runs k*B .. k*B+B-1) runs against the merge records 0..k-L (L the sync lag),
 * as local batch k runs against the syncs of batches 0..k-L (protocol.ts); so its reports are
 * those of the local batch, whichever machine runs it. Blocks taken in rising order reuse the
 * engines (they learn only the records in between; on an external target, `workers` target
 * processes at once, as a local `--target` campaign runs them); a block at or below one already run here
 * (taken over from a dead machine) gets fresh engines, since the engines' coverage holds the
 * features of the later runs, and a report's fresh features must be all those new before its
 * run (engine.ts contract). An abandoned block (Ctrl-C) or a short answer is an error, never a result.
 */
import type { Target } from '../check/runner.js';
import { InlineExecutor, WorkerPool, type Executor } from '../fuzz/executor.js';
import { TargetExecutor } from '../fuzz/target-executor.js';
import type { ExternalTarget } from '../target/external.js';
import type { EngineConfig, RunReport } from '../fuzz/protocol.js';
import type { MergedState } from './merged-state.js';

export class BlockRunner {
  private executor: Executor | null = null;
  /** Merge records the engines have learnt (0..applied-1). */
  private applied = 0;
  /** The highest block the engines have run: their coverage holds its runs' features. */
  private lastBlock = -1;
  private batchId = 0;

  constructor(
    private readonly cfg: EngineConfig,
    private readonly target: Target,
    private readonly workers: number,
    private readonly syncLag: number,
    private readonly runTimeoutMs: number,
    /** An external target (the traces run there), or null for the built-in machine. */
    private readonly external: ExternalTarget | null = null,
  ) {}

  /** Records block k must see: 0..k-L (a count). */
  needs(block: number): number {
    return Math.max(0, block - this.syncLag + 1);
  }

  async run(block: number, start: number, end: number, state: MergedState): Promise<RunReport[]> {
    const through = this.needs(block);
    if (state.blocks < through) throw new Error(`block ${block} needs ${through} merged blocks, ${state.blocks} are`);
    let sync = null;
    // Engines that ran block j hold the features of j's runs, which block k may see only if j < k
    // (blocks below L all see no record, so the record count alone cannot tell).
    if (this.executor === null || this.applied > through || block <= this.lastBlock) {
      await this.close();
      const init = state.initThrough(through);
      this.executor = this.external !== null ? new TargetExecutor({ ...this.cfg, fixedConfig: true }, this.external, init, this.workers)
        : this.workers === 0 ? new InlineExecutor(this.cfg, this.target, init) : new WorkerPool(this.cfg, this.workers, init, this.runTimeoutMs);
    } else if (this.applied < through) {
      sync = state.syncThrough(this.applied, through);
    }
    this.applied = through;
    this.lastBlock = block;
    const ex = this.executor;
    ex.submit(this.batchId++, start, end, sync);
    let reports: RunReport[];
    try {
      reports = await ex.next();
    } catch (e) {
      await this.close();
      throw e;
    }
    if (reports.length !== end - start) {
      // Abandoned (a stop request): the engines are gone; this block goes back to the queue.
      await this.close();
      throw new Error(`block ${block}: ${reports.length} of ${end - start} runs reported (stopped)`);
    }
    return reports;
  }

  async close(): Promise<void> {
    const ex = this.executor;
    this.executor = null;
    this.applied = 0;
    this.lastBlock = -1;
    if (ex !== null) await ex.close();
  }
}
