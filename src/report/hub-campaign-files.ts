/**
 * A hub campaign read for the report as a campaign's stats directory is read (campaign-files.ts):
 * the same CampaignFiles, so the report's tables and plots need not know where a campaign ran.
 * Contract: `stats` holds the keys the report's campaign table reads, from the hub's metadata,
 * totals and machine records; `plot` holds one PlotRow per sample of the campaign's series
 * (src/hub/hub-series.ts) with the plot.csv meanings: elapsed_s counts from the first machine's
 * start (wall clock, gaps with no machine included), ops_per_s is the whole campaign's rate since
 * the previous sample (all machines together), stability_pct is over the campaign's self-checks.
 * Rule coverage: the campaign's `rules` hash, added to by every merge commit (src/hub/hub-rules.ts),
 * read as a local campaign's rule-coverage.json; null for a campaign whose machines kept none
 * (an eptfuzz before rule coverage reached the hub).
 */
import type { Hub } from '../hub/hub-connection.js';
import { campaignState, loadMeta, type HubMeta } from '../hub/hub-campaign.js';
import { hubRuleCoverage as readHubRules } from '../hub/hub-rules.js';
import type { CampaignKeys } from '../hub/hub-keys.js';
import { readSeries, type SeriesSample } from '../hub/hub-series.js';
import type { CampaignFiles, PlotRow } from './campaign-files.js';
import { parseRuleCoverage, type RuleCoverage } from './rule-coverage-file.js';

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const stabilityPct = (s: SeriesSample): number => (s.stability_checked === 0 ? 100 : (100 * (s.stability_checked - s.stability_mismatches)) / s.stability_checked);

/** The series as plot.csv rows, from `startMs` (ms) on. */
export function plotRows(samples: readonly SeriesSample[], startMs: number): PlotRow[] {
  let prev: { t_ms: number; ops: number } = { t_ms: startMs, ops: 0 };
  return samples.map((s) => {
    const dt = Math.max(1, s.t_ms - prev.t_ms);
    const row: PlotRow = {
      elapsed_s: Math.round(Math.max(0, s.t_ms - startMs) / 100) / 10,
      runs: s.runs,
      ops: s.ops,
      ops_per_s: Math.round(Math.max(0, s.ops - prev.ops) / (dt / 1000)),
      coverage: s.coverage,
      corpus: s.corpus,
      crashes_unique: s.signatures,
      crashes_total: s.hits,
      stability_pct: Math.round(stabilityPct(s) * 100) / 100,
    };
    prev = s;
    return row;
  });
}

/** The campaign's rule coverage (see the module contract), or null when the hub holds none. */
export async function hubRuleCoverage(hub: Hub, keys: CampaignKeys, meta: HubMeta): Promise<RuleCoverage | null> {
  if ((await hub.redis.exists(keys.rules)) === 0) return null;
  return parseRuleCoverage(`hub campaign ${keys.name}`, await readHubRules(hub, keys, meta));
}

interface MachineTimes { started_ms: number; updated_ms: number }

function machineTimes(raw: Record<string, string>): MachineTimes[] {
  const out: MachineTimes[] = [];
  for (const text of Object.values(raw)) {
    try {
      const m = JSON.parse(text) as Partial<MachineTimes>;
      if (typeof m.started_ms === 'number' && typeof m.updated_ms === 'number') out.push({ started_ms: m.started_ms, updated_ms: m.updated_ms });
    } catch {
      // A record that does not parse is `status`' business (it leaves it out too).
    }
  }
  return out;
}

/** Campaign `keys.name` as the report reads a stats directory; `dir` is how the page names it. */
export async function hubCampaignFiles(hub: Hub, keys: CampaignKeys, dir: string): Promise<CampaignFiles> {
  const meta = await loadMeta(hub, keys);
  const state = await campaignState(hub, keys);
  const { samples } = await readSeries(hub, keys);
  const machines = machineTimes(await hub.redis.hgetall(keys.machines));
  const first = samples[0]?.t_ms ?? null;
  const starts = machines.map((m) => m.started_ms);
  const startMs = starts.length > 0 ? Math.min(...starts, first ?? Infinity) : first;
  const plot = startMs === null ? [] : plotRows(samples, startMs);
  const last = samples.at(-1);
  const updates = [...machines.map((m) => m.updated_ms), ...(last === undefined ? [] : [last.t_ms])];
  const lastMs = updates.length > 0 ? Math.max(...updates) : null;
  const stats = new Map<string, string>([['seed', meta.spec.seed], ['hub_campaign', keys.name], ['hub_state', state], ['machines', String(machines.length)], ['eptfuzz_version', meta.spec.eptfuzz]]);
  if (startMs !== null) stats.set('start_time', iso(startMs));
  if (lastMs !== null) stats.set('last_update', iso(lastMs));
  if (last !== undefined) {
    const row = plot[plot.length - 1];
    // Rates up to the last merge (machines leaving afterwards add no work).
    const elapsed = Math.max(1e-3, (last.t_ms - (startMs ?? last.t_ms)) / 1000);
    for (const [k, v] of [['runs', last.runs], ['ops', last.ops], ['coverage', last.coverage], ['corpus', last.corpus], ['crashes_unique', last.signatures], ['crashes_total', last.hits]] as const) stats.set(k, String(v));
    stats.set('elapsed_s', row.elapsed_s.toFixed(1));
    stats.set('execs_per_s', String(Math.round(last.runs / elapsed)));
    stats.set('ops_per_s', String(Math.round(last.ops / elapsed)));
    stats.set('stability_pct', stabilityPct(last).toFixed(2));
  }
  return { dir, label: `${dir} seed ${meta.spec.seed}`, stats, plot, ruleCoverage: await hubRuleCoverage(hub, keys, meta) };
}
