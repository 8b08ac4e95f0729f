/**
 * Schema versions: a newer schema is refused with a clear message, an older one is upgraded
 * through the upgrade table when a step exists and refused clearly when none does; the 1 → 2
 * step (vtl_protect's TargetVtl) keeps old traces meaning what they meant.
 */
import { describe, expect, it } from 'vitest';
import { TraceError } from '../../../src/trace/errors.js';
import { parseJson } from '../../../src/trace/json.js';
import { decodeMsgpack } from '../../../src/trace/msgpack.js';
import { Packr } from 'msgpackr';
import { parseText } from '../../../src/trace/text.js';
import { fileURLToPath } from 'node:url';
import { SCHEMA_VERSION, type Trace } from '../../../src/trace/trace.js';
import { SCHEMA_UPGRADES, validateTrace, type RawDocument, type SchemaUpgrade } from '../../../src/trace/validate.js';
import { upgradedVtlTarget } from '../../../src/trace/upgrades.js';
import { loadTrace } from '../../../src/trace/load.js';
import { runHv } from '../../../src/check/hv/run.js';
import { formatOutcome } from '../../../src/hw/outcome.js';

const doc = (schema: unknown): Record<string, unknown> => ({ schema, eptfuzz: '0.1.0', machine: {}, ops: [] });

describe('schema versions', () => {
  it('the current schema is 2; its one upgrade step is 1 → 2', () => {
    expect(SCHEMA_VERSION).toBe(2);
    expect([...SCHEMA_UPGRADES.keys()]).toEqual([1]);
    expect(SCHEMA_UPGRADES.get(1)!.from).toBe(1);
  });

  it('a newer schema is refused in every form', () => {
    const message = `trace schema 3 is newer than this eptfuzz supports (2)`;
    expect(() => parseJson(JSON.stringify(doc(3)))).toThrow(`schema: ${message}`);
    expect(() => parseText('@schema 3\n@eptfuzz 9.0.0\n@machine {}\n')).toThrow(`line 1: @schema: ${message}`);
    const bytes = new Uint8Array([0x45, 0x50, 0x54, 0x46, ...new Packr({ useRecords: false }).pack(doc(3))]);
    expect(() => decodeMsgpack(bytes)).toThrow(`schema: ${message}`);
  });

  it('a newer schema is refused before its unknown fields are looked at', () => {
    expect(() => parseJson(JSON.stringify({ ...doc(7), ops: [{ op: 'teleport' }], colour: 1 }))).toThrow(/schema 7 is newer/);
  });

  it('an older schema with no upgrade step is refused clearly', () => {
    expect(() => validateTrace(doc(0))).toThrow(TraceError);
    expect(() => validateTrace(doc(0))).toThrow(`schema: trace schema 0 is older than any this eptfuzz can upgrade (it reads 1..2)`);
  });

  it('a bad schema value is refused', () => {
    expect(() => validateTrace(doc(-1))).toThrow(`schema: must be a non-negative integer, got -1`);
    expect(() => validateTrace(doc('1'))).toThrow(`schema: must be a non-negative integer, got "1"`);
    expect(() => validateTrace(doc(1.5))).toThrow(`schema: must be a non-negative integer, got 1.5`);
    expect(() => validateTrace({ eptfuzz: '0.1.0', machine: {}, ops: [] })).toThrow(`missing field 'schema'`);
  });

  it('upgrade steps run in order from the document schema to the current one', () => {
    // A made-up schema 0 that called the field `vms` and the `invlpg` op `flush`.
    const step: SchemaUpgrade = {
      from: 0,
      note: 'vms → vcpus, flush → invlpg',
      upgrade(old: RawDocument): RawDocument {
        const machine = { ...(old.machine as Record<string, unknown>) };
        machine.vcpus = machine.vms;
        delete machine.vms;
        const ops = (old.ops as Array<Record<string, unknown>>).map((op) => (op.op === 'flush' ? { ...op, op: 'invlpg' } : op));
        return { ...old, schema: 1, machine, ops };
      },
    };
    const upgrades = new Map([[0, step], ...SCHEMA_UPGRADES]);
    const old = { schema: 0, eptfuzz: '0.0.1', machine: { vms: 3 }, ops: [{ op: 'flush', cpu: 2, la: '0x1000' }] };
    const trace = validateTrace(old, { upgrades });
    expect(trace.schema).toBe(SCHEMA_VERSION);
    expect(trace.machine.vcpus).toBe(3);
    expect(trace.ops).toEqual([{ op: 'invlpg', cpu: 2, la: 0x1000 }]);
    expect(() => validateTrace({ ...old, schema: -0.5 }, { upgrades })).toThrow(/non-negative integer/);
  });

  it('an upgrade step that does not reach the next schema is an internal error, not a crash', () => {
    const broken: SchemaUpgrade = { from: 0, note: 'broken', upgrade: (d) => d };
    expect(() => validateTrace(doc(0), { upgrades: new Map([[0, broken]]) })).toThrow(/internal: upgrade from schema 0/);
  });
});

