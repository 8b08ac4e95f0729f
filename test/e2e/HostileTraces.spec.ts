/**
 * Hostile traces (issue 6): untrusted trace files are harmless. Mutated traces of every form
 * (msgpack, text, JSON; bare and hv mode) — random bytes, truncations, bit flips, wrong magic,
 * newer and older schemas, absurd declared lengths, deep nesting, `__proto__`/`constructor` keys,
 * addresses, counts and sizes out of range, op counts and machine sizes beyond the limits — are
 * decoded, validated and (when valid) replayed in-process: every one is either a valid trace that
 * replays, or a one-line TraceError; no other exception, no prototype pollution, bounded time.
 * A sample of the rejected files then goes through the CLI (`eptfuzz replay FILE`): exit 2, one
 * line on stderr naming the file, no stack trace — in-process through main(), and a few in a real
 * child process.
 *
 * Default: HOSTILE_DEFAULT inputs; EPTFUZZ_LONG=1: HOSTILE_LONG (at least 100,000). The counts
 * (tried, rejected, accepted and replayed, crashes) are printed.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { TARGETS } from '../../src/check/targets.js';
import { checkTrace } from '../../src/check/check-trace.js';
import { generateTrace } from '../../src/gen/generate.js';
import { generateHvTrace } from '../../src/gen/hv/generate.js';
import { traceArbitrary } from '../../src/gen/arbitraries.js';
import { Rng } from '../../src/gen/rng.js';
import { allFeatures } from '../../src/gen/features.js';
import { DEFAULT_WEIGHTS } from '../../src/gen/weights.js';
import { normalizeConfig } from '../../src/hw/config.js';
import { TraceError } from '../../src/trace/errors.js';
import { decodeTrace, encodeTrace, loadTrace } from '../../src/trace/load.js';
import { MSGPACK_MAGIC, decodeMsgpack } from '../../src/trace/msgpack.js';
import { traceFiles } from '../../src/fuzz/corpus.js';
import { SCHEMA_VERSION, type Trace } from '../../src/trace/trace.js';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();
const LONG = process.env.EPTFUZZ_LONG === '1';
const INPUTS = LONG ? 100_000 : 4_000;
const CLI_SAMPLE = LONG ? 2_000 : 150;
const SPAWN_SAMPLE = LONG ? 20 : 3;
/** Longest any one decode + replay may take (they are small inputs; a hang shows up here). */
const INPUT_MS_MAX = 5_000;

const packr0 = new Packr({ useRecords: false, variableMapSize: true });
const packrFloat = new Packr({ useRecords: false, variableMapSize: true, largeBigIntToFloat: true });
/** Packs anything a mutation built (bigints beyond 64 bits become floats). */
const packr = { pack: (v: unknown): Uint8Array => { try { return packr0.pack(v); } catch { return packrFloat.pack(v); } } };
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' });
const withMagic = (body: Uint8Array): Uint8Array => { const out = new Uint8Array(4 + body.length); out.set(MSGPACK_MAGIC); out.set(body, 4); return out; };

/** Valid traces to mutate: generated bare and hv traces, random ones, and the committed seeds. */
function seedTraces(rng: Rng): Trace[] {
  const out: Trace[] = [];
  for (let i = 0; i < 12; i++) {
    const t = generateTrace(rng.derive(`gen${i}`), { opsMax: 10 + rng.int(50), features: allFeatures(), weights: { ...DEFAULT_WEIGHTS }, config: normalizeConfig() });
    out.push(t);
  }
  for (let i = 0; i < 6; i++) out.push(generateHvTrace(`${seed}-hv${i}`, { ops: 10 + rng.int(40) }));
  out.push(...fc.sample(traceArbitrary({ opsMax: 12, bugs: 'any' }), { seed: rng.int(2 ** 30), numRuns: 12 }));
  for (const f of traceFiles(new URL('../../corpus', import.meta.url).pathname)) out.push(loadTrace(f));
  return out;
}

