/**
 * Hub messages: a block result round-trips (its traces re-encode to the same bytes), and every
 * malformed one is refused with a HubMessageError naming the message and field, in one line.
 */
import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { Rng } from '../../../src/gen/rng.js';
import { generateTrace } from '../../../src/gen/generate.js';
import { allFeatures } from '../../../src/gen/features.js';
import { DEFAULT_WEIGHTS } from '../../../src/gen/weights.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import { encodeMsgpack } from '../../../src/trace/msgpack.js';
import type { RunReport } from '../../../src/fuzz/protocol.js';
import { decodeBlockResult, decodeMergeRecord, encodeBlockResult, HubMessageError } from '../../../src/hub/hub-messages.js';

const trace = generateTrace(new Rng('hub-messages'), { opsMax: 40, features: allFeatures(), weights: DEFAULT_WEIGHTS, config: normalizeConfig({}) });
const reports: RunReport[] = [
  { run: 64, ops: 40, mutated: false, fresh: [1, 2, 3], trace, failure: { signature: { invariant: 'mem.no-lost-write', op: 'write', detail: 'lost' }, step: 7, detail: 'x' }, stable: true, rules: [3, 2, 7, 1] },
  { run: 65, ops: 12, mutated: true, fresh: [], trace: null, failure: null, stable: null, rules: [] },
];

function refusal(f: () => unknown): string {
  try { f(); } catch (e) {
    expect(e).toBeInstanceOf(HubMessageError);
    const m = (e as Error).message;
    expect(m.split('\n')).toHaveLength(1);
    return m;
  }
  throw new Error('not refused');
}

describe('hub messages', () => {
  it('a block result round-trips, traces byte for byte', () => {
    const back = decodeBlockResult(encodeBlockResult({ block: 1, machine: 'm', reports }), 1, 64, 66);
    expect(back.reports.map((r) => ({ ...r, trace: null }))).toEqual(reports.map((r) => ({ ...r, trace: null })));
    expect(Buffer.from(encodeMsgpack(back.reports[0].trace!)).equals(Buffer.from(encodeMsgpack(trace)))).toBe(true);
  });

  it('fields a later version adds to a report, its failure or its signature travel as they are', () => {
    const later = [{ ...reports[0], note: 'x', failure: { ...reports[0].failure!, rule: 'SDM 29.3.3.2', signature: { ...reports[0].failure!.signature, rule: 'r1' } } }] as unknown as RunReport[];
    const back = decodeBlockResult(encodeBlockResult({ block: 1, machine: 'm', reports: later }), 1, 64, 65).reports[0] as unknown as Record<string, unknown>;
    expect(back.note).toBe('x');
    expect(back.failure).toMatchObject({ rule: 'SDM 29.3.3.2', signature: { invariant: 'mem.no-lost-write', rule: 'r1' } });
  });

  it("a failure's alternative explanations travel, and malformed ones are refused", () => {
    const alt = { invariant: 'tlb.stale-after-flush', op: 'access', detail: 'flushed by tlb.invept.single' };
    const withAlts: RunReport[] = [{ ...reports[0], failure: { ...reports[0].failure!, alternates: [alt] } }];
    expect(decodeBlockResult(encodeBlockResult({ block: 1, machine: 'm', reports: withAlts }), 1, 64, 65).reports[0].failure?.alternates).toEqual([alt]);
    const packr = new Packr({ useRecords: false });
    const failing = (alternates: unknown): Buffer => packr.pack({ v: 1, kind: 'block-result', block: 1, machine: 'm', reports: [{ run: 64, ops: 1, mutated: false, fresh: [], trace: encodeMsgpack(trace), failure: { signature: { invariant: 'a', op: 'b', detail: 'c' }, step: 0, detail: 'd', alternates }, stable: null }] });
    expect(refusal(() => decodeBlockResult(failing('x'), 1, 64, 65))).toContain('reports[0].failure.alternates is not an array');
    expect(refusal(() => decodeBlockResult(failing([{ invariant: 'a', op: 'b' }]), 1, 64, 65))).toContain('reports[0].failure.alternates[0] lacks invariant, op or detail');
    expect(refusal(() => decodeBlockResult(failing(Array.from({ length: 17 }, () => alt)), 1, 64, 65))).toContain('reports[0].failure.alternates holds 17 signatures, at most 16');
  });

  it('refuses malformed results and records, naming the field', () => {
    const good = encodeBlockResult({ block: 1, machine: 'm', reports });
    expect(refusal(() => decodeBlockResult(good, 2, 128, 130))).toBe('malformed result of block 2: block is 1');
    expect(refusal(() => decodeBlockResult(good, 1, 64, 67))).toBe('malformed result of block 1: reports holds 2 runs, expected 3');
    expect(refusal(() => decodeBlockResult(Buffer.from('garbage'), 1, 64, 66))).toMatch(/^malformed result of block 1: (the message does not decode|v is)/);
    expect(refusal(() => decodeBlockResult('text', 1, 64, 66))).toBe('malformed result of block 1: the message is not bytes');
    const packr = new Packr({ useRecords: false });
    const doc = (over: Record<string, unknown>): Buffer => packr.pack({ v: 1, kind: 'block-result', block: 1, machine: 'm', reports: [{ run: 64, ops: 1, mutated: false, fresh: [], trace: null, failure: null, stable: null }], ...over });
    expect(refusal(() => decodeBlockResult(doc({ kind: 'merge' }), 1, 64, 65))).toBe("malformed result of block 1: kind is \"merge\", expected 'block-result'");
    expect(refusal(() => decodeBlockResult(doc({ reports: [{ run: 64, ops: -1, mutated: false, fresh: [], trace: null, failure: null, stable: null }] }), 1, 64, 65))).toContain('reports[0].ops is not a whole number');
    expect(refusal(() => decodeBlockResult(doc({ reports: [{ run: 64, ops: 1, mutated: false, fresh: [], trace: new Uint8Array([1, 2]), failure: null, stable: null }] }), 1, 64, 65))).toContain('reports[0].trace is not a valid trace');
    expect(refusal(() => decodeBlockResult(doc({ reports: [{ run: 64, ops: 1, mutated: false, fresh: ['x'], trace: null, failure: null, stable: null }] }), 1, 64, 65))).toContain('reports[0].fresh[0] is not a whole number');
    expect(refusal(() => decodeBlockResult(doc({ reports: [{ run: 64, ops: 1, mutated: false, fresh: [], trace: null, failure: { signature: { invariant: 'a', op: 'b', detail: 'c' }, step: 0, detail: 'd' }, stable: null }] }), 1, 64, 65))).toContain('reports[0].trace is missing for a failing run');
    expect(refusal(() => decodeMergeRecord(packr.pack({ v: 2, kind: 'merge' }), 0))).toBe('malformed merge record of block 0: v is 2, expected 1');
  });
});
