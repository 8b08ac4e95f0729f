/**
 * What a campaign reports while it runs and when it ends: a live status line rewritten in place
 * on a terminal, plain lines otherwise (execs, ops/s, corpus, coverage, unique crashes, last find,
 * stability), a key/value stats file and an append-only plot CSV in --out, and a final summary.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIo } from '../../src/cli/io.js';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();
const STATUS = /execs \d+ \(\d+\/s\) ops \d+ \(\d+\/s\) \| corpus \d+ cov \d+ \| crashes \d+ unique \/ \d+ \| last find .+ \| stability \d+\.\d%/;

describe(`StatusAndStats (seed: ${seed})`, () => {
  it('on a terminal: a status line rewritten in place, cleared before findings and the summary', async () => {
    const d = tempDir('tty');
    const captured = captureIo();
    const tty = { out: captured.out, err: captured.err, errIsTTY: true, errColumns: () => 200 };
    const code = await main(['fuzz', '--seed', seed, '--runs', '256', '--bug', 'canary', '--oracle', 'machine', '--workers', '0', '--status-every', '1', '--crashes', join(d, 'c')], tty);
    expect(code).toBe(1);
    const err = captured.stderr();
    // A runs-bounded campaign shows the time left at its run rate.
    expect(err).toMatch(new RegExp(`\\r\\x1b\\[K\\[\\d+s, \\d+[smhd]\\S* left\\] ${STATUS.source}`));
    // A finding clears the status line first, so it never lands in the middle of one.
    expect(err).toMatch(/\r\x1b\[K(run \d+: new failure|minimized )/);
    expect(captured.stdout()).toMatch(/^done: 256 runs, \d+ ops in .* \(\d+ ops\/s, inline, cpu [\d.]+s\); coverage \d+, corpus \d+; stability 100\.0% \(4 re-executed\); stopped by runs$/m);
  });

  it('on a narrow terminal the status line drops parts and never wraps', async () => {
    const d = tempDir('narrow');
    const captured = captureIo();
    const tty = { out: captured.out, err: captured.err, errIsTTY: true, errColumns: () => 50 };
    const code = await main(['fuzz', '--seed', seed, '--duration', '2s', '--oracle', 'machine', '--workers', '0', '--status-every', '1', '--crashes', join(d, 'c')], tty);
    expect(code).toBe(0);
    const lines = captured.stderr().split('\r\x1b[K').map((l) => l.split('\n')[0]).filter((l) => l.startsWith('['));
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.length, l).toBeLessThan(50);
    expect(lines.some((l) => /^\[\d+s, \d+s left\] execs \d+/.test(l))).toBe(true);
  });

  it('elsewhere: plain status lines; stats file and plot CSV in --out', async () => {
    const d = tempDir('plain');
    const r = await cli(['fuzz', '--seed', seed, '--runs', '192', '--oracle', 'machine', '--workers', '0', '--status-every', '1', '--crashes', join(d, 'c'), '--out', join(d, 'out')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr.split('\n').filter((l) => STATUS.test(l)).length).toBeGreaterThanOrEqual(2);
    const stats = readFileSync(join(d, 'out', 'stats'), 'utf8');
    for (const key of ['elapsed_s', 'ops_per_s', 'execs_per_s', 'stability_pct', 'last_find_s_ago', 'runs', 'ops', 'coverage', 'corpus', 'crashes_unique', 'crashes_total', 'stability_checked', 'workers']) {
      expect(stats, key).toMatch(new RegExp(`^${key}: \\S+$`, 'm'));
    }
    expect(stats).toMatch(/^runs: 192$/m);
    expect(stats).toMatch(/^start_time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    expect(stats).toMatch(/^last_update: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    expect(stats).toContain(`pid: ${process.pid}\n`);
    expect(stats).toMatch(/^eptfuzz_version: 0\.\d+\.\d+$/m);
    const plot = readFileSync(join(d, 'out', 'plot.csv'), 'utf8').trim().split('\n');
    expect(plot[0]).toBe('elapsed_s,runs,ops,ops_per_s,coverage,corpus,crashes_unique,crashes_total,stability_pct');
    expect(plot[plot.length - 1].split(',')[1]).toBe('192');
    // Append-only: a second campaign adds rows below the first's.
    await cli(['fuzz', '--seed', seed, '--runs', '64', '--oracle', 'machine', '--workers', '0', '--crashes', join(d, 'c'), '--out', join(d, 'out')]);
    const plot2 = readFileSync(join(d, 'out', 'plot.csv'), 'utf8').trim().split('\n');
    expect(plot2.slice(0, plot.length)).toEqual(plot);
    expect(plot2[plot2.length - 1].split(',')[1]).toBe('256');
  });
});
