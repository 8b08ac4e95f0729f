import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLocks, LOCK_NAME, LockError, pidAlive } from '../../../src/fuzz/lock.js';
import { canonicalJson, decodeCoverage, encodeCoverage, loadState, resumeMismatch, saveState } from '../../../src/fuzz/state.js';
import { Stats, PLOT_COLUMNS } from '../../../src/fuzz/stats.js';
import { FEATURE_SPACE } from '../../../src/fuzz/coverage.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'eptfuzz-lss-'));

describe('directory locks', () => {
  it('locks each directory once, refuses a second holder, releases only its own lock', () => {
    const a = tmp();
    const b = tmp();
    const locks = acquireLocks([{ dir: a, role: 'crash' }, { dir: b, role: 'corpus' }, { dir: a, role: 'stats' }]);
    expect(locks.files()).toEqual([join(a, LOCK_NAME), join(b, LOCK_NAME)]);
    const held = JSON.parse(readFileSync(join(a, LOCK_NAME), 'utf8')) as { pid: number; host: string };
    expect(held).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => acquireLocks([{ dir: b, role: 'corpus' }])).toThrow(LockError);
    locks.release();
    expect(existsSync(join(a, LOCK_NAME))).toBe(false);
    expect(existsSync(join(b, LOCK_NAME))).toBe(false);
  });

  it('a failed acquisition releases the locks it took', () => {
    const a = tmp();
    const b = tmp();
    writeFileSync(join(b, LOCK_NAME), JSON.stringify({ pid: 1, host: 'elsewhere', token: 't' }));
    expect(() => acquireLocks([{ dir: a, role: 'crash' }, { dir: b, role: 'corpus' }])).toThrow(`corpus directory ${b} is locked by pid 1 on host elsewhere; if no campaign runs there, remove ${join(b, LOCK_NAME)}`);
    expect(existsSync(join(a, LOCK_NAME))).toBe(false);
    expect(existsSync(join(b, LOCK_NAME))).toBe(true); // another host's lock is never taken over
  });

  it('a damaged lock file with no live writer is taken over', () => {
    const a = tmp();
    writeFileSync(join(a, LOCK_NAME), '{"pid": 12');
    const locks = acquireLocks([{ dir: a, role: 'crash' }]);
    expect(JSON.parse(readFileSync(join(a, LOCK_NAME), 'utf8'))).toMatchObject({ pid: process.pid });
    locks.release();
    expect(readdirSync(a)).toEqual([]);
  });

  it('pidAlive', () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(0)).toBe(false);
    expect(pidAlive(2 ** 22 + 7)).toBe(false);
  });
});

describe('resume state', () => {
  it('round-trips the state and refuses damaged or foreign files', () => {
    const d = tmp();
    expect(loadState(d)).toBeNull();
    saveState(d, { version: 1, seed: 's', shard: '1/4', next_run: 640, elapsed_ms: 1234, counters: { runs: 640, ops: 99 } });
    expect(loadState(d)).toEqual({ version: 1, seed: 's', shard: '1/4', next_run: 640, elapsed_ms: 1234, counters: { runs: 640, ops: 99 } });
    writeFileSync(join(d, 'state.json'), '{"version": 2, "next_run": 3}');
    expect(loadState(d)).toBeNull();
    writeFileSync(join(d, 'state.json'), 'not json');
    expect(loadState(d)).toBeNull();
  });

  it('keeps the resume conditions; a state written before them resumes unchecked', () => {
    const d = tmp();
    const now = { mode: 'bare' as const, bugs: [], machine: canonicalJson({ b: 1, a: [2] }), corpus: true };
    saveState(d, { version: 1, seed: 's', shard: null, next_run: 1, elapsed_ms: 0, counters: {}, ...now });
    const saved = loadState(d)!;
    expect(saved).toMatchObject(now);
    expect(resumeMismatch(d, saved, now)).toBeNull();
    expect(resumeMismatch(d, saved, { ...now, mode: 'hv' })).toMatch(/^--mode hv: .* ran --mode bare/);
    expect(resumeMismatch(d, saved, { ...now, machine: canonicalJson({ a: [2], b: 2 }) })).toMatch(/differs in: b;/);
    expect(resumeMismatch(d, saved, { ...now, corpus: false })).toMatch(/^--corpus missing/);
    expect(resumeMismatch(d, { version: 1, seed: 's', shard: null, next_run: 1, elapsed_ms: 0, counters: {} }, { ...now, mode: 'hv', corpus: false })).toBeNull();
    expect(canonicalJson({ b: 1, a: { d: 1, c: 2 } })).toBe('{"a":{"c":2,"d":1},"b":1}');
  });

  it('coverage files: round trip; wrong magic, layout, count or range give null', () => {
    const f = [0, 5, 77, FEATURE_SPACE - 1];
    expect(decodeCoverage(encodeCoverage(f))).toEqual(f);
    const bytes = encodeCoverage(f);
    const bad = (mutate: (w: Uint32Array) => void): number[] | null => {
      const copy = bytes.slice();
      mutate(new Uint32Array(copy.buffer));
      return decodeCoverage(copy);
    };
    expect(bad((w) => { w[0] = 0; })).toBeNull();
    expect(bad((w) => { w[1] = 99; })).toBeNull();
    expect(bad((w) => { w[2] = 3; })).toBeNull();
    expect(bad((w) => { w[3] = FEATURE_SPACE; })).toBeNull();
    expect(decodeCoverage(bytes.subarray(0, 10))).toBeNull();
  });
});

