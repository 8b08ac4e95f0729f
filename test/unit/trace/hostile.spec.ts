/**
 * Decoders survive hostile input: random bytes, truncations, bit flips, absurd declared lengths,
 * deep nesting and prototype keys all end in a TraceError (or a valid trace), never another
 * exception, never a polluted prototype. Seeded; the seed is in the describe title.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { traceArbitrary } from '../../../src/gen/arbitraries.js';
import { TraceError } from '../../../src/trace/errors.js';
import { formatJson, parseJson } from '../../../src/trace/json.js';
import { decodeTrace } from '../../../src/trace/load.js';
import { MSGPACK_MAGIC, decodeMsgpack, encodeMsgpack } from '../../../src/trace/msgpack.js';
import { formatText, parseText } from '../../../src/trace/text.js';
import { validateTrace } from '../../../src/trace/validate.js';

const SEED = Number(process.env.EPTFUZZ_SEED ?? 7);

/** Runs `decode`; a returned value is fine, a thrown one must be a one-line TraceError. */
function survives(decode: () => unknown): 'ok' | 'error' {
  try {
    decode();
    return 'ok';
  } catch (error) {
    if (!(error instanceof TraceError)) throw new Error(`not a TraceError: ${String(error)}`, { cause: error });
    expect(error.message).not.toMatch(/\n/);
    expect(error.message.length).toBeLessThanOrEqual(400);
    return 'error';
  }
}

const withMagic = (body: ArrayLike<number>): Uint8Array => new Uint8Array([...MSGPACK_MAGIC, ...Array.from(body)]);
const packr = new Packr({ useRecords: false, variableMapSize: true });
const pack = (doc: unknown): Uint8Array => withMagic(packr.pack(doc));

function notPolluted(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('polluted');
}

afterEach(notPolluted);

describe(`msgpack decoder survives hostile bytes (seed: ${SEED})`, () => {
  it('random bytes, with and without the magic', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, magic) => {
      expect(survives(() => decodeMsgpack(magic ? withMagic(bytes) : bytes))).toBe('error');
    }), { seed: SEED, numRuns: 2000 });
  });

  it('every truncation of a valid trace is an error', () => {
    fc.assert(fc.property(traceArbitrary({ opsMax: 6, bugs: 'any' }), (trace) => {
      const bytes = encodeMsgpack(trace);
      for (let n = 0; n < bytes.length; n++) expect(survives(() => decodeMsgpack(bytes.subarray(0, n)))).toBe('error');
    }), { seed: SEED, numRuns: 20 });
  });

  it('bit flips give a valid trace or a TraceError', () => {
    fc.assert(fc.property(traceArbitrary({ opsMax: 8, bugs: 'any' }), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (trace, flips) => {
      const bytes = encodeMsgpack(trace).slice();
      for (const f of flips) bytes[(f >> 3) % bytes.length] ^= 1 << (f & 7);
      survives(() => decodeMsgpack(bytes));
    }), { seed: SEED, numRuns: 1500 });
  });

  it('absurd declared lengths are refused before anything is allocated', () => {
    const huge = [0xff, 0xff, 0xff, 0xff];
    for (const body of [[0xdd, ...huge], [0xdb, ...huge], [0xdf, ...huge], [0xdc, 0xff, 0xff, 0xc0], [0xc6, ...huge], [0xc9, ...huge, 0x01]]) {
      expect(survives(() => decodeMsgpack(withMagic(body)))).toBe('error');
    }
    expect(() => decodeMsgpack(withMagic([0xdd, ...huge]))).toThrow(/array of 4294967295 declared/);
    // A plausible document whose ops array lies about its length.
    const bytes = encodeMsgpack({ schema: 1, eptfuzz: '0.1.0', machine: validateTrace({ schema: 1, eptfuzz: '0.1.0', machine: {}, ops: [] }).machine, ops: [] });
    const at = bytes.lastIndexOf(0x90); // the empty ops array, last byte
    const lying = new Uint8Array([...bytes.subarray(0, at), 0xdd, ...huge]);
    expect(() => decodeMsgpack(lying)).toThrow(TraceError);
  });

  it('deep nesting is refused without recursion trouble', () => {
    const depth = 200_000;
    const bytes = new Uint8Array(4 + depth + 1).fill(0x91);
    bytes.set(MSGPACK_MAGIC, 0);
    bytes[bytes.length - 1] = 0xc0;
    expect(() => decodeMsgpack(bytes)).toThrow(/nesting deeper than/);
  });

  it('extension, binary and reserved types, trailing bytes and duplicate keys are refused', () => {
    expect(() => decodeMsgpack(withMagic([0xd4, 0x72, 0x00]))).toThrow(/type byte 0xd4/); // msgpackr record definition
    expect(() => decodeMsgpack(withMagic([0xc1]))).toThrow(/type byte 0xc1/);
    expect(() => decodeMsgpack(withMagic([0xc4, 0x01, 0x00]))).toThrow(/type byte 0xc4/);
    expect(() => decodeMsgpack(withMagic([0xc0, 0xc0]))).toThrow(/1 trailing bytes/);
    expect(() => decodeMsgpack(withMagic([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02]))).toThrow(/duplicate map key/);
    expect(() => decodeMsgpack(withMagic([0x81, 0x01, 0x01]))).toThrow(/map key at byte 5 is not a string/);
  });

  it('__proto__, constructor and prototype keys are refused and pollute nothing', () => {
    const base = { schema: 1, eptfuzz: '0.1.0', machine: {}, ops: [] as unknown[] };
    const docs = [
      new Map<string, unknown>([...Object.entries(base), ['__proto__', { polluted: 1 }]]),
      { ...base, machine: new Map([['__proto__', { polluted: 1 }]]) },
      { ...base, machine: { caps: new Map([['constructor', { prototype: { polluted: 1 } }]]) } },
      { ...base, provenance: { seed: 's', options: new Map([['__proto__', 1]]) } },
      { ...base, provenance: { seed: 's', options: new Map([['prototype', 1]]) } },
    ];
    for (const doc of docs) {
      expect(() => decodeMsgpack(pack(doc))).toThrow(/forbidden key '(__proto__|constructor|prototype)'/);
    }
  });

  it('a valid document is still decoded (the scan does not over-refuse)', () => {
    fc.assert(fc.property(traceArbitrary({ opsMax: 10, bugs: 'any' }), (trace) => {
      expect(decodeMsgpack(encodeMsgpack(trace))).toEqual(trace);
    }), { seed: SEED, numRuns: 50 });
  });
});

