/**
 * Rule coverage: a campaign with --out writes OUT/rule-coverage.json in the documented format,
 * with the same counts whatever --workers is (counts depend only on the runs); a resumed campaign
 * continues the totals; `eptfuzz coverage` prints the table per mechanism and the never-reached
 * rules, sums shards, and refuses a missing or foreign file in one line (exit 2).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRuleCoverage, type RuleCoverageFile } from '../../src/fuzz/rule-coverage.js';
import { RULES } from '../../src/model/rules.js';
import { DEFAULT_SUITE_SEED, cli, tempDir } from './helpers.js';

const SEED = process.env.EPTFUZZ_TEST_SEED !== undefined && process.env.EPTFUZZ_TEST_SEED !== 'random' ? process.env.EPTFUZZ_TEST_SEED : DEFAULT_SUITE_SEED;

async function campaign(dir: string, workers: number, runs = 40, extra: string[] = []): Promise<RuleCoverageFile> {
  const r = await cli(['fuzz', '--seed', SEED, '--runs', String(runs), '--workers', String(workers), '--crashes', join(dir, 'crashes'), '--out', join(dir, 'out'), ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return readRuleCoverage(join(dir, 'out'));
}

const hits = (f: RuleCoverageFile, id: string): number => f.rules.find((r) => r.id === id)?.hits ?? -1;

describe(`RuleCoverageIsCounted (seed: ${SEED})`, () => {
  it('the file has every catalogue rule, counts the same with 0 and 2 workers, and a resume adds up', async () => {
    const a = tempDir('rulecov-a');
    const b = tempDir('rulecov-b');
    const one = await campaign(a, 0);
    const two = await campaign(b, 2);
    expect(one.format).toBe('eptfuzz-rule-coverage');
    expect(one.version).toBe(1);
    expect(one.rules.map((r) => r.id)).toEqual(RULES.map((r) => r.id));
    expect(one.rules.filter((r) => r.hits > 0).length).toBeGreaterThan(30);
    expect(two).toEqual(one);
    expect(Object.keys(one.extra.exit_reasons)).toContain('48');
    // hv rules are unreachable in a bare campaign, and say why
    expect(one.rules.find((r) => r.id === 'pkvm.host_share_guest.ok')?.unreachable).toContain('hv-mode rule');
    const resumed = await campaign(a, 0, 20);
    const fresh = await campaign(tempDir('rulecov-c'), 0, 60);
    expect(hits(resumed, 'access.read.complete')).toBe(hits(fresh, 'access.read.complete'));
  });

  it('eptfuzz coverage: a table per mechanism, the never-reached listed; shards are summed; bad input is one line', async () => {
    const a = tempDir('rulecov-d');
    const f = await campaign(a, 0, 30);
    const r = await cli(['coverage', join(a, 'out')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^mechanism +reached +share +hits$/m);
    expect(r.stdout).toMatch(/^ept +\d+\/\d+ +\d+%/m);
    expect(r.stdout).toContain('never reached:');
    expect(r.stdout).toMatch(/tlb\.stale-denial\.gpa {2}\(unreachable: only under choices\.staleDenial = sdm/);
    const j = await cli(['coverage', join(a, 'out'), join(a, 'out'), '--json']);
    const merged = JSON.parse(j.stdout) as RuleCoverageFile;
    expect(hits(merged, 'access.read.complete')).toBe(2 * hits(f, 'access.read.complete'));
    const missing = await cli(['coverage', join(a, 'nothing-here')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const foreign = join(a, 'foreign.json');
    writeFileSync(foreign, JSON.stringify({ format: 'something-else' }));
    const bad = await cli(['coverage', foreign]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not an eptfuzz-rule-coverage version 1 file');
    expect(readFileSync(join(a, 'out', 'rule-coverage.json'), 'utf8').endsWith('\n')).toBe(true);
  });
});