/** The raw msgpack document of a trace (Maps, arrays, numbers, bigints, strings). */
const rawDoc = (t: Trace): unknown => unpackr.unpack(encodeTrace(t, 'msgpack').subarray(4));

const HOSTILE_VALUES: readonly unknown[] = [
  -1, 2 ** 53, 2 ** 64, -(2 ** 63), 1e300, Number.NaN, Number.POSITIVE_INFINITY, 0.5, 1n << 64n, (1n << 64n) - 1n, -1n,
  '', 'x'.repeat(5000), '0x' + 'f'.repeat(100), '__proto__', 'constructor', '\ud800', null, true, [], [[[[[[[[[[1]]]]]]]]]],
  new Map([['__proto__', { polluted: 1 }]]), new Map([['constructor', new Map([['prototype', new Map([['polluted', 1]])]])]]),
  2, 0, 9, 262145, 2 ** 31, 53, 35,
];

/** Replaces a random node of `doc` (arrays and maps, walked from the root) with `value`. */
function replaceNode(doc: unknown, rng: Rng, value: unknown): unknown {
  if (!(doc instanceof Map) && !Array.isArray(doc)) return value;
  if (rng.chance(0.25)) return value;
  if (doc instanceof Map) {
    const keys = [...doc.keys()];
    if (keys.length === 0) return value;
    const k = keys[rng.int(keys.length)];
    const copy = new Map(doc);
    copy.set(k, replaceNode(doc.get(k), rng, value));
    if (rng.chance(0.1)) copy.set(rng.pick(['__proto__', 'constructor', 'prototype', 'extra', 'schema']), value);
    return copy;
  }
  if (doc.length === 0) return [value];
  const copy = doc.slice();
  const i = rng.int(copy.length);
  copy[i] = replaceNode(copy[i], rng, value);
  return copy;
}

