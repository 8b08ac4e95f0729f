/**
 * Schema versions: a newer schema is refused with a clear message, an older one is upgraded
 * through the upgrade table when a step exists and refused clearly when none does.
 */
import { describe, expect, it } from 'vitest';
import { TraceError } from '../../../src/trace/errors.js';
import { parseJson } from '../../../src/trace/json.js';
import { decodeMsgpack } from '../../../src/trace/msgpack.js';
import { Packr } from 'msgpackr';
import { parseText } from '../../../src/trace/text.js';
import { SCHEMA_VERSION } from '../../../src/trace/trace.js';
import { SCHEMA_UPGRADES, validateTrace, type RawDocument, type SchemaUpgrade } from '../../../src/trace/validate.js';

const doc = (schema: unknown): Record<string, unknown> => ({ schema, eptfuzz: '0.1.0', machine: {}, ops: [] });

describe('schema versions', () => {
  it('the current schema is 1 and has no upgrade steps yet', () => {
    expect(SCHEMA_VERSION).toBe(1);
    expect(SCHEMA_UPGRADES.size).toBe(0);
  });

  it('a newer schema is refused in every form', () => {
    const message = `trace schema 2 is newer than this eptfuzz supports (1)`;
    expect(() => parseJson(JSON.stringify(doc(2)))).toThrow(`schema: ${message}`);
    expect(() => parseText('@schema 2\n@eptfuzz 9.0.0\n@machine {}\n')).toThrow(`line 1: @schema: ${message}`);
    const bytes = new Uint8Array([0x45, 0x50, 0x54, 0x46, ...new Packr({ useRecords: false }).pack(doc(2))]);
    expect(() => decodeMsgpack(bytes)).toThrow(`schema: ${message}`);
  });

  it('a newer schema is refused before its unknown fields are looked at', () => {
    expect(() => parseJson(JSON.stringify({ ...doc(7), ops: [{ op: 'teleport' }], colour: 1 }))).toThrow(/schema 7 is newer/);
  });

  it('an older schema with no upgrade step is refused clearly', () => {
    expect(() => validateTrace(doc(0))).toThrow(TraceError);
    expect(() => validateTrace(doc(0))).toThrow(`schema: trace schema 0 is older than any this eptfuzz can upgrade (it reads 1..1)`);
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
    const old = { schema: 0, eptfuzz: '0.0.1', machine: { vms: 3 }, ops: [{ op: 'flush', cpu: 2, la: '0x1000' }] };
    const trace = validateTrace(old, { upgrades: new Map([[0, step]]) });
    expect(trace.schema).toBe(1);
    expect(trace.machine.vcpus).toBe(3);
    expect(trace.ops).toEqual([{ op: 'invlpg', cpu: 2, la: 0x1000 }]);
    expect(() => validateTrace({ ...old, schema: -0.5 }, { upgrades: new Map([[0, step]]) })).toThrow(/non-negative integer/);
  });

  it('an upgrade step that does not reach the next schema is an internal error, not a crash', () => {
    const broken: SchemaUpgrade = { from: 0, note: 'broken', upgrade: (d) => d };
    expect(() => validateTrace(doc(0), { upgrades: new Map([[0, broken]]) })).toThrow(/internal: upgrade from schema 0/);
  });
});
