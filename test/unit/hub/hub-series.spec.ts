/**
 * The hub's wall-clock records, run on a real redis-server: the series of campaign totals stays
 * bounded (thinned to every other sample, first and last kept, interval doubled) and is read back
 * as plot rows closed by the totals of the last merge; sightings keep the earliest first and the
 * latest last time whatever order they arrive in, and a damaged record reads as "not recorded".
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../../src/hub/hub-connection.js';
import { campaignKeys } from '../../../src/hub/hub-keys.js';
import { readSeries, seriesLua, SERIES_EVERY_MS, SERIES_SAMPLES_MAX } from '../../../src/hub/hub-series.js';
import { readSightings, sightingsLua } from '../../../src/hub/hub-sightings.js';
import { plotRows } from '../../../src/report/hub-campaign-files.js';
import { redisOrSkipMessage, startRedis, type TestRedis } from '../../support/redis.js';

const have = redisOrSkipMessage('hub-series');

/** The commit's part that matters here: add to the totals, then the series step (as hub-merger.ts). */
const COMMIT = `
redis.call('SET', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'runs', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'ops', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'stability_checked', 1)
${seriesLua('KEYS[1]', 'KEYS[2]', 'ARGV[2]', 'tonumber(ARGV[1])')}
return 1
`;
const SIGHT = `${sightingsLua('KEYS[1]', 'ARGV[1]', 2)}\nreturn 1`;

describe.skipIf(!have)('hub series and sightings', () => {
  let redis: TestRedis;
  let r: Redis;
  let hub: Hub;
  beforeAll(async () => {
    redis = await startRedis();
    r = new Redis(redis.port, '127.0.0.1');
    hub = { redis: r } as unknown as Hub;
  });
  afterAll(async () => {
    r?.disconnect();
    await redis?.stop();
  });

  it('samples at most once per interval, thins past the cap, and ends with the last merge', async () => {
    const k = campaignKeys('series');
    const t0 = 1_800_000_000_000;
    const commit = (merged: number, t: number): Promise<unknown> => r.eval(COMMIT, 3, k.totals, k.series, k.merged, String(merged), String(t), '64', '1000');
    // Two commits within one interval: one sample; the second is only in the totals.
    await commit(1, t0);
    await commit(2, t0 + SERIES_EVERY_MS / 2);
    expect(await r.llen(k.series)).toBe(1);
    let s = await readSeries(hub, k);
    expect(s.samples.map((x) => [x.t_ms, x.runs, x.merged])).toEqual([[t0, 64, 1], [t0 + SERIES_EVERY_MS / 2, 128, 2]]);
    // A clock behind the last sample adds nothing.
    await commit(3, t0 - 5000);
    expect(await r.llen(k.series)).toBe(1);
    // Fill past the cap: thinned once, interval doubled, the first sample kept.
    const pipe = r.pipeline();
    for (let i = 1; i <= SERIES_SAMPLES_MAX; i++) pipe.eval(COMMIT, 3, k.totals, k.series, k.merged, String(3 + i), String(t0 + i * SERIES_EVERY_MS), '64', '1000');
    await pipe.exec();
    const len = await r.llen(k.series);
    expect(len).toBeGreaterThan(SERIES_SAMPLES_MAX / 2);
    expect(len).toBeLessThanOrEqual(SERIES_SAMPLES_MAX / 2 + 1);
    expect(await r.hget(k.totals, 'series_every_ms')).toBe(String(2 * SERIES_EVERY_MS));
    s = await readSeries(hub, k);
    expect(s.malformed).toBe(0);
    expect(s.samples[0].t_ms).toBe(t0);
    expect(s.samples.at(-1)!.merged).toBe(3 + SERIES_SAMPLES_MAX);
    for (let i = 1; i < s.samples.length; i++) expect(s.samples[i].t_ms).toBeGreaterThan(s.samples[i - 1].t_ms);
    // After thinning, samples come every 2 intervals.
    const before = await r.llen(k.series);
    await commit(5000, t0 + (SERIES_SAMPLES_MAX + 1) * SERIES_EVERY_MS);
    expect(await r.llen(k.series)).toBe(before);
    await commit(5001, t0 + (SERIES_SAMPLES_MAX + 2) * SERIES_EVERY_MS);
    expect(await r.llen(k.series)).toBe(before + 1);
    // A damaged sample is left out, not an error.
    await r.lset(k.series, 1, 'not,a,sample');
    expect((await readSeries(hub, k)).malformed).toBe(1);
  });

  it('reads the series as plot.csv rows: elapsed from the start, the rate between samples', () => {
    const start = 1_800_000_000_000;
    const sample = (t: number, ops: number, checked: number, mismatches: number) => ({ t_ms: start + t, runs: ops / 100, ops, coverage: 7, corpus: 3, signatures: 1, hits: 2, stability_checked: checked, stability_mismatches: mismatches, merged: 1 });
    const rows = plotRows([sample(2000, 10_000, 0, 0), sample(4500, 20_000, 4, 1)], start);
    expect(rows).toEqual([
      { elapsed_s: 2, runs: 100, ops: 10_000, ops_per_s: 5000, coverage: 7, corpus: 3, crashes_unique: 1, crashes_total: 2, stability_pct: 100 },
      { elapsed_s: 4.5, runs: 200, ops: 20_000, ops_per_s: 4000, coverage: 7, corpus: 3, crashes_unique: 1, crashes_total: 2, stability_pct: 75 },
    ]);
  });

  it('keeps the earliest first and the latest last sighting, in any order', async () => {
    const k = campaignKeys('seen');
    const sight = (t: number, ...hashes: string[]): Promise<unknown> => r.eval(SIGHT, 1, k.seen, String(t), ...hashes);
    const t0 = 1_800_000_000_000;
    await sight(t0 + 500, 'aaaa', 'bbbb');
    await sight(t0, 'aaaa');
    await sight(t0 + 900, 'aaaa');
    await sight(t0 + 100, 'bbbb');
    await r.hset(k.seen, 'cccc', 'garbage');
    const seen = await readSightings(hub, k);
    expect(Object.fromEntries(seen)).toEqual({
      aaaa: { first_seen: new Date(t0).toISOString(), last_seen: new Date(t0 + 900).toISOString() },
      bbbb: { first_seen: new Date(t0 + 100).toISOString(), last_seen: new Date(t0 + 500).toISOString() },
    });
    // A damaged record is replaced by the next sighting.
    await sight(t0 + 2000, 'cccc');
    expect((await readSightings(hub, k)).get('cccc')).toEqual({ first_seen: new Date(t0 + 2000).toISOString(), last_seen: new Date(t0 + 2000).toISOString() });
  });
});
