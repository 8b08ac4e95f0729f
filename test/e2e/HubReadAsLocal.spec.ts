/**
 * `crashes list` and `report` read a hub campaign as they read local directories (issue 13): two
 * `eptfuzz fuzz --hub` processes run a campaign with a planted bug on a real redis-server on
 * loopback; `crashes list --hub --campaign` then gives the signatures, counts, repro sizes and
 * first/last seen that `crashes list` gives on the store `crashes pull` writes (whose seen.json
 * holds the hub's sightings, inside the campaign's wall-clock window), alone and mixed with a local
 * store; `report --hub` writes a page whose four plots have points from the hub's series, whose
 * campaign row and crash table are the hub campaign's, and which chromium draws; bad hub input
 * (wrong password, unknown campaign, damaged metadata, --hub without --campaign) is one line, exit
 * 2, the password never printed, nothing written. `coverage --hub` prints the local twin's rule
 * coverage (--json byte for byte), and sums with local campaigns.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir } from './helpers.js';
import { redisOrSkipMessage, startRedis, type TestRedis } from '../support/redis.js';
import { reportedFindings, spawnCli } from '../support/hub.js';
import { chartColours, chromiumOrSkip, openReport } from '../support/report-browser.js';

const seed = suiteSeed();
const RUNS = 640;
const PASSWORD = 'hunter3-secret';
const base = ['--seed', seed, '--runs', String(RUNS), '--bug', 'canary', '--oracle', 'machine', '--max-ops', '120'];
const have = redisOrSkipMessage('HubReadAsLocal');

interface ListedRow { hash: string; count: number; first_seen: string | null; last_seen: string | null; repro_ops: number | null; minimized: boolean; dir: string; dirs: string[] }

const rowsOf = (jsonl: string): ListedRow[] => jsonl.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as ListedRow);
const viewDirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('eptfuzz-hub-view-'));

interface Chart { id: string; series: string[]; data: Array<Array<number | null>> }

function chartsOf(html: string): Chart[] {
  const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)?.[1];
  expect(json).toBeDefined();
  return (JSON.parse(json!) as { charts: Chart[] }).charts;
}

describe.skipIf(!have)(`HubReadAsLocal (seed: ${seed})`, () => {
  let redis: TestRedis;
  const d = tempDir('hub-read');
  const localCrashes = join(d, 'local', 'crashes');
  const localOut = join(d, 'local', 'out');
  let found = new Set<string>();
  let window = { from: '', to: '' };
  let hits = 0;
  let coverage = 0;

  beforeAll(async () => {
    redis = await startRedis({ password: PASSWORD });
    const from = new Date().toISOString();
    const procs = [0, 1].map(() => spawnCli(['fuzz', '--hub', redis.url, '--campaign', 'view', ...base, '--workers', '1']));
    const ends = await Promise.all(procs.map((p) => p.done));
    for (const [i, e] of ends.entries()) expect(e.code, procs[i].stderr()).toBe(1);
    window = { from, to: new Date().toISOString() };
    found = new Set(procs.flatMap((p) => reportedFindings(p.stderr())));
    const summary = /failures: \d+ signature\(s\) in (\d+) runs/.exec(procs[0].stdout());
    hits = Number(summary?.[1]);
    coverage = Number(/coverage (\d+), corpus/.exec(procs[0].stdout())?.[1]);
    expect(found.size).toBeGreaterThan(0);
    // The same campaign run locally (its stats directory and crash store), to mix with the hub's.
    const local = await cli(['fuzz', ...base, '--workers', '1', '--crashes', localCrashes, '--out', localOut]);
    expect(local.code, local.stderr).toBe(1);
  }, 180_000);
  afterAll(async () => { await redis?.stop(); });

  it('crashes list --hub lists what crashes list lists on the pulled store, first/last seen from the hub', async () => {
    const before = viewDirs().length;
    process.env.EPTFUZZ_HUB = redis.url;
    let viaHub;
    try {
      viaHub = await cli(['crashes', 'list', '--campaign', 'view', '--json']);
    } finally {
      delete process.env.EPTFUZZ_HUB;
    }
    expect(viaHub.code, viaHub.stderr).toBe(0);
    const pulled = join(d, 'pulled');
    const pull = await cli(['crashes', 'pull', '--hub', redis.url, '--campaign', 'view', pulled]);
    expect(pull.code, pull.stderr).toBe(0);
    const local = await cli(['crashes', 'list', '--json', pulled]);
    expect(local.code, local.stderr).toBe(0);
    const a = rowsOf(viaHub.stdout);
    const b = rowsOf(local.stdout);
    expect(new Set(a.map((r) => r.hash))).toEqual(found);
    expect(a.map((r) => r.hash)).toEqual(b.map((r) => r.hash));
    expect(a.reduce((n, r) => n + r.count, 0)).toBe(hits);
    for (const [i, r] of a.entries()) {
      const p = b[i];
      expect({ ...r, dir: '', dirs: [] }, r.hash).toEqual({ ...p, dir: '', dirs: [] });
      expect(r.dir).toBe(`hub:view/${r.hash}`);
      expect(r.first_seen, r.hash).not.toBeNull();
      expect(r.last_seen, r.hash).not.toBeNull();
      expect(r.first_seen! <= r.last_seen!).toBe(true);
      expect(r.first_seen! >= window.from && r.last_seen! <= window.to, `${r.first_seen} .. ${r.last_seen} within ${window.from} .. ${window.to}`).toBe(true);
      // The pulled directory's seen.json holds the hub's sightings, not the time of the pull.
      expect(JSON.parse(readFileSync(join(pulled, r.hash, 'seen.json'), 'utf8'))).toEqual({ first_seen: r.first_seen, last_seen: r.last_seen });
    }
    // The table form names the hub store and the blocks merged; the temporary store is gone.
    const table = await cli(['crashes', 'list', '--hub', redis.url, '--campaign', 'view']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`\\n${a.length} signature\\(s\\), ${hits} failing run\\(s\\) in 1 store\\(s\\); hub:view: ${RUNS / 64}/${RUNS / 64} blocks merged\\n$`));
    expect(table.stdout).not.toContain(PASSWORD);
    expect(viewDirs().length).toBe(before);

    // Mixed with a local store of the same campaign: the same signatures, each campaign counted once.
    const mixed = await cli(['crashes', 'list', '--hub', redis.url, '--campaign', 'view', '--json', localCrashes]);
    expect(mixed.code, mixed.stderr).toBe(0);
    const m = rowsOf(mixed.stdout);
    expect(m.map((r) => [r.hash, r.count])).toEqual(a.map((r) => [r.hash, r.count]));
    for (const r of m) expect(r.dirs).toEqual([join(localCrashes, r.hash), `hub:view/${r.hash}`]);
  }, 60_000);

  it('report --hub plots the hub series, tabulates the campaign and its crashes, and draws in chromium', async (ctx) => {
    const page = join(d, 'hub.html');
    const r = await cli(['report', '--hub', redis.url, '--campaign', 'view', '-o', page]);
    expect(r.code, r.stderr).toBe(0);
    // The hub's rule coverage is the local twin's (below, coverage --hub): the same rules reached.
    const reached = JSON.parse(readFileSync(join(localOut, 'rule-coverage.json'), 'utf8')) as { rules: Array<{ hits: number }> };
    expect(r.stdout).toBe(`wrote ${page}: 1 campaign(s), ${found.size} signature(s) from 1 crash store(s), ${reached.rules.filter((x) => x.hits > 0).length}/${reached.rules.length} rules reached\n`);
    const html = readFileSync(page, 'utf8');
    expect(html).not.toContain(PASSWORD);
    expect(html).not.toContain('eptfuzz-hub-view-');
    const charts = chartsOf(html);
    expect(charts.map((c) => c.id)).toEqual(['chart-throughput', 'chart-coverage', 'chart-signatures', 'chart-failing']);
    for (const c of charts) {
      expect(c.series, c.id).toEqual([`hub:view seed ${seed}`]);
      expect(c.data[0].length, c.id).toBeGreaterThanOrEqual(2);
      expect(c.data[1].every((y) => typeof y === 'number' && y >= 0), c.id).toBe(true);
    }
    const last = (id: string): number | null | undefined => charts.find((c) => c.id === id)!.data[1].at(-1);
    expect(last('chart-coverage')).toBe(coverage);
    expect(last('chart-signatures')).toBe(found.size);
    expect(last('chart-failing')).toBe(hits);
    expect(charts[0].data[1].some((y) => (y ?? 0) > 0)).toBe(true);
    const campaigns = /<h2 id="campaigns">Campaigns<\/h2>\s*<table class="grid">.*?<tbody>(.*?)<\/tbody>/s.exec(html)?.[1] ?? '';
    expect(campaigns).toContain(`<td>hub:view seed ${seed}</td><td><code>hub:view</code></td><td>${RUNS}</td>`);
    const table = /<table class="grid" id="crash-table">(.*?)<\/table>/s.exec(html)?.[1] ?? '';
    expect(table.match(/<tr>/g)).toHaveLength(found.size + 1);
    for (const h of found) {
      expect(table).toContain(`href="#crash-${h}"`);
      const section = new RegExp(`<section class="crash" id="crash-${h}">.*?</section>`, 's').exec(html)?.[0] ?? '';
      expect(section).toContain(`$ eptfuzz replay --verbose hub:view/${h}/repro.msgpack\n`);
      expect(section).toContain('FAIL ');
      expect(section).not.toMatch(/first seen -,/);
    }
    expect(html).toContain('id="hub-stores"');

    // With a local campaign too: two campaigns, two stores, two series.
    const both = join(d, 'both.html');
    const rb = await cli(['report', localOut, '--hub', redis.url, '--campaign', 'view', '-o', both]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stdout).toMatch(/: 2 campaign\(s\), \d+ signature\(s\) from 2 crash store\(s\), /);
    for (const c of chartsOf(readFileSync(both, 'utf8'))) expect(c.series).toEqual([`seed ${seed}`, `hub:view seed ${seed}`]);

    if (!chromiumOrSkip(ctx, 'the browser part')) return;
    await openReport(both, async (tab, { errors }) => {
      expect(errors).toEqual([]);
      // Each canvas holds the hub campaign's series colour (the second: #d62728).
      const drawn = (await chartColours(tab, [[0xd6, 0x27, 0x28]])).map((c) => c.colours[0] === true);
      expect(drawn).toEqual([true, true, true, true]);
    });
  }, 120_000);

  it('coverage --hub gives the rule coverage of the local campaign over the same runs, alone and summed with it', async () => {
    const hub = await cli(['coverage', '--hub', redis.url, '--campaign', 'view', '--json']);
    expect(hub.code, hub.stderr).toBe(0);
    const local = await cli(['coverage', localOut, '--json']);
    expect(local.code, local.stderr).toBe(0);
    expect(hub.stdout).toBe(local.stdout);
    const f = JSON.parse(hub.stdout) as { rules: Array<{ id: string; hits: number }>; extra: { pf_codes: Record<string, number>; exit_reasons: Record<string, number>; findings_by_invariant: Record<string, number> } };
    // (--oracle machine labels few rules; the outcome tallies carry the rest.)
    expect(f.rules.filter((r) => r.hits > 0).length).toBeGreaterThan(0);
    expect(Object.keys(f.extra.pf_codes).length + Object.keys(f.extra.exit_reasons).length).toBeGreaterThan(5);
    expect(Object.values(f.extra.findings_by_invariant).reduce((a, b) => a + b, 0)).toBe(hits);
    // Summed with the local campaign: every count twice.
    const both = await cli(['coverage', localOut, '--hub', redis.url, '--campaign', 'view', '--json']);
    expect(both.code, both.stderr).toBe(0);
    const g = JSON.parse(both.stdout) as typeof f;
    expect(g.rules.map((r) => r.hits)).toEqual(f.rules.map((r) => r.hits * 2));
    // The table, as for a local campaign; bad input is one line.
    const table = await cli(['coverage', '--hub', redis.url, '--campaign', 'view']);
    expect(table.stdout).toBe((await cli(['coverage', localOut])).stdout);
    for (const [args, want] of [[['coverage', '--hub', redis.url, '--campaign', 'nosuch'], /no campaign nosuch on hub/], [['coverage'], /give stats directories \(OUT\.\.\.\) or --hub URL --campaign NAME$/]] as const) {
      const out = await cli([...args]);
      expect(out.code).toBe(2);
      expect(out.stderr.trim()).toMatch(want);
      expect(out.stderr).not.toContain(PASSWORD);
    }
  }, 60_000);

  it('bad hub input: one line, exit 2, the password masked, nothing written', async () => {
    const r = new Redis({ port: redis.port, host: '127.0.0.1', password: PASSWORD });
    try {
      await r.set('eptfuzz:{broken}:meta', 'not json');
    } finally {
      r.disconnect();
    }
    const wrong = redis.url.replace(PASSWORD, 'wrong-pass-77');
    const page = join(d, 'bad.html');
    const before = viewDirs().length;
    const cases: Array<[string[], RegExp]> = [
      [['crashes', 'list', '--hub', wrong, '--campaign', 'view'], /WRONGPASS|wrong or missing password/],
      [['report', '--hub', wrong, '--campaign', 'view', '-o', page], /WRONGPASS|wrong or missing password/],
      [['crashes', 'list', '--hub', redis.url, '--campaign', 'nosuch'], /no campaign nosuch on hub redis:\/\/:\*\*\*@127\.0\.0\.1:/],
      [['report', '--hub', redis.url, '--campaign', 'nosuch', '-o', page], /no campaign nosuch on hub/],
      [['report', '--hub', redis.url, '--campaign', 'broken', '-o', page], /campaign broken: its metadata on the hub is not JSON$/],
      [['crashes', 'list', '--hub', redis.url], /--campaign <name> is required$/],
      [['report', '--hub', 'http://example.invalid', '--campaign', 'view', '-o', page], /--hub: expected a redis:\/\/ or rediss:\/\/ URL/],
      [['report', '-o', page], /give the --out directories of the campaigns, or --hub URL --campaign NAME$/],
      [['crashes', 'list'], /give crash stores, or --hub URL --campaign NAME$/],
    ];
    for (const [args, want] of cases) {
      const out = await cli(args);
      expect(out.code, args.join(' ')).toBe(2);
      const lines = out.stderr.trim().split('\n');
      expect(lines, out.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^eptfuzz: /);
      expect(lines[0]).toMatch(want);
      expect(out.stderr + out.stdout).not.toContain('wrong-pass-77');
      expect(out.stderr + out.stdout).not.toContain(PASSWORD);
      expect(existsSync(page)).toBe(false);
    }
    expect(viewDirs().length).toBe(before);
  }, 60_000);
});
