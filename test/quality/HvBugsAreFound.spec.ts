/**
 * Every hypervisor planted bug is found by the real hv campaign: `eptfuzz fuzz --mode hv --bug NAME
 * --seed 1 --runs N` run in-process through the CLI (src/cli/main.ts `main`), with default options
 * (coverage feedback, mutation, swarm weights, the minimizer's default budget, the reference-model
 * oracle) except `--workers 0` (the same files whatever --workers is) and a small run budget per
 * bug: the run its expected failure first appears in, plus one. For each bug: the crash store has
 * a failure whose signature names the invariant and op the catalogue expects
 * (src/bugs/catalogue.ts `finds`), no other failure appeared at or before that run, its minimized
 * repro is short, replays to the same signature and passes with the bug off. Then one campaign
 * with every bug off, same seed, as many runs as the longest find: no failure. Finds later than
 * DEEP_RUNS run in the long suite only.
 *
 * If a change to the generator, mutator or engine moves a find, the per-bug budget below needs
 * updating: `eptfuzz fuzz --mode hv --bug NAME --seed 1 --runs 60` prints the run ("first run r").
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOGUE } from '../../src/bugs/catalogue.js';
import { checkTrace, checkedSignature } from '../../src/check/check-trace.js';
import { TARGETS } from '../../src/check/targets.js';
import { formatSignature } from '../../src/check/violation.js';
import type { Signature } from '../../src/trace/trace.js';
import { captureIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { loadTrace } from '../../src/trace/load.js';

const SEED = '1';
/** hv repros need no page-table setup: a VM or two and the calls that trip the bug. */
const HV_MINIMIZED_OPS_MAX = 14;
/** Runs the campaign of seed 1 needs for each bug (its first expected failure's run index + 1). */
const RUNS: Record<string, number> = {
  'pkvm-hyp-donate-no-owner-check': 1,
  'pkvm-share-hyp-shared-page': 10,
  'pkvm-unshare-no-flush': 37,
  'pkvm-reclaim-no-zero': 1,
  'pkvm-range-overflow': 26,
  'pkvm-enomem-half-done': 2,
  'spp-lost-on-wrprotect': 30,
  'spp-hugepage-not-split': 1,
  'memattr-partial-update': 2,
  'vtl-protect-no-flush': 1,
  'pkvm-pin-leak-on-error': 9,
  'pkvm-ffa-unshare-unchecked': 6,
  'pkvm-force-reclaim-no-zero': 11,
  'memattr-range-wrap': 1,
  'hv-teardown-table-leak': 1,
  'pkvm-share-enomem-half-done': 2,
  'hv-enomem-undo-keeps-tables': 109,
  'pkvm-memcache-donate-before-pop': 4,
  'pkvm-undonate-never-donated': 4,
  'ept-walker-stale-pte': 342,
};

const HV = CATALOGUE.filter((b) => b.layer === 'hv');
/**
 * A find later than this run is deep (ept-walker-stale-pte was, at run 4853 before the rare-feature
 * seed schedule): its campaign takes about a minute, so it runs in the long suite (EPTFUZZ_LONG=1,
 * `npm run test:long`), as does the bugs-off campaign of that length.
 */
const DEEP_RUNS = 1000;
const LONG = process.env.EPTFUZZ_LONG === '1';
const inThisSuite = (name: string): boolean => LONG || RUNS[name] <= DEEP_RUNS;