describe('schema 1 → 2: vtl_protect target becomes the ABI TargetVtl (upgrades.ts)', () => {
  const HV = '{"mode":"hv","framesMax":8192,"hv":{"poolFrames":256,"vtls":VTLS}}';
  const text = (targets: number[], vtls = 2): string => `@schema 1\n@eptfuzz 0.1.0\n@machine ${HV.replace('VTLS', String(vtls))}\n`
    + targets.map((t) => `vtl_protect cpu=0 target=${t} gfn=0x200 count=1 flags=0x1\n`).join('') + 'vtl_call cpu=0\n';
  const targetsOf = (t: Trace): number[] => t.ops.flatMap((op) => (op.op === 'vtl_protect' ? [op.target] : []));

  it('a target below hv.vtls becomes target + 1, one at or above it 0 (both refused with 5 as before); other ops are untouched', () => {
    expect(targetsOf(parseText(text([0, 1, 2, 15])))).toEqual([1, 2, 0, 0]);
    expect(targetsOf(parseText(text([0, 2, 3, 4], 4)))).toEqual([1, 3, 4, 0]);
    expect(targetsOf(parseText(text([14, 15], 16)))).toEqual([15, 15]); // TargetVtl is 4 bits
    expect(parseText(text([0])).ops[1]).toEqual({ op: 'vtl_call', cpu: 0 });
    expect(upgradedVtlTarget(0, 2)).toBe(1);
  });

  it('every form upgrades: text words, JSON numbers and words, msgpack arrays; schema 2 is left alone', () => {
    const json = { schema: 1, eptfuzz: '0.1.0', machine: { mode: 'hv', hv: { vtls: 2 } }, ops: [{ op: 'vtl_protect', cpu: 0, target: 0, gfn: '0x200', count: 1, flags: '0x1' }, { op: 'vtl_protect', cpu: 0, target: '0x0', gfn: 1, count: 1, flags: 1 }] };
    expect(targetsOf(parseJson(JSON.stringify(json)))).toEqual([1, 1]);
    const packed = new Packr({ useRecords: false }).pack({ ...json, ops: [['vtl_protect', 0, 0, 0x200, 1, 1], ['vtl_call', 0]] });
    expect(targetsOf(decodeMsgpack(new Uint8Array([0x45, 0x50, 0x54, 0x46, ...packed])))).toEqual([1]);
    expect(targetsOf(parseJson(JSON.stringify({ ...json, schema: 2 })))).toEqual([0, 0]);
  });

  it('an old trace keeps its line numbers in messages, and a malformed target is refused as before', () => {
    expect(() => parseText(text([16]))).toThrow(/^line 4: op 'vtl_protect': field 'target'/);
    expect(() => parseText(`@schema 1\n@eptfuzz 0.1.0\n@machine {"mode":"hv"}\nvtl_protect cpu=0 target=x gfn=0 count=1 flags=1\n`)).toThrow(/^line 4: /);
  });

  it('the schema-1 VTL seed (fixture) decodes and replays exactly as its schema-2 form in corpus/seeds', () => {
    const old = loadTrace(fileURLToPath(new URL('./fixtures/schema-1-hv-vtl.txt', import.meta.url)));
    const now = loadTrace(fileURLToPath(new URL('../../../corpus/seeds/hv-vtl.txt', import.meta.url)));
    expect(old.ops).toEqual(now.ops);
    const a = runHv(old.machine, old.ops, { stopAtFirst: false });
    const b = runHv(now.machine, now.ops, { stopAtFirst: false });
    expect(a.violations).toEqual([]);
    expect(a.outcomes.map(formatOutcome)).toEqual(b.outcomes.map(formatOutcome));
    expect(formatOutcome(a.outcomes[6])).toBe('ret 6'); // from VTL 0
    expect(formatOutcome(a.outcomes[9])).toBe('ret 0'); // VTL 1 restricts VTL 0
    expect(formatOutcome(a.outcomes[12])).toMatch(/^hv_exit intercept gpa=0x202000 size=8 info=0x1 /);
  });
});