/** One hostile input made from a seed trace; `kind` names the mutation (for the counts). */
function mutant(seeds: readonly Trace[], rng: Rng): { kind: string; bytes: Uint8Array } {
  const t = seeds[rng.int(seeds.length)];
  const kind = rng.pick(['random', 'truncate', 'flip', 'splice', 'lengths', 'magic', 'schema', 'node', 'nest', 'keys', 'text', 'json', 'repeat', 'limits', 'operand', 'operand']);
  const base = encodeTrace(t, 'msgpack');
  switch (kind) {
    case 'random': {
      const b = new Uint8Array(rng.int(300));
      for (let i = 0; i < b.length; i++) b[i] = rng.int(256);
      return { kind, bytes: rng.chance(0.5) ? withMagic(b) : b };
    }
    case 'truncate': return { kind, bytes: base.slice(0, rng.int(base.length)) };
    case 'flip': {
      const b = base.slice();
      for (let n = 1 + rng.int(8); n > 0; n--) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return { kind, bytes: b };
    }
    case 'splice': {
      const other = encodeTrace(seeds[rng.int(seeds.length)], 'msgpack');
      const at = rng.int(base.length);
      const from = rng.int(other.length);
      return { kind, bytes: new Uint8Array([...base.subarray(0, at), ...other.subarray(from)]) };
    }
    case 'lengths': {
      // An absurd declared length (array, map, string, bin, ext headers) at a random place.
      const b = Array.from(base);
      const header = rng.pick([[0xdd, 0xff, 0xff, 0xff, 0xff], [0xdf, 0x7f, 0xff, 0xff, 0xff], [0xdb, 0xff, 0xff, 0xff, 0xf0], [0xdc, 0xff, 0xff], [0xc6, 0xff, 0xff, 0xff, 0xff], [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], [0xd4, 0x72, 0x00], [0xc1]]);
      const at = 4 + rng.int(Math.max(1, b.length - 4));
      b.splice(at, rng.int(3), ...header);
      return { kind, bytes: new Uint8Array(b) };
    }
    case 'magic': {
      const b = base.slice();
      b[rng.int(4)] = rng.int(256);
      return { kind, bytes: b };
    }
    case 'schema': {
      const doc = rawDoc(t) as Map<string, unknown>;
      doc.set('schema', rng.pick([0, 2, 3, 99, -1, 2 ** 40, '1', 1.5, null]));
      return { kind, bytes: withMagic(packr.pack(doc)) };
    }
    case 'node': {
      const doc = replaceNode(rawDoc(t), rng, rng.pick(HOSTILE_VALUES));
      return { kind, bytes: withMagic(packr.pack(doc)) };
    }
    case 'nest': {
      let v: unknown = 1;
      for (let d = 2 + rng.int(40); d > 0; d--) v = rng.chance(0.5) ? [v] : new Map([['caps', v]]);
      return { kind, bytes: withMagic(packr.pack(replaceNode(rawDoc(t), rng, v))) };
    }
    case 'keys': {
      const doc = rawDoc(t) as Map<string, unknown>;
      const where = rng.pick(['top', 'machine', 'provenance', 'caps']);
      const key = rng.pick(['__proto__', 'constructor', 'prototype']);
      const evil = new Map([['polluted', 1]]);
      if (where === 'top') doc.set(key, evil);
      else if (where === 'machine') (doc.get('machine') as Map<string, unknown>).set(key, evil);
      else if (where === 'caps') ((doc.get('machine') as Map<string, unknown>).get('caps') as Map<string, unknown>).set(key, evil);
      else doc.set('provenance', new Map<string, unknown>([['seed', 's'], ['options', new Map([[key, 1]])]]));
      return { kind, bytes: withMagic(packr.pack(doc)) };
    }
    case 'text': case 'json': {
      const src = new TextDecoder().decode(encodeTrace(t, kind));
      const token = rng.pick(['', '0', '-1', 'x', '=', '#', '@machine {}', '@schema 2', '0xffffffffffffffffff', '"', '{', '}', '[', '__proto__=1', '"__proto__":{"polluted":1},', 'cpu=8', 'la=0x' + 'f'.repeat(20), 'null', '\u0000', '\ufeff', '"framesMax":99999999,', '"vcpus":9,']);
      let out = src;
      for (let n = 1 + rng.int(3); n > 0; n--) {
        const i = rng.int(out.length + 1);
        out = out.slice(0, i) + token + out.slice(i + rng.int(4));
      }
      return { kind, bytes: new TextEncoder().encode(out) };
    }
    case 'operand': {
      // Operands changed to edge values: many stay valid, so replay meets odd addresses and entries.
      const doc = rawDoc(t) as Map<string, unknown>;
      const ops = doc.get('ops') as unknown[][];
      for (let n = 1 + rng.int(4); n > 0 && ops.length > 0; n--) {
        const op = ops[rng.int(ops.length)];
        if (op.length < 2) continue;
        op[1 + rng.int(op.length - 1)] = rng.pick<unknown>([0, 1, 7, 0xfff, 0x1000, 0xffff_ffff, rng.int(2 ** 31), 2 ** 46 - 1, 2 ** 52, 2 ** 53, (1n << 63n) + 5n, (1n << 64n) - 1n, 1n << 64n, 'x']);
      }
      return { kind, bytes: withMagic(packr.pack(doc)) };
    }
    case 'repeat': {
      // A region repeated many times: larger files, wrong counts.
      const at = 4 + rng.int(Math.max(1, base.length - 4));
      const len = 1 + rng.int(16);
      const chunk = base.subarray(at, at + len);
      const parts = [base.subarray(0, at)];
      for (let n = rng.int(2000); n > 0; n--) parts.push(chunk);
      parts.push(base.subarray(at));
      return { kind, bytes: Buffer.concat(parts) };
    }
    default: {
      // Machine sizes and counts beyond the limits, in any form.
      const doc = rawDoc(t) as Map<string, unknown>;
      const machine = doc.get('machine') as Map<string, unknown>;
      const [field, value] = rng.pick<[string, unknown]>([['framesMax', 2 ** 31], ['framesMax', 262145], ['framesMax', 15], ['vcpus', 9], ['vcpus', 0], ['maxPhyAddr', 53], ['maxPhyAddr', 35], ['bugs', ['canary', 'canary']], ['bugs', ['no-such-bug']], ['mode', 'vmx'], ['hv', new Map([['poolFrames', 2 ** 40]])]]);
      machine.set(field, value);
      return { kind, bytes: withMagic(packr.pack(doc)) };
    }
  }
}

