/**
 * The public arbitraries produce valid ops and traces, cover every op kind, and lean toward the
 * interesting values they promise (page-crossing accesses, boundary addresses).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { machineConfigArbitrary, opArbitrary, traceArbitrary } from '../../../src/gen/arbitraries.js';
import { defaultConfig, normalizeConfig, validateConfig } from '../../../src/hw/config.js';
import { OP_SCHEMAS, opAllowedIn } from '../../../src/trace/ops.js';
import { validateOp, validateTrace } from '../../../src/trace/validate.js';

const SEED = Number(process.env.EPTFUZZ_SEED ?? 1234);

describe(`arbitraries (seed: ${SEED})`, () => {
  it('every op kind appears and every op validates for its machine', () => {
    const config = normalizeConfig({ vcpus: 3 });
    const ops = fc.sample(opArbitrary(config), { seed: SEED, numRuns: 3000 });
    const kinds = new Set(ops.map((op) => op.op));
    expect([...kinds].sort()).toEqual(OP_SCHEMAS.filter((s) => opAllowedIn(s.name, 'bare')).map((s) => s.name).sort());
    for (const op of ops) expect(validateOp(op, () => 'op', { vcpus: 3 })).toEqual(op);
  });

  it('a hv-mode machine gets every op its mode runs (hv ops, no refused hardware op)', () => {
    const config = normalizeConfig({ vcpus: 3, mode: 'hv' });
    const ops = fc.sample(opArbitrary(config), { seed: SEED, numRuns: 4000 });
    const kinds = new Set(ops.map((op) => op.op));
    expect([...kinds].sort()).toEqual(OP_SCHEMAS.filter((s) => opAllowedIn(s.name, 'hv')).map((s) => s.name).sort());
    for (const op of ops) expect(validateOp(op, () => 'op', { vcpus: 3 })).toEqual(op);
  });

  it('kinds restricts the op kinds', () => {
    const ops = fc.sample(opArbitrary(defaultConfig(), { kinds: ['read', 'ept_set'] }), { seed: SEED, numRuns: 200 });
    expect(new Set(ops.map((op) => op.op))).toEqual(new Set(['read', 'ept_set']));
  });

  it('is biased toward page-crossing accesses and page-aligned addresses', () => {
    const ops = fc.sample(opArbitrary(defaultConfig(), { kinds: ['write'] }), { seed: SEED, numRuns: 2000 }) as Array<{ la: number; size: number }>;
    const crossing = ops.filter((op) => (op.la % 4096) + op.size > 4096).length;
    const aligned = ops.filter((op) => op.la % 4096 === 0).length;
    expect(crossing).toBeGreaterThan(100);
    expect(aligned).toBeGreaterThan(300);
  });

  it('machine configurations are valid', () => {
    for (const config of fc.sample(machineConfigArbitrary({ bugs: 'any' }), { seed: SEED, numRuns: 300 })) expect(validateConfig(config)).toBeNull();
    // No planted bug unless asked: a correct machine by default.
    expect(fc.sample(machineConfigArbitrary(), { seed: SEED, numRuns: 100 }).every((c) => c.bugs.length === 0)).toBe(true);
    expect(fc.sample(traceArbitrary({ opsMax: 2 }), { seed: SEED, numRuns: 100 }).every((t) => t.machine.bugs.length === 0)).toBe(true);
    expect(fc.sample(machineConfigArbitrary({ bugs: 'any' }), { seed: SEED, numRuns: 100 }).some((c) => c.bugs.length > 0)).toBe(true);
  });

  it('traces validate and respect opsMin/opsMax', () => {
    fc.assert(fc.property(traceArbitrary({ opsMin: 2, opsMax: 5, provenance: true, signature: false }), (trace) => {
      expect(validateTrace(trace)).toEqual(trace);
      expect(trace.ops.length).toBeGreaterThanOrEqual(2);
      expect(trace.ops.length).toBeLessThanOrEqual(5);
      expect(trace.provenance).toBeDefined();
      expect(trace.signature).toBeUndefined();
    }), { seed: SEED, numRuns: 100 });
  });
});
