/**
 * Trace files: every form loads back (form detected from the bytes), save is atomic and leaves no
 * temporary file, and every failure is a one-line TraceError naming the path.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { traceArbitrary } from '../../../src/gen/arbitraries.js';
import { defaultConfig } from '../../../src/hw/config.js';
import { TraceError } from '../../../src/trace/errors.js';
import { FILE_BYTES_MAX, TRACE_FORMATS, detectFormat, encodeTrace, loadTrace, saveTrace } from '../../../src/trace/load.js';
import { SCHEMA_VERSION, type Trace } from '../../../src/trace/trace.js';

const SEED = Number(process.env.EPTFUZZ_SEED ?? 99);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eptfuzz-load-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const trace: Trace = {
  schema: SCHEMA_VERSION, eptfuzz: '0.1.0', machine: defaultConfig(),
  ops: [{ op: 'gpt_set', cpu: 0, la: 0x7fff_ffff_f000, level: 1, entry: 0x8000_0000_0000_2007n }],
  signature: { invariant: 'fault.pf-error-code', op: 'read', detail: 'missing #PF' },
};

describe(`trace files (seed: ${SEED})`, () => {
  it('detects each form from its bytes', () => {
    expect(detectFormat(encodeTrace(trace, 'msgpack'))).toBe('msgpack');
    expect(detectFormat(encodeTrace(trace, 'json'))).toBe('json');
    expect(detectFormat(encodeTrace(trace, 'text'))).toBe('text');
    expect(detectFormat(new TextEncoder().encode('\ufeff \n {'))).toBe('json');
    expect(detectFormat(new Uint8Array())).toBe('text');
  });

  it('saves and loads every form; save leaves no temporary file', () => {
    fc.assert(fc.property(traceArbitrary({ opsMax: 10, bugs: 'any' }), fc.constantFrom(...TRACE_FORMATS), (t, format) => {
      const file = path.join(dir, `t.${format}`);
      saveTrace(file, t, format);
      expect(loadTrace(file)).toEqual(t);
    }), { seed: SEED, numRuns: 40 });
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('overwrites atomically: the old content is replaced whole', () => {
    const file = path.join(dir, 'over.trace');
    fs.writeFileSync(file, 'garbage');
    saveTrace(file, trace, 'msgpack');
    expect(loadTrace(file)).toEqual(trace);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.over.trace'))).toEqual([]);
  });

  it('refuses to save an invalid trace and writes nothing', () => {
    const file = path.join(dir, 'bad.txt');
    const bad = { ...trace, ops: [{ op: 'read', cpu: 5, la: 0, size: 8 }] } as Trace;
    expect(() => saveTrace(file, bad, 'text')).toThrow(/refusing to save an invalid trace: .*field 'cpu' must be below/);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.readdirSync(dir).filter((n) => n.includes('bad.txt'))).toEqual([]);
  });

  it('a missing directory is a one-line error and leaves nothing behind', () => {
    const file = path.join(dir, 'no', 'such', 'dir', 't.msgpack');
    expect(() => saveTrace(file, trace, 'msgpack')).toThrow(new TraceError(`${file}: cannot write (ENOENT)`));
  });

  it('load errors name the path: missing file, directory, too large, bad content, bad UTF-8', () => {
    const missing = path.join(dir, 'missing');
    expect(() => loadTrace(missing)).toThrow(new TraceError(`${missing}: cannot read (ENOENT)`));
    expect(() => loadTrace(dir)).toThrow(`${dir}: not a regular file`);
    const big = path.join(dir, 'big');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, FILE_BYTES_MAX + 1); // sparse: nothing is written or read
    expect(() => loadTrace(big)).toThrow(`${big}: ${FILE_BYTES_MAX + 1} bytes is more than the ${FILE_BYTES_MAX}-byte trace limit`);
    const small = path.join(dir, 'small');
    fs.writeFileSync(small, '@schema 1\n');
    expect(() => loadTrace(small, { bytesMax: 4 })).toThrow(/more than the 4-byte trace limit/);
    expect(() => loadTrace(small)).toThrow(`${small}: missing header '@eptfuzz'`);
    const latin1 = path.join(dir, 'latin1');
    fs.writeFileSync(latin1, Buffer.from([0x40, 0xe9, 0x0a]));
    expect(() => loadTrace(latin1)).toThrow(`${latin1}: text: not valid UTF-8`);
    const json = path.join(dir, 'j.json');
    fs.writeFileSync(json, '{"schema":1,"eptfuzz":"1","machine":{},"ops":[{"op":"read"}]}');
    expect(() => loadTrace(json)).toThrow(`${json}: op 0 'read': missing field 'cpu'`);
  });
});
