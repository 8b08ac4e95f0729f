/**
 * machineStateTraceArbitrary builds traces that exercise a working machine: they validate, carry
 * no planted bug unless asked, their accesses mostly reach data (setup mapped it), a correct
 * machine agrees with the model over them, and a planted bug that needs a mapped page is found
 * by a plain fast-check property over them (as a user's property would find a broken wrapper).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { machineStateTraceArbitrary } from '../../../src/gen/state-arbitrary.js';
import { checkTrace } from '../../../src/check/check-trace.js';
import { runWith } from '../../../src/check/runner.js';
import { TARGETS } from '../../../src/check/targets.js';
import { validateTrace } from '../../../src/trace/validate.js';
import { normalizeConfig } from '../../../src/hw/config.js';

const SEED = Number(process.env.EPTFUZZ_SEED ?? 1234);
const agrees = (t: Parameters<typeof checkTrace>[0]): boolean => checkTrace(t, TARGETS.model).first === null;

describe(`machineStateTraceArbitrary (seed: ${SEED})`, () => {
  it('valid traces of a correct machine whose accesses reach mapped data', () => {
    const traces = fc.sample(machineStateTraceArbitrary(), { seed: SEED, numRuns: 100 });
    let accesses = 0;
    let data = 0;
    for (const t of traces) {
      expect(validateTrace(t)).toEqual(t);
      expect(t.machine.bugs).toEqual([]);
      const setup = t.provenance?.options.setup_ops as number;
      const r = runWith(t, TARGETS.machine, { records: true });
      for (const rec of r.records!.slice(setup)) {
        if (rec.op.op !== 'read' && rec.op.op !== 'write' && rec.op.op !== 'fetch') continue;
        accesses++;
        if (rec.actual.kind === 'data' || rec.actual.kind === 'ok') data++;
      }
    }
    expect(accesses).toBeGreaterThan(300);
    // A generic op arbitrary reaches almost no data (no mappings); here most accesses complete.
    expect(data / accesses).toBeGreaterThan(0.4);
  });

  it('a correct machine agrees with the model; the canary bug (needs a mapped page crossing) is found', () => {
    fc.assert(fc.property(machineStateTraceArbitrary(), agrees), { seed: SEED, numRuns: 150 });
    const broken = fc.check(fc.property(machineStateTraceArbitrary({ bugs: ['canary'] }), agrees), { seed: SEED, numRuns: 300 });
    expect(broken.failed).toBe(true);
    expect(() => machineStateTraceArbitrary({ bugs: ['no-such-bug'] })).toThrow(/no-such-bug|unknown/);
    expect(() => machineStateTraceArbitrary({ config: normalizeConfig({ vcpus: 0 }) })).toThrow(/machineStateTraceArbitrary/);
  });
});
