/**
 * Guarantee: `eptfuzz report OUT... -o report.html` over real shard campaigns writes one page that
 * a real browser (Debian's chromium, driven by playwright-core) opens without network and without
 * console errors, whose four plots are drawn (each canvas holds the series colours of both shards),
 * and which carries the crash table of the shards' stores and the rule coverage table of the
 * fixture; a screenshot is taken. Bad inputs are refused with one line (exit 2), nothing written.
 * Without chromium the browser part is skipped locally with a message and fails in CI (.ci/run
 * installs chromium).
 */
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { listCrashes } from '../../src/fuzz/crash-list.js';
import { cli, suiteSeed, tempDir } from './helpers.js';
import { chartColours, chromiumOrSkip, openReport } from '../support/report-browser.js';

const seed = suiteSeed();
const FIXTURE = join(import.meta.dirname, 'fixtures', 'rule-coverage.json');
/** The page's first two series colours (src/report/html.ts), as RGB. */
const SERIES_RGB = [[0x1f, 0x77, 0xb4], [0xd6, 0x27, 0x28]];

describe(`ReportRendersInABrowser (seed: ${seed})`, () => {
  const root = tempDir('report');
  const outs = [join(root, 'out0'), join(root, 'out1')];
  const crashes = [join(root, 'crashes0'), join(root, 'crashes1')];
  const page = join(root, 'report.html');

  beforeAll(async () => {
    for (const i of [0, 1]) {
      const base = ['fuzz', '--seed', seed, '--shard', `${i}/2`, '--bug', 'canary', '--oracle', 'machine', '--workers', '0', '--crashes', crashes[i], '--out', outs[i]];
      expect((await cli([...base, '--runs', '192'])).code).toBe(1);
      // A second session appends a second plot row: each series has two points.
      const again = await cli([...base, '--runs', '64']);
      expect([0, 1], again.stderr).toContain(again.code);
    }
    // The table is checked against the fixture: it replaces the first campaign's own counts, and
    // the second campaign's file is removed to check the page's note for a campaign without one.
    copyFileSync(FIXTURE, join(outs[0], 'rule-coverage.json'));
    rmSync(join(outs[1], 'rule-coverage.json'), { force: true });
    const r = await cli(['report', ...outs, '-o', page]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*report\.html: 2 campaign\(s\), \d+ signature\(s\) from 2 crash store\(s\), 4\/6 rules reached\n$/);
  }, 120_000);

  it('holds the crash table of both stores, the rule coverage of the fixture, and no reference to the network', () => {
    const html = readFileSync(page, 'utf8');
    const { rows } = listCrashes(crashes);
    expect(rows.length).toBeGreaterThan(0);
    const table = /<table class="grid" id="crash-table">(.*?)<\/table>/s.exec(html)?.[1] ?? '';
    expect(table.match(/<tr>/g)).toHaveLength(rows.length + 1);
    for (const r of rows) {
      expect(table).toContain(`href="#crash-${r.hash}"`);
      expect(table).toContain(`<td>${r.count}</td>`);
      // The decoded replay of each repro is embedded in its own section.
      const section = new RegExp(`<section class="crash" id="crash-${r.hash}">.*?</section>`, 's').exec(html)?.[0] ?? '';
      expect(section).toMatch(/\$ eptfuzz replay --verbose .*repro\.msgpack\n/);
      expect(section).toContain('FAIL ');
      expect(section).toContain('        -&gt; '); // each step's decoded outcome, HTML-escaped
    }
    const rules = /<table class="grid" id="rule-table">(.*?)<\/table>/s.exec(html)?.[1] ?? '';
    expect(rules.match(/<tr class="/g)).toHaveLength(6);
    expect(rules).toContain('<tr class="missed"><td><code>ept.misconfig.w-without-r</code>');
    expect(rules).toContain('unreachable: the default generator never sets SPPT reserved bits');
    expect(html).toContain(`Without <code>rule-coverage.json</code> (left out of the table): <code>${outs[1]}</code>`);
    expect(html).toContain('<td>ept</td><td>2 / 3</td><td>67%</td>');
    // Self-contained: no external script, stylesheet, image or font.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/url\(\s*['"]?(https?:)?\/\//i);
  });

  it('opens in headless chromium with no console errors and no requests, and draws every plot', async (ctx) => {
    if (!chromiumOrSkip(ctx, 'the browser test')) return;
    await openReport(page, async (tab, { errors, requests }) => {
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      // Every chart is a canvas holding both shards' series colours (not only axes and grid).
      const found = await chartColours(tab, SERIES_RGB);
      expect(found.map((f) => f.id)).toEqual(['chart-throughput', 'chart-coverage', 'chart-signatures', 'chart-failing']);
      for (const f of found) expect(f, f.id).toEqual({ id: f.id, canvas: true, colours: [true, true] });
      // The crash links lead to their sections.
      const first = await tab.getAttribute('#crash-table a', 'href');
      expect(await tab.locator(first!).count()).toBe(1);
      const shot = join(root, 'report.png');
      await tab.screenshot({ path: shot, fullPage: true });
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
      expect(statSync(shot).size).toBeGreaterThan(20_000);
      console.log(`report screenshot: ${shot}`);
    });
  }, 60_000);

  it('refuses bad inputs with one line (exit 2) and writes nothing', async () => {
    const bad = tempDir('report-bad');
    const html = join(bad, 'r.html');
    const cases: Array<[string[], RegExp]> = [];
    cases.push([['report', join(bad, 'nope'), '-o', html], /: no such directory$/]);
    mkdirSync(join(bad, 'empty'));
    cases.push([['report', join(bad, 'empty'), '-o', html], /no stats or plot\.csv; not a campaign's --out directory$/]);
    mkdirSync(join(bad, 'badplot'));
    writeFileSync(join(bad, 'badplot', 'plot.csv'), readFileSync(join(outs[0], 'plot.csv'), 'utf8') + '12.5,x,3\n');
    cases.push([['report', join(bad, 'badplot'), '-o', html], /plot\.csv:\d+: expected 9 columns, got 3$/]);
    mkdirSync(join(bad, 'badrules'));
    copyFileSync(join(outs[0], 'stats'), join(bad, 'badrules', 'stats'));
    writeFileSync(join(bad, 'badrules', 'rule-coverage.json'), JSON.stringify({ format: 'eptfuzz-rule-coverage', version: 1, rules: [{ id: 'a', mechanism: 'ept', source: 'SDM', hits: -1 }] }));
    cases.push([['report', join(bad, 'badrules'), '-o', html], /rule-coverage\.json: rules\[0\]\.hits: expected a whole number >= 0, got -1$/]);
    cases.push([['report', outs[0], '-o', join(bad, 'r.png')], /r\.png: the report is HTML; name it \.html$/]);
    cases.push([['report', outs[0], '--crashes', 'corpus', '-o', html], /--crashes corpus: a corpus/]);
    for (const [args, want] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^eptfuzz: /);
      expect(lines[0]).toMatch(want);
      expect(existsSync(html)).toBe(false);
    }
  });
});
