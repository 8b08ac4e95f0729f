/**
 * The three forms round-trip exactly: msgpack → text → JSON → msgpack gives the same bytes, and
 * every decoded trace equals the generated one. Seeded; the seed is in the describe title.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { traceArbitrary } from '../../../src/gen/arbitraries.js';
import { defaultConfig } from '../../../src/hw/config.js';
import { formatJson, parseJson } from '../../../src/trace/json.js';
import { decodeMsgpack, encodeMsgpack } from '../../../src/trace/msgpack.js';
import { formatText, parseText } from '../../../src/trace/text.js';
import { SCHEMA_VERSION, type Trace } from '../../../src/trace/trace.js';

const SEED = Number(process.env.EPTFUZZ_SEED ?? 20260101);

describe(`trace forms round-trip (seed: ${SEED})`, () => {
  it('msgpack → text → json → msgpack is byte-identical and value-exact', () => {
    fc.assert(
      fc.property(traceArbitrary({ opsMax: 30, bugs: 'any' }), (trace) => {
        const bytes = encodeMsgpack(trace);
        const fromMsgpack = decodeMsgpack(bytes);
        expect(fromMsgpack).toEqual(trace);
        const text = formatText(fromMsgpack);
        const fromText = parseText(text);
        expect(fromText).toEqual(trace);
        const json = formatJson(fromText);
        const fromJson = parseJson(json);
        expect(fromJson).toEqual(trace);
        expect(Buffer.from(encodeMsgpack(fromJson)).equals(Buffer.from(bytes))).toBe(true);
        expect(formatText(fromJson)).toBe(text);
        expect(formatJson(fromMsgpack)).toBe(json);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('u64 extremes survive every form exactly', () => {
    const values = [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];
    const trace: Trace = {
      schema: SCHEMA_VERSION, eptfuzz: '0.1.0', machine: defaultConfig(),
      ops: values.map((value) => ({ op: 'phys_write', hpa: 2 ** 52 - 1, size: 8, value })),
    };
    const back = parseJson(formatJson(parseText(formatText(decodeMsgpack(encodeMsgpack(trace))))));
    expect(back).toEqual(trace);
    expect(back.ops.map((op) => (op as { value: bigint }).value)).toEqual(values);
  });

  it('encoding is deterministic: equal traces built in different key orders give equal bytes', () => {
    const a: Trace = {
      schema: SCHEMA_VERSION, eptfuzz: '0.1.0', machine: defaultConfig(), ops: [{ op: 'read', cpu: 0, la: 0x1000, size: 8 }],
      provenance: { seed: '0x2a', options: { b: 1, a: 'x', '10': true, '9': false } },
    };
    const b: Trace = {
      provenance: { options: { '9': false, a: 'x', '10': true, b: 1 }, seed: '0x2a' },
      ops: [{ size: 8, la: 0x1000, cpu: 0, op: 'read' } as Trace['ops'][number]], machine: { ...defaultConfig() }, eptfuzz: '0.1.0', schema: SCHEMA_VERSION,
    };
    expect(Buffer.from(encodeMsgpack(a)).equals(Buffer.from(encodeMsgpack(b)))).toBe(true);
    expect(formatText(a)).toBe(formatText(b));
    expect(formatJson(a)).toBe(formatJson(b));
  });
});
