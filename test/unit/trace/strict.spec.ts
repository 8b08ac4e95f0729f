/**
 * Strict decoding names the place and the field: `line N` and the field for text, `op N` and the
 * field for msgpack and JSON. Tolerant mode ignores unknown fields with a warning.
 */
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/hw/config.js';
import { TraceError } from '../../../src/trace/errors.js';
import { formatJson, parseJson } from '../../../src/trace/json.js';
import { decodeMsgpack, encodeMsgpack } from '../../../src/trace/msgpack.js';
import { formatOp, parseOp, parseText } from '../../../src/trace/text.js';
import { SCHEMA_VERSION, type Trace } from '../../../src/trace/trace.js';
import { Packr } from 'msgpackr';

const HEAD = '@schema 1\n@eptfuzz 0.1.0\n@machine {}\n';

function textError(src: string): string {
  try {
    parseText(src);
  } catch (error) {
    expect(error).toBeInstanceOf(TraceError);
    const message = (error as TraceError).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a TraceError');
}

function jsonError(doc: unknown): string {
  try {
    parseJson(JSON.stringify(doc));
  } catch (error) {
    expect(error).toBeInstanceOf(TraceError);
    return (error as TraceError).message;
  }
  throw new Error('expected a TraceError');
}

const MACHINE = defaultConfig();

describe('text form: strict errors name the line and the field', () => {
  it('parses a hand-written trace with comments, blank lines, any field order and hex ints', () => {
    const trace = parseText(`# a comment\n\n${HEAD}  # indented comment\nwrite value=0xbeef size=0x2 la=0x1ffe cpu=0  # crosses a page\nset_reg cpu=1 reg=cr4 value=0x0020_0020\n`);
    expect(trace.ops).toEqual([
      { op: 'write', cpu: 0, la: 0x1ffe, size: 2, value: 0xbeefn },
      { op: 'set_reg', cpu: 1, reg: 'cr4', value: 0x200020n },
    ]);
    expect(trace.machine).toEqual(MACHINE);
  });

  it('out-of-range field', () => {
    expect(textError(`${HEAD}\n\n\nwrite cpu=0 la=0x1000 size=9 value=0x1\n`)).toBe(`line 7: op 'write': field 'size' must be 1..8, got 9`);
  });
  it('unknown op', () => {
    expect(textError(`${HEAD}wirte cpu=0\n`)).toBe(`line 4: unknown op "wirte"`);
  });
  it('unknown field', () => {
    expect(textError(`${HEAD}read cpu=0 la=0x0 size=1 color=red\n`)).toBe(`line 4: op 'read': unknown field 'color'`);
  });
  it('missing field', () => {
    expect(textError(`${HEAD}read cpu=0 size=1\n`)).toBe(`line 4: op 'read': missing field 'la'`);
  });
  it('field given twice, a token without =, a field named op', () => {
    expect(textError(`${HEAD}read cpu=0 cpu=1 la=0 size=1\n`)).toBe(`line 4: op 'read': field 'cpu' given twice`);
    expect(textError(`${HEAD}read cpu=0 la size=1\n`)).toBe(`line 4: op 'read': expected field=value, got "la"`);
    expect(textError(`${HEAD}read op=write cpu=0 la=0 size=1\n`)).toBe(`line 4: op 'read': unknown field 'op'`);
  });
  it('bad enum, negative and non-numeric values', () => {
    expect(textError(`${HEAD}set_reg cpu=0 reg=cr2 value=0\n`)).toMatch(/^line 4: op 'set_reg': field 'reg' must be one of cr0\|cr3\|/);
    expect(textError(`${HEAD}invlpg cpu=0 la=-1\n`)).toBe(`line 4: op 'invlpg': field 'la' must be 0x0..0xffffffffffff, got -1`);
    expect(textError(`${HEAD}phys_write hpa=0 size=8 value=0x1_0000_0000_0000_0000\n`)).toMatch(/field 'value' must be 0x0\.\.0xffffffffffffffff/);
  });
  it('cpu beyond the machine', () => {
    expect(textError(`${HEAD}invlpg cpu=2 la=0\n`)).toBe(`line 4: op 'invlpg': field 'cpu' must be below the machine's vcpus (2), got 2`);
  });
  it('header errors name the line and header', () => {
    expect(textError(`@schema 1\n@eptfuzz 0.1.0\n@machine {"vcpus": 9}\n`)).toBe(`line 3: @machine: vcpus must be an integer in 1..8, got 9`);
    expect(textError(`@schema 1\n@eptfuzz 0.1.0\n@machine {"cpus": 1}\n`)).toBe(`line 3: @machine: unknown field 'cpus'`);
    expect(textError(`@schema 1\n@eptfuzz 0.1.0\n@machine {"caps": {"pku": 1}}\n`)).toBe(`line 3: @machine: field 'caps.pku' must be a boolean, got 1`);
    expect(textError(`@schema 1\n@eptfuzz 0.1.0\n@machine {"bugs": ["nope"]}\n`)).toMatch(/^line 3: @machine: field 'bugs': unknown bug "nope"/);
    expect(textError(`@schema 1\n@eptfuzz 0.1.0\n@machine {vcpus: 1}\n`)).toMatch(/^line 3: @machine: not valid JSON \(/);
    expect(textError(`@schema 1\n@eptfuzz 0.1.0\n@machine {}\n@colour blue\n`)).toMatch(/^line 4: unknown header "colour"/);
    expect(textError(`${HEAD}@machine {}\n`)).toBe(`line 4: header '@machine' given twice (first on line 3)`);
    expect(textError(`${HEAD}invlpg cpu=0 la=0\n@signature {}\n`)).toBe(`line 5: header '@signature' must come before the first op (line 4)`);
    expect(textError(`@schema 1\n@machine {}\n`)).toMatch(/^missing header '@eptfuzz'/);
    expect(textError(`@schema 1\n@eptfuzz 0.1.0 extra\n@machine {}\n`)).toMatch(/^line 2: @eptfuzz: must be a version string/);
    expect(textError(`${HEAD}@provenance {"seed": "1"}\n`)).toBe(`line 4: @provenance: missing field 'seed'`.replace('seed', 'options'));
  });
  it('tolerant mode ignores unknown fields and headers with warnings', () => {
    const warnings: string[] = [];
    const trace = parseText(`${HEAD}@colour blue\nread cpu=0 la=0x0 size=1 color=red\n`, { strict: false, warnings });
    expect(trace.ops).toEqual([{ op: 'read', cpu: 0, la: 0, size: 1 }]);
    expect(warnings).toEqual([`line 4: ignored unknown header "colour"`, `line 5: op 'read': ignored unknown field 'color'`]);
  });
  it('formatOp and parseOp are inverse on one line', () => {
    const op = { op: 'ept_set' as const, cpu: 1, gpa: 0x20_0000, level: 2, entry: 0x8000_0000_0000_1087n };
    expect(formatOp(op)).toBe('ept_set cpu=1 gpa=0x200000 level=2 entry=0x8000000000001087');
    expect(parseOp(formatOp(op))).toEqual(op);
  });
});

describe('JSON and msgpack: strict errors name the op index and the field', () => {
  const base = { schema: 1, eptfuzz: '0.1.0', machine: {}, ops: [{ op: 'invlpg', cpu: 0, la: '0x1000' }] };
  it('JSON op errors', () => {
    expect(jsonError({ ...base, ops: [...base.ops, { op: 'write', cpu: 0, la: 0, size: 9, value: '0x1' }] })).toBe(`op 1 'write': field 'size' must be 1..8, got 9`);
    expect(jsonError({ ...base, ops: [{ op: 'invlpg', cpu: 0, la: 0, extra: 1 }] })).toBe(`op 0 'invlpg': unknown field 'extra'`);
    expect(jsonError({ ...base, ops: [{ cpu: 0 }] })).toBe(`op 0: missing field 'op'`);
    expect(jsonError({ ...base, ops: [{ op: 'teleport' }] })).toBe(`op 0: unknown op "teleport"`);
    expect(jsonError({ ...base, ops: [[]] })).toBe(`op 0: must be an object, got an array of 0`);
    expect(jsonError({ ...base, ops: [{ op: 'set_ctls2', cpu: 0, value: '0x100000000' }] })).toBe(`op 0 'set_ctls2': field 'value' must be 0x0..0xffffffff, got "0x100000000"`);
  });
  it('JSON header errors', () => {
    expect(jsonError({ ...base, colour: 1 })).toBe(`unknown field 'colour'`);
    expect(jsonError({ ...base, machine: { vcpus: '2' } })).toBe(`machine: field 'vcpus' must be an integer, got "2"`);
    expect(jsonError({ ...base, signature: { invariant: 'x', op: 'y' } })).toBe(`signature: missing field 'detail'`);
    expect(jsonError({ ...base, provenance: { seed: 's', options: { a: null } } })).toBe(`provenance: field 'options.a' must be a string, a finite number or a boolean, got null`);
    expect(jsonError({ ...base, eptfuzz: undefined })).toBe(`missing field 'eptfuzz'`);
    expect(jsonError({ ...base, ops: {} })).toBe(`ops: must be a list of ops, got an object`);
    expect(jsonError([])).toBe(`trace: must be an object, got an array of 0`);
  });
  it('JSON syntax errors are one line', () => {
    expect(() => parseJson('{"schema": 1,')).toThrow(TraceError);
    expect(() => parseJson('{"schema": 1,')).toThrow(/^JSON: /);
  });
  it('msgpack op errors name the index and field', () => {
    const packr = new Packr({ useRecords: false, variableMapSize: true });
    const encode = (doc: unknown): Uint8Array => new Uint8Array([0x45, 0x50, 0x54, 0x46, ...packr.pack(doc)]);
    const doc = { schema: 1, eptfuzz: '0.1.0', machine: {}, ops: [['invlpg', 0, 0], ['write', 0, 0, 9, 1]] };
    expect(() => decodeMsgpack(encode(doc))).toThrow(`op 1 'write': field 'size' must be 1..8, got 9`);
    const short = { ...doc, ops: [['write', 0, 0, 8]] };
    expect(() => decodeMsgpack(encode(short))).toThrow(`op 0 'write': expected 4 fields (cpu, la, size, value), got 3`);
    const long = { ...doc, ops: [['invlpg', 0, 0, 7]] };
    expect(() => decodeMsgpack(encode(long))).toThrow(`op 0 'invlpg': expected 2 fields (cpu, la), got 3`);
    const warnings: string[] = [];
    expect(decodeMsgpack(encode(long), { strict: false, warnings }).ops).toEqual([{ op: 'invlpg', cpu: 0, la: 0 }]);
    expect(warnings).toEqual([`op 0 'invlpg': ignored 1 extra fields`]);
  });
  it('a trace that round-trips still fails when one field is corrupted', () => {
    const trace: Trace = { schema: SCHEMA_VERSION, eptfuzz: '0.1.0', machine: MACHINE, ops: [{ op: 'read', cpu: 0, la: 0, size: 8 }] };
    const json = formatJson(trace).replace('"size":8', '"size":0');
    expect(() => parseJson(json)).toThrow(`op 0 'read': field 'size' must be 1..8, got 0`);
    expect(decodeMsgpack(encodeMsgpack(trace))).toEqual(trace);
  });
});
