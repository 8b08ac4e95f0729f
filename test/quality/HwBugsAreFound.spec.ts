/**
 * Every hardware planted bug is found by the fuzzer: a small fixed-seed campaign (`runCampaign`,
 * inline, the CLI's default options: swarm, coverage feedback, 200 ops per trace, the 2000-step
 * minimizer, determinism self-check every 64 runs) with only that bug on, checked against the
 * reference model, finds it with no other failure first (other than the bug's byproducts: another
 * signature whose trace passes with the bug off, e.g. writes a stale INVEPT mapping loses); the signature names the invariant and op
 * kind the catalogue expects (src/bugs/catalogue.ts `finds`, with the reason); the minimized
 * trace is short, still fails the same way, and passes with the bug off. The bug-free campaign on
 * the same seed finds nothing: before its first failure a bug-on campaign runs exactly the traces
 * of the bug-free one (same seed, same outcomes, so the same corpus), so that campaign covers
 * every run these finds needed.
 *
 * Oracle: the reference model for every bug (it decides all ten; the bug-free machine copy is not
 * needed). Every campaign, `xo-pf-no-user-bit`'s included, runs on the default configuration: the
 * campaign varies kvmXo per epoch (src/gen/configs.ts), so the XO #PF is reached without a kvmXo base.
 */
import { describe, expect, it } from 'vitest';
import { CATALOGUE } from '../../src/bugs/catalogue.js';
import { checkTrace, checkedSignature } from '../../src/check/check-trace.js';
import { TARGETS } from '../../src/check/targets.js';
import { formatSignature } from '../../src/check/violation.js';
import { expectedSignature, findWithCampaign, type Find } from '../../bench/bugs.js';

const SEED = '1';
/** Run budget per campaign (the finds below need at most a few dozen). */
const RUNS_MAX = 512;
/** A minimized hardware trace keeps the setup its access needs (EPT and guest paging paths; SPP adds SPPT and controls): 15 at seed 1, most under 10. */
const HW_MINIMIZED_OPS_MAX = 15;

const HW = CATALOGUE.filter((b) => b.layer === 'hw');
const found = new Map<string, Find>();

function withoutBugs<T extends { machine: { bugs: readonly string[] } }>(t: T): T {
  return { ...t, machine: { ...t.machine, bugs: [] } };
}

describe(`HwBugsAreFound (seed: ${SEED})`, () => {
  it.each(HW.map((b) => [b.name, b] as const))('%s: found by a fixed-seed campaign, expected signature, short repro', async (name, bug) => {
    const f = await findWithCampaign(name, SEED, { capMs: 30_000, runsMax: RUNS_MAX, stabilityEvery: 64 });
    found.set(name, f);
    expect(f.unexpected.map(formatSignature), 'failures before the expected one').toEqual([]);
    expect(f.found, `${name} not found in ${f.runs} runs`).toBe(true);
    const sig = f.signature!;
    expect(expectedSignature(bug, sig), `${formatSignature(sig)} is not one of ${bug.finds.invariant.join('|')} @ ${bug.finds.op.join('|')}`).toBe(true);
    expect(f.minimized, 'minimized repro').not.toBeNull();
    const repro = f.minimized!;
    expect(repro.ops.length).toBeLessThanOrEqual(HW_MINIMIZED_OPS_MAX);
    const again = checkTrace(repro, TARGETS.model);
    expect(again.first === null ? 'passes' : formatSignature(checkedSignature(again.first))).toBe(formatSignature(sig));
    const off = checkTrace(withoutBugs(repro), TARGETS.model);
    expect(off.first === null ? 'passes' : formatSignature(checkedSignature(off.first)), 'the repro with the bug off').toBe('passes');
    const also = (f.byproducts ?? []).map(formatSignature);
    console.log(`${name}: run ${f.runs - 1}, ${formatSignature(sig)}, minimized to ${repro.ops.length} ops${also.length > 0 ? `; byproducts first: ${also.join('; ')}` : ''}`);
  });

  it('the bug-free campaign on the same seed finds nothing, over every run the finds needed', async () => {
    const needed = Math.max(64, ...HW.map((b) => found.get(b.name)?.runs ?? RUNS_MAX));
    const f = await findWithCampaign(null, SEED, { capMs: 30_000, runsMax: needed, stabilityEvery: 64 });
    expect(f.unexpected.map(formatSignature), `bug-free campaign (${needed} runs)`).toEqual([]);
  });
});
