/**
 * What the runner and the checkers may ask of a machine (the hardware in bare mode, and later the
 * hypervisor over it). Contract: `apply` is deterministic; after it returns, `touchedFrames`
 * lists every host frame whose bytes the op may have changed (data, A/D bits, table entries).
 */
import type { Op } from '../trace/ops.js';
import type { Outcome, PageView } from './outcome.js';

export interface MachineApi {
  apply(op: Op): Outcome;
  /** Host-physical read of 1..8 bytes, little-endian; absent frames read as zero. No side effects. */
  readPhys(hpa: number, size: number): bigint;
  /** The 4096 bytes of a host frame (a copy), or null if the frame was never written. */
  frameBytes(frame: number): Uint8Array | null;
  /** Host frame numbers written by the last `apply` (deduplicated, any order). */
  touchedFrames(): readonly number[];
  /** Zero-copy view of a frame's bytes, valid until the next `apply`; null if never written. */
  frameView?(frame: number): Uint8Array | null;
  /** Every backed frame (for full sweeps), ascending. */
  frames?(): readonly number[];
  /**
   * The state of the host pages the last `apply` touched (hv mode's hypervisor, docs/hypervisor.md
   * "State you can see"), for `replay --json`; at most TOUCHED_PAGES_MAX, by pfn. Called only when
   * step records are kept.
   */
  touchedPages?(): ReadonlyArray<PageState>;
  /** hv mode: the hypervisor's free pool frames now (compared with the model's after every op: hv.pool-count). */
  poolFree?(): number;
}

/** One host page's state after a step (the pfn part of a `page` outcome's PageView). */
export type PageState = { pfn: number } & Pick<PageView, 'host' | 'owner' | 'hyp' | 'pins' | 'shares' | 'ffa' | 'guests'>;

/** Pages a step's state record lists (a 2 MiB share touches 512: the first ones by pfn). */
export const TOUCHED_PAGES_MAX = 16;
