/**
 * The campaign report as one self-contained HTML page: summary per campaign, plots over elapsed
 * time (throughput, coverage, unique signatures, failing runs; one series per campaign or shard),
 * the rule coverage table, and the crash table with a section per crash holding its decoded replay.
 * Contract: the page loads nothing over the network (the plotting library and its stylesheet are
 * inlined, data is embedded as JSON); every text from the inputs is HTML-escaped, and the embedded
 * JSON cannot close its script element. Pure: same inputs, same page.
 */
import type { CrashRow } from '../fuzz/crash-list.js';
import type { CampaignFiles, PlotRow } from './campaign-files.js';
import type { PlotLibrary } from './plot-library.js';
import { mechanismShares, type RuleCoverage } from './rule-coverage-file.js';

export interface CrashExplanation {
  /** `eptfuzz replay --verbose` of the repro, or null with `why` when not embedded. */
  text: string | null;
  why?: string;
  /** The repro file the text is of. */
  file: string;
}

export interface ReportInput {
  generatedAt: string;
  eptfuzzVersion: string;
  campaigns: CampaignFiles[];
  /** Merged over the campaigns that wrote one; null when none did. */
  ruleCoverage: RuleCoverage | null;
  /** Campaign directories without rule-coverage.json. */
  ruleCoverageMissing: string[];
  crashStores: string[];
  crashes: CrashRow[];
  explanations: Map<string, CrashExplanation>;
  library: PlotLibrary;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** JSON safe inside <script>: no `<` (so no `</script>`), no U+2028/2029. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  series: string[];
  /** uPlot's aligned data: [x values, then one y array per series (null where it has no row)]. */
  data: Array<Array<number | null>>;
  points: boolean;
}

const CHARTS: ReadonlyArray<{ id: string; title: string; unit: string; column: keyof PlotRow }> = [
  { id: 'chart-throughput', title: 'Throughput', unit: 'ops/s', column: 'ops_per_s' },
  { id: 'chart-coverage', title: 'Coverage', unit: 'features', column: 'coverage' },
  { id: 'chart-signatures', title: 'Findings: unique signatures', unit: 'signatures', column: 'crashes_unique' },
  { id: 'chart-failing', title: 'Findings: failing runs', unit: 'runs', column: 'crashes_total' },
];

