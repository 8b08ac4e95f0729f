/**
 * Every hypervisor planted bug is found by the hv generator (src/gen/hv/generate.ts): run r of
 * seed S is `generateHvTrace("S/run<r>")` with only that bug on, checked by the hv runner against
 * the hv reference model and the hypervisor invariants (`runHv`, as `checkTrace` and replay do).
 * No failure comes before the expected one; its signature names the invariant and op the
 * catalogue expects (src/bugs/catalogue.ts `finds`, with the reason); the minimizer (the
 * campaign's shrinker, same budget) reduces it to a short trace that still fails the same way
 * and passes with the bug off; and the same seed's runs up to the latest find, every bug off, all
 * pass (the hv generator's ops do not depend on the bugs, so these are the very traces the finds ran).
 *
 * There is no hv campaign engine yet (no coverage feedback or mutation in hv mode): these finds
 * are generation alone. When `eptfuzz fuzz --mode hv` exists, this suite should drive it.
 */
import { describe, expect, it } from 'vitest';
import { CATALOGUE } from '../../src/bugs/catalogue.js';
import { checkTrace, checkedSignature } from '../../src/check/check-trace.js';
import { TARGETS } from '../../src/check/targets.js';
import { formatSignature } from '../../src/check/violation.js';
import { expectedSignature, findHv, hvTraceOf } from '../../bench/bugs.js';

const SEED = '1';
const RUNS_MAX = 200;
/** hv repros need no page-table setup: a VM or two and the calls that trip the bug. */
const HV_MINIMIZED_OPS_MAX = 14;

const HV = CATALOGUE.filter((b) => b.layer === 'hv');
/** Runs the finds above needed (the bug only enters the machine configuration, never the ops). */
let runsNeeded = 1;

describe(`HvBugsAreFound (seed: ${SEED})`, () => {
  it.each(HV.map((b) => [b.name, b] as const))('%s: found by the hv generator, expected signature, short repro, silent when off', (name, bug) => {
    const f = findHv(name, SEED, { capMs: 30_000, runsMax: RUNS_MAX });
    expect(f.unexpected.map(formatSignature), 'failures before the expected one').toEqual([]);
    expect(f.found, `${name} not found in ${f.runs} runs`).toBe(true);
    const sig = f.signature!;
    expect(expectedSignature(bug, sig), `${formatSignature(sig)} is not one of ${bug.finds.invariant.join('|')} @ ${bug.finds.op.join('|')}`).toBe(true);
    const repro = f.minimized!;
    expect(repro).not.toBeNull();
    expect(repro.ops.length).toBeLessThanOrEqual(HV_MINIMIZED_OPS_MAX);
    const again = checkTrace(repro, TARGETS.model);
    expect(again.first === null ? 'passes' : formatSignature(checkedSignature(again.first))).toBe(formatSignature(sig));
    const off = checkTrace({ ...repro, machine: { ...repro.machine, bugs: [] } }, TARGETS.model);
    expect(off.first === null ? 'passes' : formatSignature(checkedSignature(off.first)), 'the repro with the bug off').toBe('passes');
    runsNeeded = Math.max(runsNeeded, f.runs);
    console.log(`${name}: run ${f.runs - 1}, ${formatSignature(sig)}, minimized to ${repro.ops.length} ops`);
  });

  it('the same seed\'s runs with every bug off all pass (no false positive from the bug-free run)', () => {
    for (let r = 0; r < runsNeeded; r++) {
      const c = checkTrace(hvTraceOf(null, SEED, r), TARGETS.model);
      expect(c.first === null ? 'passes' : formatSignature(checkedSignature(c.first)), `bug-free run ${r}`).toBe('passes');
    }
  });
});
