/**
 * The report's readers: plot.csv and stats parse or are refused with file and line; rule coverage
 * follows its format and merges over shards; the page escapes what it embeds.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PLOT_ROWS_MAX, parsePlot, parseStats, readCampaign } from '../../../src/report/campaign-files.js';
import { mechanismShares, mergeRuleCoverage, parseRuleCoverage } from '../../../src/report/rule-coverage-file.js';
import { escapeHtml, renderReport, scriptJson } from '../../../src/report/html.js';
import { PLOT_COLUMNS } from '../../../src/fuzz/stats.js';

const HEADER = PLOT_COLUMNS.join(',');
const row = (t: number): string => `${t},${t * 10},${t * 100},50,${700 + t},100,1,${t},100.00`;

describe('report inputs', () => {
  it('plot.csv: rows parse, a resumed campaign follows on, long files are thinned keeping the last row', () => {
    const rows = parsePlot('p.csv', [HEADER, row(5), row(10), ''].join('\n'));
    expect(rows.map((r) => r.elapsed_s)).toEqual([5, 10]);
    expect(rows[1]).toMatchObject({ runs: 100, ops: 1000, coverage: 710, crashes_total: 10, stability_pct: 100 });
    const many = parsePlot('p.csv', [HEADER, ...Array.from({ length: PLOT_ROWS_MAX * 3 + 7 }, (_, i) => row(i + 1))].join('\n'));
    expect(many.length).toBeLessThanOrEqual(PLOT_ROWS_MAX + 1);
    expect(many.at(-1)!.elapsed_s).toBe(PLOT_ROWS_MAX * 3 + 7);
    expect(() => parsePlot('p.csv', 'a,b\n1,2\n')).toThrow(/^p\.csv:1: expected the header/);
    expect(() => parsePlot('p.csv', `${HEADER}\n${row(5)}\n5,6\n`)).toThrow('p.csv:3: expected 9 columns, got 2');
    expect(() => parsePlot('p.csv', `${HEADER}\n${row(3).replace(',50,', ',NaN,')}\n`)).toThrow('p.csv:2: column ops_per_s is not a number');
  });

  it('stats: name: value lines; anything else names its line', () => {
    expect(parseStats('s', 'runs: 5\nseed: a b\n')).toEqual(new Map([['runs', '5'], ['seed', 'a b']]));
    expect(() => parseStats('s', 'runs: 5\n<html>\n')).toThrow("s:2: expected 'name: value', got '<html>'");
  });

  it('a directory must be a campaign\'s --out', () => {
    const d = mkdtempSync(join(tmpdir(), 'eptfuzz-rep-'));
    expect(() => readCampaign(join(d, 'nope'))).toThrow(/no such directory$/);
    expect(() => readCampaign(d)).toThrow(/no stats or plot\.csv/);
    writeFileSync(join(d, 'stats'), 'seed: 7\nshard: 1/4\nruns: 3\n');
    const c = readCampaign(d);
    expect(c.label).toBe('seed 7 shard 1/4');
    expect(c.plot).toEqual([]);
    expect(c.ruleCoverage).toBeNull();
    mkdirSync(join(d, 'rule-coverage.json'));
    expect(() => readCampaign(d)).toThrow(/rule-coverage\.json: not JSON/);
  });

  it('rule coverage: the format is checked, shards merge by rule id, shares per mechanism', () => {
    const ok = (rules: unknown[], extra?: unknown): unknown => ({ format: 'eptfuzz-rule-coverage', version: 1, rules, ...(extra === undefined ? {} : { extra }) });
    const a = parseRuleCoverage('a', ok([{ id: 'ept.r', mechanism: 'ept', source: 'SDM', hits: 3 }, { id: 'spp.x', mechanism: 'spp', source: 'SDM', hits: 0, unreachable: 'why' }], { exits: { '48': 2 } }));
    const b = parseRuleCoverage('b', ok([{ id: 'ept.r', mechanism: 'ept', source: 'SDM', hits: 4 }, { id: 'spp.x', mechanism: 'spp', source: 'SDM', hits: 1 }, { id: 'pk.wd', mechanism: 'pk', source: 'SDM', hits: 0 }], { exits: { '48': 1, '49': 5 } }));
    const m = mergeRuleCoverage([a, b])!;
    expect(m.rules).toEqual([
      { id: 'ept.r', mechanism: 'ept', source: 'SDM', hits: 7 },
      { id: 'spp.x', mechanism: 'spp', source: 'SDM', hits: 1 },
      { id: 'pk.wd', mechanism: 'pk', source: 'SDM', hits: 0 },
    ]);
    expect(m.extra).toEqual({ exits: { '48': 3, '49': 5 } });
    expect(mechanismShares(a)).toEqual([{ mechanism: 'ept', rules: 1, hit: 1, unreachable: 0 }, { mechanism: 'spp', rules: 1, hit: 0, unreachable: 1 }]);
    expect(mergeRuleCoverage([])).toBeNull();
    expect(() => parseRuleCoverage('f', { format: 'x', version: 1, rules: [] })).toThrow('f: "format" must be "eptfuzz-rule-coverage", got "x"');
    expect(() => parseRuleCoverage('f', { format: 'eptfuzz-rule-coverage', version: 2, rules: [] })).toThrow(/"version" 2 is not one this eptfuzz reads/);
    expect(() => parseRuleCoverage('f', ok([{ id: 'a', mechanism: 'm', source: 's', hits: 1 }, { id: 'a', mechanism: 'm', source: 's', hits: 1 }]))).toThrow("f: rules[1].id: 'a' appears twice");
    expect(() => parseRuleCoverage('f', ok([{ id: '', mechanism: 'm', source: 's', hits: 1 }]))).toThrow('f: rules[0].id: expected a non-empty string');
    expect(() => parseRuleCoverage('f', ok([], { exits: { '48': 1.5 } }))).toThrow('f: extra.exits.48: expected a whole number >= 0');
  });

  it('the page escapes input text and cannot be closed from the embedded data', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(scriptJson({ s: '</script><script>alert(1)</script>' })).not.toContain('</script');
    const html = renderReport({
      generatedAt: 'now', eptfuzzVersion: '0.1.0',
      campaigns: [{ dir: '/x/<b>', label: 'seed <i>', stats: new Map([['runs', '<s>']]), plot: [], ruleCoverage: null }],
      ruleCoverage: null, ruleCoverageMissing: [], crashStores: [], crashes: [], explanations: new Map(),
      library: { name: 'uPlot', version: '0', script: 'var uPlot = function () {}; // </script> inside', css: '' },
    });
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('<i>');
    expect(html).toContain('/x/&lt;b&gt;');
    expect(html.match(/<\/script>/g)).toHaveLength(3);
    expect(html).toContain('id="rule-coverage-absent"');
  });
});