describe('Stats', () => {
  it('status line, stats file and plot rows carry execs, rates, corpus, coverage, crashes, last find and stability', () => {
    let now = 1000;
    const s = new Stats(() => now);
    s.restore({ runs: 500, ops: 50_000, crashes_unique: 2, crashes_total: 9, stability_checked: 10, stability_mismatches: 1, coverage: 77 }, 60_000);
    s.add('runs', 100);
    s.add('ops', 20_000);
    s.set('corpus', 12);
    s.set('coverage', 300);
    now += 2000;
    s.found(599);
    now += 3000;
    const line = s.statusLine();
    expect(line).toBe('[5s] execs 600 (20/s) ops 70000 (4000/s) | corpus 12 cov 300 | crashes 2 unique / 9 | last find 3s ago | stability 90.0%');
    // Time left, and a narrow terminal: parts go, least useful first, and the line never reaches the last column.
    expect(s.statusLine({ leftMs: 125_000 })).toBe('[5s, 2m05s left] execs 600 (20/s) ops 70000 (4000/s) | corpus 12 cov 300 | crashes 2 unique / 9 | last find 3s ago | stability 90.0%');
    expect(s.statusLine({ leftMs: 125_000, columns: 80 })).toBe('[5s, 2m05s left] execs 600 (20/s) | corpus 12 cov 300 | crashes 2 unique / 9');
    expect(s.statusLine({ leftMs: 125_000, columns: 60 })).toBe('[5s, 2m05s left] execs 600 (20/s) | crashes 2 unique / 9');
    expect(s.statusLine({ columns: 200 })).toBe(line);
    for (const cols of [20, 40, 61, 100, 140]) expect(s.statusLine({ leftMs: 1, columns: cols }).length).toBeLessThan(cols);
    const kv = s.keyValue();
    expect(kv).toMatch(/^start_time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    expect(kv).toMatch(/^last_update: 1970-01-01T00:00:06Z$/m);
    expect(kv).toContain(`pid: ${process.pid}\n`);
    expect(kv).toMatch(/^eptfuzz_version: \d+\.\d+\.\d+/m);
    for (const k of ['elapsed_s: 65.0', 'ops_per_s: 4000', 'execs_per_s: 20', 'stability_pct: 90.00', 'last_find_s_ago: 3', 'runs: 600', 'crashes_unique: 2', 'last_find_run: 599']) expect(kv).toContain(k);
    expect(s.plotRow().split(',')).toHaveLength(PLOT_COLUMNS.length);
    expect(s.persisted()).toMatchObject({ runs: 600, ops: 70_000, stability_checked: 10 });
    expect(s.persisted().coverage).toBeUndefined();
    const d = tmp();
    s.writeFiles(d);
    s.writeFiles(d);
    const plot = readFileSync(join(d, 'plot.csv'), 'utf8').trim().split('\n');
    expect(plot[0]).toBe(PLOT_COLUMNS.join(','));
    expect(plot).toHaveLength(3);
  });
});
