/**
 * The campaign-wide merge: folds the committed merge records into this machine's MergedState and
 * commits the next ones from the blocks' results, in block order.
 * Contract: record k is committed once, by one Lua script that checks `merged == k` and then, in
 * one step, stores the record, advances `merged`, deletes block k's result, stores the
 * minimization input of each new signature (and marks it pending), adds to the totals and the
 * rule coverage (hub-rules.ts) and, at
 * most once a second, appends a sample of them to the campaign's series (hub-series.ts): a
 * machine dying anywhere leaves either all of it or none, and every machine that merges block k
 * computes the same record (merged-state.ts), so it does not matter which one wins. A record
 * committed by another machine is compared byte for byte with ours when we computed one: a
 * difference means the campaign is not deterministic, and stops this machine (one line).
 * A malformed result is rejected (one line in the log), deleted, and its block queued again.
 * After each commit the minimization jobs of new signatures are queued (jobId = hash: once) and
 * the block queue is topped up to BLOCKS_QUEUED_AHEAD blocks past the merge.
 */
import type { Queue } from 'bullmq';
import { formatSignature } from '../check/violation.js';
import type { Hub } from './hub-connection.js';
import { blockCount, type HubMeta } from './hub-campaign.js';
import type { CampaignKeys } from './hub-keys.js';
import { decodeBlockResult, decodeMergeRecord, encodeMergeRecord, encodeMinimizeInput, HubMessageError } from './hub-messages.js';
import { MergedState } from './merged-state.js';
import { seriesLua } from './hub-series.js';
import { blockRuleFields, ruleFieldsLua } from './hub-rules.js';
import { HubError } from './hub-error.js';

/** Blocks queued past the merged ones: enough for hundreds of machines to find work at once. */
export const BLOCKS_QUEUED_AHEAD = 512;
/** Merge records fetched per round trip when catching up. */
const FETCH_CHUNK = 64;

export interface BlockJobData {
  block: number;
}

export const BLOCK_JOB_OPTIONS = {
  // A failed attempt (an error on the machine running it) is retried; a dead machine's block comes
  // back through stalled-job detection instead (hub-machine.ts worker options).
  attempts: 1_000_000,
  backoff: { type: 'fixed', delay: 200 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 1000 },
} as const;

const COMMIT_LUA = `
-- KEYS: merged, merge:k, result:k, totals, minimize-pending, series, rules, then one minimize-input key per new signature
-- ARGV: k, record, runs, ops, hits, corpus, coverage, now_ms, stability_checked, stability_mismatches,
--       then per new signature: hash, input; then the block's rule counts: name, count, ...
if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], tonumber(ARGV[1]) + 1)
redis.call('DEL', KEYS[3])
redis.call('HINCRBY', KEYS[4], 'runs', ARGV[3])
redis.call('HINCRBY', KEYS[4], 'ops', ARGV[4])
redis.call('HINCRBY', KEYS[4], 'hits', ARGV[5])
redis.call('HINCRBY', KEYS[4], 'corpus', ARGV[6])
redis.call('HINCRBY', KEYS[4], 'coverage', ARGV[7])
redis.call('HINCRBY', KEYS[4], 'stability_checked', ARGV[9])
redis.call('HINCRBY', KEYS[4], 'stability_mismatches', ARGV[10])
local n = #KEYS - 7
if n > 0 or tonumber(ARGV[6]) > 0 then redis.call('HSET', KEYS[4], 'last_find_ms', ARGV[8]) end
redis.call('HINCRBY', KEYS[4], 'signatures', n)
for i = 1, n do
  redis.call('SET', KEYS[7 + i], ARGV[10 + 2 * i], 'NX')
  redis.call('SADD', KEYS[5], ARGV[9 + 2 * i])
end
${ruleFieldsLua('KEYS[7]', '11 + 2 * n')}
${seriesLua('KEYS[4]', 'KEYS[6]', 'ARGV[8]', 'tonumber(ARGV[1]) + 1')}
return 1
`;

const RAISE_LUA = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

export class HubMerger {
  readonly state = new MergedState();
  private chain: Promise<void> = Promise.resolve();
  readonly blocksTotal: number | null;

  constructor(
    private readonly hub: Hub,
    private readonly keys: CampaignKeys,
    private readonly meta: HubMeta,
    private readonly queues: { blocks: Queue; minimize: Queue } | null,
    private readonly log: (line: string) => void,
  ) {
    this.blocksTotal = blockCount(meta.spec);
  }

  /** Runs from block k: [start, end). */
  range(block: number): { start: number; end: number } {
    const b = this.meta.spec.block_runs;
    const start = block * b;
    const runs = this.meta.spec.runs;
    return { start, end: runs === null ? start + b : Math.min(start + b, runs) };
  }

  async mergedCount(): Promise<number> {
    return Number((await this.hub.redis.get(this.keys.merged)) ?? '0');
  }

