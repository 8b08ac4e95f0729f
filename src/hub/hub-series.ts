/**
 * A hub campaign over time: samples of the campaign totals, the hub's counterpart of a local
 * campaign's plot.csv (what `eptfuzz report --hub` plots).
 * Contract: the merge commit (hub-merger.ts) appends a sample to the campaign's `series` list when
 * SERIES_EVERY_MS have passed (by the merging machine's clock) since the last one; a sample is
 * `T_MS,RUNS,OPS,COVERAGE,CORPUS,SIGNATURES,HITS,STABILITY_CHECKED,STABILITY_MISMATCHES,MERGED`,
 * the totals right after that commit. The list is bounded: past SERIES_SAMPLES_MAX samples every
 * other one is dropped (the first and the last kept) and the interval doubles, so a campaign of any
 * length keeps 2,049-4,096 samples spread over its whole life (about 330 KB). The commit also keeps
 * `merged_ms` (its time) in the totals, so the reader ends the series with the totals of the last
 * merge even between samples. Wall-clock data only: nothing a campaign decides reads it.
 */
import type { Hub } from './hub-connection.js';
import type { CampaignKeys } from './hub-keys.js';

/** At most one sample per second of merging (a campaign merges many blocks a second at scale). */
export const SERIES_EVERY_MS = 1000;
/** Samples kept before the list is thinned (every other one) and the interval doubled. */
export const SERIES_SAMPLES_MAX = 4096;

export interface SeriesSample {
  t_ms: number;
  runs: number;
  ops: number;
  coverage: number;
  corpus: number;
  signatures: number;
  hits: number;
  stability_checked: number;
  stability_mismatches: number;
  merged: number;
}

const FIELDS: ReadonlyArray<keyof SeriesSample> = ['t_ms', 'runs', 'ops', 'coverage', 'corpus', 'signatures', 'hits', 'stability_checked', 'stability_mismatches', 'merged'];

/**
 * Lua run in the commit after the totals are added to: `totals` and `series` name its KEYS slots,
 * `now` and `merged` expressions giving the commit's time (ms) and the blocks merged after it.
 */
export function seriesLua(totals: string, series: string, now: string, merged: string): string {
  return `
local t_now = tonumber(${now})
redis.call('HSET', ${totals}, 'merged_ms', t_now)
local book = redis.call('HMGET', ${totals}, 'series_every_ms', 'series_last_ms')
local every = tonumber(book[1] or '${SERIES_EVERY_MS}')
local t_last = tonumber(book[2] or '-1')
if t_last < 0 or t_now - t_last >= every then
  local v = redis.call('HMGET', ${totals}, 'runs', 'ops', 'coverage', 'corpus', 'signatures', 'hits', 'stability_checked', 'stability_mismatches')
  local sample = string.format('%.0f', t_now)
  for i = 1, #v do sample = sample .. ',' .. (v[i] or '0') end
  sample = sample .. ',' .. tostring(${merged})
  redis.call('HSET', ${totals}, 'series_last_ms', t_now)
  if redis.call('RPUSH', ${series}, sample) > ${SERIES_SAMPLES_MAX} then
    local all = redis.call('LRANGE', ${series}, 0, -1)
    local kept = {}
    for i = 1, #all, 2 do kept[#kept + 1] = all[i] end
    if #all % 2 == 0 then kept[#kept + 1] = all[#all] end
    redis.call('DEL', ${series})
    for i = 1, #kept, 1000 do redis.call('RPUSH', ${series}, unpack(kept, i, math.min(i + 999, #kept))) end
    redis.call('HSET', ${totals}, 'series_every_ms', every * 2)
  end
end
`;
}

function parseSample(text: string): SeriesSample | null {
  const cells = text.split(',');
  if (cells.length !== FIELDS.length) return null;
  const s: Record<string, number> = {};
  for (const [i, f] of FIELDS.entries()) {
    if (!/^\d{1,16}$/.test(cells[i])) return null;
    s[f] = Number(cells[i]);
  }
  return s as unknown as SeriesSample;
}

export interface CampaignSeries {
  /** In time order; the last is the totals at the last merge when that came after the last sample. */
  samples: SeriesSample[];
  /** Samples on the hub that did not parse (left out). */
  malformed: number;
}

/** The campaign's samples, closed by its current totals. */
export async function readSeries(hub: Hub, keys: CampaignKeys): Promise<CampaignSeries> {
  // One transaction: the samples, the totals and the merge count of the same moment.
  const replies = (await hub.redis.multi().lrange(keys.series, 0, -1).hgetall(keys.totals).get(keys.merged).exec()) ?? [];
  const [raw, totals, mergedText] = replies.map(([e, v]) => {
    if (e !== null) throw e;
    return v;
  }) as [string[], Record<string, string>, string | null];
  const samples: SeriesSample[] = [];
  let malformed = 0;
  for (const text of raw) {
    const s = parseSample(text);
    if (s === null || (samples.length > 0 && s.t_ms < samples[samples.length - 1].t_ms)) malformed++;
    else samples.push(s);
  }
  const mergedMs = Number(totals.merged_ms ?? 'NaN');
  const merged = Number(mergedText ?? '0');
  const last = samples.at(-1);
  if (Number.isSafeInteger(mergedMs) && (last === undefined || (mergedMs >= last.t_ms && merged > last.merged))) {
    const n = (k: string): number => { const v = Number(totals[k] ?? '0'); return Number.isSafeInteger(v) && v >= 0 ? v : 0; };
    samples.push({ t_ms: mergedMs, runs: n('runs'), ops: n('ops'), coverage: n('coverage'), corpus: n('corpus'), signatures: n('signatures'), hits: n('hits'), stability_checked: n('stability_checked'), stability_mismatches: n('stability_mismatches'), merged });
  }
  return { samples, malformed };
}