interface CrashDir { dir: string; signature: Signature; firstSeenRun: number; opsAfter: number | null }

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function campaign(bug: string | null, runs: number): Promise<{ code: number; crashes: CrashDir[]; log: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'eptfuzz-hvq-'));
  dirs.push(dir);
  const io = captureIo();
  const args = ['fuzz', '--mode', 'hv', '--seed', SEED, '--runs', String(runs), '--workers', '0', '--crashes', dir];
  if (bug !== null) args.push('--bug', bug);
  const code = await main(args, io);
  const crashes: CrashDir[] = [];
  for (const h of readdirSync(dir)) {
    if (!/^[0-9a-f]{16}$/.test(h)) continue;
    const d = JSON.parse(readFileSync(join(dir, h, 'description.json'), 'utf8')) as { signature: Signature; first_seen_run: number; minimized?: { ops_after: number } };
    crashes.push({ dir: join(dir, h), signature: d.signature, firstSeenRun: d.first_seen_run, opsAfter: d.minimized?.ops_after ?? null });
  }
  crashes.sort((a, b) => a.firstSeenRun - b.firstSeenRun);
  return { code, crashes, log: io.stdout() + io.stderr() };
}

const sig = (s: Signature): string => formatSignature(s);

describe(`HvBugsAreFound (fuzz --mode hv, seed ${SEED})`, () => {
  it('every hv bug has a run budget', () => {
    expect(HV.map((b) => b.name).sort()).toEqual(Object.keys(RUNS).sort());
  });

  it('deep finds run in the long suite only', () => {
    const deep = HV.filter((b) => RUNS[b.name] > DEEP_RUNS).map((b) => b.name);
    if (!LONG && deep.length > 0) console.log(`HvBugsAreFound: ${deep.join(', ')} (over ${DEEP_RUNS} runs) checked by npm run test:long only`);
    // a find that deep must be one the catalogue declares deep (finds.runsMin)
    for (const name of deep) expect((HV.find((b) => b.name === name)!.finds.runsMin ?? 0), name).toBeGreaterThanOrEqual(500);
  });

  it.each(HV.filter((b) => inThisSuite(b.name)).map((b) => [b.name, b] as const))('%s: found by the campaign, expected signature, short repro, silent when off', async (name, bug) => {
    const runs = RUNS[name];
    const c = await campaign(name, runs);
    const expected = (s: Signature): boolean => bug.finds.invariant.includes(s.invariant) && bug.finds.op.includes(s.op);
    const first = c.crashes.find((x) => expected(x.signature));
    expect(first, `${name} not found in ${runs} runs; crashes: ${c.crashes.map((x) => sig(x.signature)).join('; ')}\n${c.log}`).toBeDefined();
    expect(first!.firstSeenRun, 'the find moved: update RUNS').toBe(runs - 1);
    const unexpected = c.crashes.filter((x) => !expected(x.signature) && x.firstSeenRun <= first!.firstSeenRun).map((x) => sig(x.signature));
    expect(unexpected, 'failures at or before the expected one').toEqual([]);
    expect(first!.opsAfter, 'minimized').not.toBeNull();
    expect(first!.opsAfter!).toBeLessThanOrEqual(HV_MINIMIZED_OPS_MAX);
    const repro = loadTrace(join(first!.dir, 'repro.msgpack'));
    expect(repro.ops.length).toBe(first!.opsAfter);
    const again = checkTrace(repro, TARGETS.model);
    expect(again.first === null ? 'passes' : sig(checkedSignature(again.first))).toBe(sig(first!.signature));
    const off = checkTrace({ ...repro, machine: { ...repro.machine, bugs: [] } }, TARGETS.model);
    expect(off.first === null ? 'passes' : sig(checkedSignature(off.first)), 'the repro with the bug off').toBe('passes');
    console.log(`${name}: run ${first!.firstSeenRun}, ${sig(first!.signature)}, minimized to ${first!.opsAfter} ops`);
  }, 600_000);

  it('the same seed with every bug off, as many runs as the longest find: no failure', async () => {
    const runs = Math.max(...HV.filter((b) => inThisSuite(b.name)).map((b) => RUNS[b.name]));
    const c = await campaign(null, runs);
    expect(c.crashes.map((x) => sig(x.signature)), c.log).toEqual([]);
    expect(c.code).toBe(0);
  }, 600_000);
});