describe(`JSON and text decoders survive hostile input (seed: ${SEED})`, () => {
  it('random strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (s) => {
      survives(() => parseJson(s));
      survives(() => parseText(s));
      survives(() => parseJson('{' + s));
      survives(() => parseText('@schema 1\n@eptfuzz 1\n@machine {}\n' + s));
    }), { seed: SEED, numRuns: 1000 });
  });

  it('random token edits of valid text and JSON', () => {
    fc.assert(fc.property(traceArbitrary({ opsMax: 6, bugs: 'any' }), fc.nat(), fc.constantFrom('', '0', '-1', 'x', '=', '#', '@machine {}', '0xffffffffffffffffff', '"', '{', '__proto__=1', 'null'), (trace, at, token) => {
      for (const src of [formatText(trace), formatJson(trace)]) {
        const i = at % (src.length + 1);
        const edited = src.slice(0, i) + token + src.slice(i + 1);
        survives(() => (src.startsWith('{') ? parseJson(edited) : parseText(edited)));
        survives(() => decodeTrace(new TextEncoder().encode(edited)));
      }
    }), { seed: SEED, numRuns: 500 });
  });

  it('deep JSON nesting', () => {
    expect(survives(() => parseJson('['.repeat(1_000_000)))).toBe('error');
    expect(survives(() => parseJson('{"schema":1,"eptfuzz":"1","machine":' + '{"caps":'.repeat(100_000) + '1' + '}'.repeat(100_001)))).toBe('error');
    expect(survives(() => parseText('@schema 1\n@eptfuzz 1\n@machine ' + '['.repeat(100_000) + '\n'))).toBe('error');
  });

  it('__proto__, constructor and prototype keys in JSON are refused and pollute nothing', () => {
    const srcs = [
      '{"schema":1,"eptfuzz":"1","machine":{},"ops":[],"__proto__":{"polluted":1}}',
      '{"schema":1,"eptfuzz":"1","machine":{"__proto__":{"polluted":1}},"ops":[]}',
      '{"schema":1,"eptfuzz":"1","machine":{"caps":{"__proto__":{"polluted":1}}},"ops":[]}',
      '{"schema":1,"eptfuzz":"1","machine":{},"ops":[{"op":"invlpg","cpu":0,"la":0,"__proto__":{"polluted":1}}]}',
      '{"schema":1,"eptfuzz":"1","machine":{},"ops":[],"provenance":{"seed":"s","options":{"constructor":{"prototype":{"polluted":1}}}}}',
      '{"schema":1,"eptfuzz":"1","machine":{},"ops":[],"signature":{"invariant":"a","op":"b","detail":"c","prototype":1}}',
    ];
    for (const src of srcs) expect(() => parseJson(src)).toThrow(/forbidden key/);
    expect(() => parseText('@schema 1\n@eptfuzz 1\n@machine {"__proto__":{"polluted":1}}\n')).toThrow(`line 3: @machine: forbidden key '__proto__'`);
    expect(() => parseText('@schema 1\n@eptfuzz 1\n@machine {}\ninvlpg cpu=0 la=0 __proto__=1\n')).toThrow(`line 4: op 'invlpg': forbidden key '__proto__'`);
  });

  it('objects with getters or exotic prototypes are refused by the validator', () => {
    const getter = { schema: 1, eptfuzz: '1', ops: [], get machine(): unknown { throw new Error('getter ran'); } };
    expect(() => validateTrace(getter)).toThrow(`trace: field 'machine' is not plain data`);
    expect(() => validateTrace({ schema: 1, eptfuzz: '1', machine: new Date(0), ops: [] })).toThrow(`machine: must be an object, got an object`);
  });
});
