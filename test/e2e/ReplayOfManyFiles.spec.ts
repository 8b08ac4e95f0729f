/**
 * Guarantee: replaying many traces stays usable by scripts: every `--json` record names its file,
 * `--outcomes-only` prints a fraction of the bytes (no op, no allowed list), and one unreadable
 * file is named on its own line (exit 2 at the end) while every other file is still replayed.
 */
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from './helpers.js';

const REPO = join(import.meta.dirname, '..', '..');

describe('replay of many files', () => {
  let dir = '';
  let passing: string[] = [];
  let failing = '';
  beforeAll(() => {
    dir = tempDir('replay-many');
    const seeds = join(REPO, 'corpus', 'seeds');
    passing = readdirSync(seeds).filter((n) => n.endsWith('.txt') && !n.startsWith('hv-')).sort().slice(0, 3).map((n) => {
      copyFileSync(join(seeds, n), join(dir, n));
      return join(dir, n);
    });
    const crash = readdirSync(join(REPO, 'crashes')).sort()[0];
    failing = join(dir, 'failing.msgpack');
    copyFileSync(join(REPO, 'crashes', crash, 'repro.msgpack'), failing);
  });

  it('--json: every record names its file', async () => {
    const files = [...passing, failing];
    const r = await cli(['replay', '--json', ...files]);
    expect(r.code, r.stderr).toBe(1);
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file?: string });
    expect(records.length).toBeGreaterThan(files.length);
    expect(records.every((rec) => typeof rec.file === 'string' && files.includes(rec.file))).toBe(true);
    expect(new Set(records.map((rec) => rec.file))).toEqual(new Set(files));
  });

  it('--outcomes-only: the same steps without op and allowed, smaller', async () => {
    const full = await cli(['replay', '--json', ...passing, failing]);
    const brief = await cli(['replay', '--json', '--outcomes-only', ...passing, failing]);
    expect(brief.code).toBe(full.code);
    const a = full.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const b = brief.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(b.length).toBe(a.length);
    const steps = b.filter((rec) => rec.op !== 'sweep');
    for (const rec of steps) {
      expect(Object.keys(rec)).toEqual(['file', 'step', 'actual', 'violations']);
    }
    a.forEach((rec, i) => {
      if (rec.op === 'sweep') return;
      expect(b[i]).toEqual({ file: rec.file, step: rec.step, actual: rec.actual, violations: rec.violations });
    });
    expect(brief.stdout.length).toBeLessThan(full.stdout.length * 0.75); // here paths are long and ops small; on generated traces the allowed lists and ops dominate
    const alone = await cli(['replay', '--outcomes-only', ...passing]);
    expect(alone.code).toBe(2);
    expect(alone.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('one unreadable file among many: named on one line, the others still replayed, exit 2 at the end', async () => {
    const garbage = join(dir, 'garbage.txt');
    writeFileSync(garbage, 'this is not a trace\n');
    const missing = join(dir, 'missing.msgpack');
    const r = await cli(['replay', passing[0], garbage, failing, missing, passing[1]]);
    expect(r.code).toBe(2);
    for (const f of [passing[0], passing[1]]) expect(r.stdout).toContain(`PASS ${f}`);
    expect(r.stdout).toContain(`FAIL ${failing}`);
    const errs = r.stderr.trim().split('\n');
    expect(errs.filter((l) => l.includes('garbage.txt'))).toHaveLength(1);
    expect(errs.filter((l) => l.includes('missing.msgpack'))).toHaveLength(1);
    expect(errs.every((l) => l.startsWith('eptfuzz: '))).toBe(true);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // --json too: the records of the readable files are all there.
    const j = await cli(['replay', '--json', passing[0], garbage, passing[1]]);
    expect(j.code).toBe(2);
    const files = new Set(j.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { file: string }).file));
    expect(files).toEqual(new Set([passing[0], passing[1]]));
  });
});