function chartSpecs(campaigns: readonly CampaignFiles[]): ChartSpec[] {
  const xs = [...new Set(campaigns.flatMap((c) => c.plot.map((r) => r.elapsed_s)))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const rows = campaigns.reduce((n, c) => Math.max(n, c.plot.length), 0);
  return CHARTS.map((chart) => {
    const ys = campaigns.map((c) => {
      const y: Array<number | null> = xs.map(() => null);
      for (const r of c.plot) y[index.get(r.elapsed_s) as number] = r[chart.column];
      return y;
    });
    return { ...chart, series: campaigns.map((c) => c.label), data: [xs, ...ys], points: rows <= 60 };
  });
}

const num = (v: string | undefined): string => (v === undefined ? '-' : escapeHtml(v));

function campaignTable(campaigns: readonly CampaignFiles[]): string {
  const head = ['campaign', 'directory', 'runs', 'ops', 'elapsed s', 'execs/s', 'coverage', 'corpus', 'signatures', 'failing runs', 'stability %', 'started (UTC)', 'last update (UTC)', 'eptfuzz'];
  const rows = campaigns.map((c) => {
    const s = c.stats;
    const last = c.plot.at(-1);
    const pick = (k: string, col?: keyof PlotRow): string => num(s.get(k) ?? (last !== undefined && col !== undefined ? String(last[col]) : undefined));
    return `<tr><td>${escapeHtml(c.label)}</td><td><code>${escapeHtml(c.dir)}</code></td><td>${pick('runs', 'runs')}</td><td>${pick('ops', 'ops')}</td><td>${pick('elapsed_s', 'elapsed_s')}</td>`
      + `<td>${pick('execs_per_s')}</td><td>${pick('coverage', 'coverage')}</td><td>${pick('corpus', 'corpus')}</td><td>${pick('crashes_unique', 'crashes_unique')}</td><td>${pick('crashes_total', 'crashes_total')}</td>`
      + `<td>${pick('stability_pct', 'stability_pct')}</td><td>${num(s.get('start_time'))}</td><td>${num(s.get('last_update'))}</td><td>${num(s.get('eptfuzz_version'))}</td></tr>`;
  });
  return `<table class="grid"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function ruleSection(c: RuleCoverage | null, missing: readonly string[], total: number): string {
  if (c === null) {
    return `<p class="note" id="rule-coverage-absent">No rule coverage: ${total === 1 ? 'the campaign wrote' : 'none of the campaigns wrote'} no <code>rule-coverage.json</code> in its <code>--out</code> directory (an eptfuzz without rule coverage, or a campaign stopped before its first checkpoint).</p>`;
  }
  const lacking = missing.length === 0 ? '' : `<p class="note">Without <code>rule-coverage.json</code> (left out of the table): ${missing.map((d) => `<code>${escapeHtml(d)}</code>`).join(', ')}.</p>`;
  const shares = mechanismShares(c).map((m) => `<tr><td>${escapeHtml(m.mechanism)}</td><td>${m.hit} / ${m.rules}</td><td>${m.rules === 0 ? '-' : ((100 * m.hit) / m.rules).toFixed(0)}%</td><td>${m.unreachable}</td></tr>`).join('');
  const rules = c.rules.map((r) => {
    const cls = r.hits > 0 ? 'hit' : r.unreachable !== undefined ? 'unreachable' : 'missed';
    const status = r.hits > 0 ? 'reached' : r.unreachable !== undefined ? `unreachable: ${escapeHtml(r.unreachable)}` : 'never reached';
    return `<tr class="${cls}"><td><code>${escapeHtml(r.id)}</code></td><td>${escapeHtml(r.mechanism)}</td><td>${escapeHtml(r.source)}</td><td>${r.hits}</td><td>${status}</td></tr>`;
  }).join('');
  const extra = Object.entries(c.extra).map(([name, tally]) => {
    const entries = Object.entries(tally).sort((a, b) => b[1] - a[1]);
    return `<details><summary>${escapeHtml(name)} (${entries.length})</summary><table class="grid"><tbody>${entries.map(([k, v]) => `<tr><td><code>${escapeHtml(k)}</code></td><td>${v}</td></tr>`).join('')}</tbody></table></details>`;
  }).join('');
  return `${lacking}<table class="grid" id="rule-shares"><thead><tr><th>mechanism</th><th>rules reached</th><th>share</th><th>unreachable</th></tr></thead><tbody>${shares}</tbody></table>`
    + `<table class="grid" id="rule-table"><thead><tr><th>rule</th><th>mechanism</th><th>source</th><th>hits</th><th>status</th></tr></thead><tbody>${rules}</tbody></table>${extra}`;
}

const short = (iso: string | null): string => (iso === null ? '-' : escapeHtml(iso.replace(/\.\d{3}Z$/, 'Z')));

function crashSection(stores: readonly string[], crashes: readonly CrashRow[], explanations: ReadonlyMap<string, CrashExplanation>): string {
  if (stores.length === 0) return '<p class="note">No crash store found for these campaigns (give <code>--crashes DIR</code>).</p>';
  if (crashes.length === 0) return `<p>No failures in ${stores.map((s) => `<code>${escapeHtml(s)}</code>`).join(', ')}.</p>`;
  const rows = crashes.map((c) => `<tr><td><a href="#crash-${c.hash}"><code>${c.hash}</code></a></td><td>${escapeHtml(c.summary)}</td><td>${c.rule === null ? '-' : `<code>${escapeHtml(c.rule)}</code>`}</td>`
    + `<td>${c.count}</td><td>${short(c.firstSeen)}</td><td>${short(c.lastSeen)}</td><td>${c.reproOps ?? '?'}${c.minimized ? '' : ' (not minimized)'}</td><td><code>${escapeHtml(c.dir)}</code></td></tr>`).join('');
  const details = crashes.map((c) => {
    const e = explanations.get(c.hash);
    const body = e === undefined ? '<p class="note">not replayed</p>'
      : e.text === null ? `<p class="note">${escapeHtml(e.why ?? 'not replayed')}: run <code>eptfuzz replay --verbose ${escapeHtml(e.file)}</code></p>`
        : `<pre>$ eptfuzz replay --verbose ${escapeHtml(e.file)}\n${escapeHtml(e.text)}</pre>`;
    return `<section class="crash" id="crash-${c.hash}"><h3><code>${c.hash}</code> ${escapeHtml(c.summary)}</h3>`
      + `<p>${c.count} failing run(s)${Object.keys(c.sources).length > 1 ? ` (${Object.entries(c.sources).map(([k, n]) => `${escapeHtml(k)}: ${n}`).join(', ')})` : ''}; first seen ${short(c.firstSeen)}, last seen ${short(c.lastSeen)}; repro ${c.reproOps ?? '?'} ops, ${c.reproBytes ?? '?'} bytes; ${c.dirs.map((d) => `<code>${escapeHtml(d)}</code>`).join(', ')}</p>${body}</section>`;
  }).join('');
  const hubs = stores.filter((s) => /^hub:[A-Za-z0-9._-]+$/.test(s)).map((s) => s.slice(4));
  const pulled = hubs.length === 0 ? '' : `<p class="note" id="hub-stores">${hubs.map((n) => `<code>hub:${escapeHtml(n)}/</code>`).join(', ')}: the crash store of hub campaign ${hubs.map(escapeHtml).join(', ')}, read from the hub for this page; <code>eptfuzz crashes pull --hub URL --campaign NAME DIR</code> writes it locally (then replay <code>DIR/&lt;signature&gt;/repro.msgpack</code>).</p>`;
  return `${pulled}<table class="grid" id="crash-table"><thead><tr><th>signature</th><th>invariant @ op: detail</th><th>rule</th><th>count</th><th>first seen (UTC)</th><th>last seen (UTC)</th><th>repro ops</th><th>directory</th></tr></thead><tbody>${rows}</tbody></table>${details}`;
}

const PAGE_CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #1b1b1b; }
h1 { font-size: 1.5em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; } h3 { font-size: 1em; }
table.grid { border-collapse: collapse; margin: 0.6em 0; } table.grid td, table.grid th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
table.grid th { background: #f4f4f4; } tr.missed td { background: #fff4e0; } tr.unreachable td { color: #777; }
pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: 0.6em; overflow-x: auto; font-size: 12px; }
.note { color: #555; } .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1em; }
.chart { min-height: 300px; } .empty { color: #777; padding: 2em 0; }`;

/** Draws each chart from the embedded data with uPlot; a chart with no rows says so. */
const PAGE_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];
  data.charts.forEach(function (c) {
    var el = document.getElementById(c.id);
    if (c.data[0].length === 0) { el.innerHTML = '<p class="empty">' + c.title + ': no plot.csv rows</p>'; return; }
    var series = [{ label: 'elapsed s' }];
    c.series.forEach(function (name, i) {
      series.push({ label: name, stroke: colors[i % colors.length], width: 2, spanGaps: true, points: { show: c.points } });
    });
    var opts = {
      title: c.title + ' (' + c.unit + ')', width: Math.max(320, el.clientWidth || 560), height: 260,
      scales: { x: { time: false } }, series: series,
      axes: [{ label: 'elapsed (s)' }, { label: c.unit, size: 70 }]
    };
    new uPlot(opts, c.data, el);
  });
  document.body.setAttribute('data-charts-drawn', String(data.charts.length));
})();`;

export function renderReport(r: ReportInput): string {
  const charts = chartSpecs(r.campaigns);
  const title = r.campaigns.length === 1 ? `eptfuzz report: ${r.campaigns[0].label}` : `eptfuzz report: ${r.campaigns.length} campaigns`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${r.library.css}</style><style>${PAGE_CSS}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<p class="note">Generated ${escapeHtml(r.generatedAt)} by eptfuzz ${escapeHtml(r.eptfuzzVersion)} from ${r.campaigns.map((c) => `<code>${escapeHtml(c.dir)}</code>`).join(', ')}. Plots drawn with ${escapeHtml(r.library.name)} ${escapeHtml(r.library.version)}, inlined: the page needs no network.</p>
<h2 id="campaigns">Campaigns</h2>
${campaignTable(r.campaigns)}
<h2 id="over-time">Over time</h2>
<p class="note">One series per campaign (shard), over the campaign's elapsed time; rows every 5 s from each <code>plot.csv</code>, and for a hub campaign its samples on the hub (at most one a second of merging, all machines together).</p>
<div class="charts">${charts.map((c) => `<div class="chart" id="${c.id}"></div>`).join('')}</div>
<h2 id="rule-coverage">Rule coverage</h2>
${ruleSection(r.ruleCoverage, r.ruleCoverageMissing, r.campaigns.length)}
<h2 id="crashes">Crashes</h2>
${crashSection(r.crashStores, r.crashes, r.explanations)}
<script type="application/json" id="report-data">${scriptJson({ charts })}</script>
<script>${r.library.script.replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