interface Counts { tried: number; rejected: number; replayed: number; crashes: number; byKind: Map<string, [number, number]> }

function pollutionFree(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
}

const ONE_LINE = /^[^\n]*$/;

describe(`HostileTraces (seed: ${seed})`, () => {
  const rng = new Rng(`hostile-${seed}`);
  const seeds = seedTraces(rng);
  const rejectedFiles: Array<{ kind: string; bytes: Uint8Array; message: string }> = [];

  it(`${INPUTS} mutated traces: each decodes and replays, or is a one-line TraceError; nothing else escapes`, () => {
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const c: Counts = { tried: 0, rejected: 0, replayed: 0, crashes: 0, byKind: new Map() };
    const failures: string[] = [];
    let slowest = 0;
    for (let i = 0; i < INPUTS; i++) {
      const { kind, bytes } = mutant(seeds, rng.derive(`m${i}`));
      c.tried++;
      const k = c.byKind.get(kind) ?? [0, 0];
      k[0]++;
      c.byKind.set(kind, k);
      const t0 = performance.now();
      try {
        const trace = decodeTrace(bytes);
        checkTrace(trace, TARGETS.machine);
        c.replayed++;
      } catch (e) {
        if (e instanceof TraceError && ONE_LINE.test(e.message) && e.message.length <= 400) {
          c.rejected++;
          k[1]++;
          if (rejectedFiles.length < CLI_SAMPLE && (rejectedFiles.length < 20 || rng.chance(0.2))) rejectedFiles.push({ kind, bytes, message: e.message });
        } else {
          c.crashes++;
          if (failures.length < 5) failures.push(`${kind} #${i}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        }
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
    pollutionFree();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    const kinds = [...c.byKind].sort().map(([name, [n, r]]) => `${name} ${r}/${n}`).join(', ');
    console.log(`HostileTraces: ${c.tried} inputs tried, ${c.rejected} rejected with a one-line TraceError, ${c.replayed} valid and replayed, ${c.crashes} crashes; slowest ${slowest.toFixed(0)} ms (rejected/tried by mutation: ${kinds})`);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(c.crashes).toBe(0);
    expect(c.tried).toBe(INPUTS);
    expect(c.rejected).toBeGreaterThan(INPUTS / 2);
    expect(slowest).toBeLessThan(INPUT_MS_MAX);
  }, LONG ? 1_800_000 : 60_000);

  it('the limits themselves: op counts, file sizes and machine sizes beyond them are refused with one line', () => {
    // OPS_MAX + 1 tiny ops: refused by count, not by running them.
    const ops = new Array<unknown>(1_000_001).fill(['invlpg', 0, 0]);
    const big = withMagic(packr.pack(new Map<string, unknown>([['schema', 1], ['eptfuzz', '0.1.0'], ['machine', new Map()], ['ops', ops]])));
    const t0 = performance.now();
    expect(() => decodeMsgpack(big)).toThrow(/ops: 1000001 ops is more than OPS_MAX \(1000000\)/);
    expect(performance.now() - t0).toBeLessThan(INPUT_MS_MAX);
    expect(() => decodeMsgpack(withMagic(packr.pack({ schema: 1, eptfuzz: '0.1.0', machine: { framesMax: 2 ** 31 }, ops: [] })))).toThrow(/^machine: framesMax must be an integer in 16\.\.\d+, got 2147483648$/);
    expect(() => decodeMsgpack(withMagic(packr.pack({ schema: SCHEMA_VERSION + 1, eptfuzz: '0.1.0', machine: {}, ops: [] })))).toThrow(`schema: trace schema ${SCHEMA_VERSION + 1} is newer than this eptfuzz supports (${SCHEMA_VERSION})`);
    expect(() => decodeTrace(new Uint8Array(65 * 1024 * 1024).fill(0x41), 'msgpack')).toThrow(/more than the 67108864-byte limit/);
    pollutionFree();
  }, 60_000);

  it('the decoder, fuzzed with fast-check over structured documents, returns a trace or throws a one-line TraceError', () => {
    const leaf = fc.oneof(fc.integer(), fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), fc.double(), fc.string({ maxLength: 20 }), fc.boolean(), fc.constant(null),
      fc.constantFrom('__proto__', 'constructor', 'read', 'write', 'ept_set', '0x1000', 'canary'));
    const key = fc.oneof(fc.constantFrom('schema', 'eptfuzz', 'machine', 'ops', 'provenance', 'signature', 'vcpus', 'framesMax', 'caps', 'bugs', 'mode', 'hv', 'seed', 'options', '__proto__', 'constructor', 'prototype'), fc.string({ maxLength: 8 }));
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('map')),
      array: fc.array(tie('value'), { maxLength: 5 }),
      map: fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 6, selector: ([k]) => k }).map((es) => new Map(es)),
    }));
    // Schemas: too old, upgraded (1: vtl_protect targets are rewritten), current, too new.
    const doc = fc.tuple(fc.constantFrom(0, 1, 2, 3), value, value, fc.array(fc.oneof(fc.tuple(fc.constantFrom('read', 'write', 'invlpg', 'ept_set', 'vtl_protect'), fc.array(leaf, { maxLength: 5 })).map(([n, xs]) => [n, ...xs]), value), { maxLength: 6 }))
      .map(([schema, machine, extra, ops]) => new Map<string, unknown>([['schema', schema], ['eptfuzz', '0.1.0'], ['machine', machine instanceof Map ? machine : new Map()], ['ops', ops], ...(extra instanceof Map ? [...extra] : [])]));
    fc.assert(fc.property(doc, (d) => {
      let bytes: Uint8Array;
      try { bytes = withMagic(packr.pack(d)); } catch { return; }
      try {
        const t = decodeMsgpack(bytes);
        expect(t.schema).toBe(SCHEMA_VERSION);
      } catch (e) {
        if (!(e instanceof TraceError)) throw e;
        expect(e.message).toMatch(ONE_LINE);
      }
    }), { seed: Number.parseInt(seed, 16) || 1, numRuns: LONG ? 50_000 : 3_000 });
    pollutionFree();
  }, LONG ? 600_000 : 60_000);

  it('rejected files through the CLI: exit 2, one line naming the file, no stack trace (in-process and a real process)', async () => {
    expect(rejectedFiles.length).toBeGreaterThan(0);
    const dir = tempDir('hostile');
    const files = rejectedFiles.map((r, i) => {
      const file = join(dir, `${i}-${r.kind}.trace`);
      writeFileSync(file, r.bytes);
      return file;
    });
    for (const file of files) {
      const r = await cli(['replay', file]);
      expect(r.code, `${file}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^eptfuzz: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: [^\\n]+\\n$`));
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(r.stdout).toBe('');
    }
    const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
    for (const file of files.slice(0, SPAWN_SAMPLE)) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', main, 'replay', file], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
      expect(r.stderr).toMatch(/^eptfuzz: /);
    }
    console.log(`HostileTraces CLI: ${files.length} rejected files replayed in-process, ${Math.min(SPAWN_SAMPLE, files.length)} in a child process: all exit 2 with one line`);
    pollutionFree();
  }, LONG ? 600_000 : 60_000);
});