  /** Folds in the records other machines committed (one fold or merge at a time per machine). */
  catchUp(): Promise<void> {
    const next = this.chain.then(() => this.catchUpNow());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async catchUpNow(): Promise<void> {
    const seen = this.state.blocks;
    const merged = await this.mergedCount();
    this.checkIntact(merged, seen);
    while (this.state.blocks < merged) {
      const from = this.state.blocks;
      const to = Math.min(merged, from + FETCH_CHUNK);
      const ks = [];
      for (let k = from; k < to; k++) ks.push(this.keys.merge(k));
      const blobs = await this.hub.redis.mgetBuffer(...ks);
      for (let i = 0; i < blobs.length; i++) {
        const blob = blobs[i];
        if (blob === null) throw new HubMessageError(`merge record of block ${from + i} is missing on the hub though ${merged} blocks are merged`);
        this.state.apply(decodeMergeRecord(blob, from + i));
      }
    }
  }

  /**
   * The hub's merge count never goes back; if it did, the hub lost the campaign's data (a Redis
   * restarted without persistence, a flushed database): going on would mix two histories.
   * `seen` must be taken before `merged` was read (a merge may commit in between).
   */
  checkIntact(merged: number, seen = this.state.blocks): void {
    if (merged < seen) {
      throw new HubError(`campaign ${this.keys.name}: the hub holds ${merged} merged blocks where this machine has seen ${seen}: the hub lost the campaign's data (Redis restarted without appendonly?)`);
    }
  }

  /** Merges every block whose result is in, in order (one merge at a time per machine). */
  mergeAvailable(): Promise<void> {
    const next = this.chain.then(() => this.mergeLoop());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async mergeLoop(): Promise<void> {
    for (;;) {
      await this.catchUpNow();
      const k = this.state.blocks;
      if (this.blocksTotal !== null && k >= this.blocksTotal) return;
      const blob = await this.hub.redis.getBuffer(this.keys.result(k));
      if (blob === null) return;
      const { start, end } = this.range(k);
      let record;
      let ruleFields: string[];
      try {
        const result = decodeBlockResult(blob, k, start, end);
        record = this.state.mergeNext(result);
        ruleFields = blockRuleFields(result.reports);
      } catch (e) {
        if (!(e instanceof HubMessageError)) throw e;
        this.log(`hub: rejected ${e.message}; block ${k} is queued again`);
        await this.hub.redis.del(this.keys.result(k));
        await this.queues?.blocks.add('block', { block: k } satisfies BlockJobData, { ...BLOCK_JOB_OPTIONS, jobId: `b${k}-again-${Date.now()}` });
        return;
      }
      const bytes = encodeMergeRecord(record);
      const fresh = record.crashes.filter((c) => c.first && c.note === null && c.trace !== null);
      const keys = [this.keys.merged, this.keys.merge(k), this.keys.result(k), this.keys.totals, this.keys.minimizePending, this.keys.series, this.keys.rules, ...fresh.map((c) => this.keys.minimizeInput(c.hash))];
      const args: Array<string | Buffer> = [String(k), bytes, String(record.runs), String(record.ops), String(record.crashes.length), String(record.corpus.length), String(record.features.length), String(Date.now()), String(record.stabilityChecked), String(record.stabilityMismatches)];
      for (const c of fresh) args.push(c.hash, encodeMinimizeInput({ hash: c.hash, signature: c.signature, trace: c.trace! }));
      args.push(...ruleFields);
      const won = await this.hub.redis.eval(COMMIT_LUA, keys.length, ...keys, ...args);
      if (won === 1) {
        this.state.apply(record);
        for (const c of record.crashes.filter((x) => x.first)) this.log(`run ${c.run}: new failure ${formatSignature(c.signature)} (${c.hash}), ${c.trace?.ops.length ?? 0} ops`);
        await this.queueMinimizations(fresh.map((c) => c.hash));
        await this.topUp();
        continue;
      }
      // Another machine committed block k first: theirs must be ours, byte for byte.
      const theirs = await this.hub.redis.getBuffer(this.keys.merge(k));
      if (theirs !== null && !theirs.equals(bytes)) {
        throw new HubMessageError(`merge record of block ${k} differs from the one this machine computed: the campaign is not deterministic across machines (different eptfuzz builds?)`);
      }
    }
  }

  async queueMinimizations(hashes: readonly string[]): Promise<void> {
    if (this.queues === null || hashes.length === 0) return;
    await this.queues.minimize.addBulk(hashes.map((hash) => ({ name: 'minimize', data: { hash }, opts: { jobId: `m-${hash}`, attempts: 1_000_000, backoff: { type: 'fixed', delay: 500 }, removeOnComplete: false, removeOnFail: { count: 1000 } } })));
  }

  /** Re-queues every pending minimization (a machine died between its commit and queuing). */
  async requeuePendingMinimizations(): Promise<number> {
    const pending = await this.hub.redis.smembers(this.keys.minimizePending);
    await this.queueMinimizations(pending.sort());
    return pending.length;
  }

  /** Queues block jobs up to BLOCKS_QUEUED_AHEAD past the merge (jobId b<k>: a block is queued once). */
  async topUp(): Promise<void> {
    if (this.queues === null) return;
    const queued = Number((await this.hub.redis.get(this.keys.queued)) ?? '0');
    let target = this.state.blocks + BLOCKS_QUEUED_AHEAD;
    if (this.blocksTotal !== null) target = Math.min(target, this.blocksTotal);
    if (queued >= target) return;
    const jobs = [];
    for (let k = queued; k < target; k++) jobs.push({ name: 'block', data: { block: k } satisfies BlockJobData, opts: { ...BLOCK_JOB_OPTIONS, jobId: `b${k}` } });
    await this.queues.blocks.addBulk(jobs);
    await this.hub.redis.eval(RAISE_LUA, 1, this.keys.queued, String(target));
  }
}
