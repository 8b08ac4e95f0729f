import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrashStore, readDescription } from '../../../src/fuzz/crash-store.js';
import { mergeCrashStores } from '../../../src/fuzz/crash-merge.js';
import { coveringSubset, featureUnion, mergeCorpora, scanCorpus } from '../../../src/fuzz/corpus-tools.js';
import { addressOf } from '../../../src/fuzz/corpus.js';
import { signatureHash } from '../../../src/check/violation.js';
import { TARGETS } from '../../../src/check/targets.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import { Rng } from '../../../src/gen/rng.js';
import { generateTrace } from '../../../src/gen/generate.js';
import { allFeatures } from '../../../src/gen/features.js';
import { DEFAULT_WEIGHTS } from '../../../src/gen/weights.js';
import { saveTrace } from '../../../src/trace/load.js';
import type { Trace } from '../../../src/trace/trace.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'eptfuzz-merge-'));
const trace = (n: number): Trace => ({
  schema: 1, eptfuzz: '0.1.0', machine: normalizeConfig(),
  ops: Array.from({ length: n }, (_, i) => ({ op: 'read', cpu: 0, la: 0x1000 * i, size: 8 })),
});
const sig = { invariant: 'mem.no-lost-write', op: 'write', detail: 'data bytes differ' };
const hash = signatureHash(sig);

describe('crashes merge', () => {
  it('copies new signatures, keeps the shorter repro, sums counts per campaign, and is idempotent', () => {
    const a = tmp();
    const b = tmp();
    const sa = new CrashStore(a, 's', { shard: '0/2' });
    sa.create(hash, sig, 3, trace(40), { trace: { ...trace(9), signature: sig }, report: { opsBefore: 40, opsAfter: 9, steps: 1, memoHits: 0, rounds: 1, stepsExhausted: false, timedOut: false } });
    sa.again(hash, trace(41));
    sa.flush();
    const sb = new CrashStore(b, 's', { shard: '1/2' });
    sb.create(hash, sig, 8, trace(50), { trace: { ...trace(4), signature: sig }, report: { opsBefore: 50, opsAfter: 4, steps: 1, memoHits: 0, rounds: 1, stepsExhausted: false, timedOut: false } });
    const other = { invariant: 'fault.pf-error-code', op: 'read', detail: 'cr2 differs' };
    sb.create(signatureHash(other), other, 9, trace(7));

    const dest = tmp();
    expect(mergeCrashStores(dest, [a, b])).toEqual({ added: 2, merged: 1, unchanged: 0, skipped: [] });
    const d = readDescription(join(dest, hash))!;
    expect(d.count).toBe(3);
    expect(d.sources).toEqual({ 's shard 0/2': 2, 's shard 1/2': 1 });
    expect(d.minimized?.ops_after).toBe(4);
    expect(d.originals).toEqual(['original-1.msgpack', 'original-2.msgpack', 'original-3.msgpack']);
    const before = readdirSync(join(dest, hash)).map((f) => readFileSync(join(dest, hash, f)));
    expect(mergeCrashStores(dest, [a, b])).toEqual({ added: 0, merged: 0, unchanged: 3, skipped: [] });
    expect(readdirSync(join(dest, hash)).map((f) => readFileSync(join(dest, hash, f)))).toEqual(before);
  });

  it('skips a directory whose name is not its signature hash', () => {
    const a = tmp();
    new CrashStore(a, 's', {}).create(hash, sig, 1, trace(3));
    cpSync(join(a, hash), join(a, 'deadbeefdeadbeef'), { recursive: true });
    const r = mergeCrashStores(tmp(), [a]);
    expect(r.added).toBe(1);
    expect(r.skipped.map((s) => s.dir)).toEqual([join(a, 'deadbeefdeadbeef')]);
  });
});

describe('corpus tools', () => {
  const config = normalizeConfig();
  const traces = Array.from({ length: 12 }, (_, i) => generateTrace(new Rng(`ct/${i}`), { opsMax: 60, features: allFeatures(), weights: { ...DEFAULT_WEIGHTS }, config }));

  it('merge copies by content address (any form), idempotently', () => {
    const a = tmp();
    const b = tmp();
    traces.slice(0, 8).forEach((t, i) => saveTrace(join(a, `t${i}.txt`), t, 'text'));
    traces.slice(4).forEach((t, i) => saveTrace(join(b, `u${i}.json`), t, 'json'));
    writeFileSync(join(b, 'junk.msgpack'), 'nope');
    const dest = tmp();
    const r = mergeCorpora(dest, [a, b]);
    expect(r).toMatchObject({ added: 12, present: 4 });
    expect(r.unreadable.map((u) => u.file)).toEqual([join(b, 'junk.msgpack')]);
    expect(readdirSync(dest).sort()).toEqual(traces.map((t) => `${addressOf(t).hash}.msgpack`).sort());
    expect(mergeCorpora(dest, [a, b])).toMatchObject({ added: 0, present: 16 });
  });

  it('a covering subset reaches every feature of the whole corpus', () => {
    const a = tmp();
    traces.forEach((t, i) => saveTrace(join(a, `t${i}.msgpack`), t, 'msgpack'));
    saveTrace(join(a, 'copy.txt'), traces[0], 'text');
    // Same ops under another provenance: a distinct entry whose features add nothing.
    saveTrace(join(a, 'twin.msgpack'), { ...traces[1], provenance: { seed: 'twin', options: {} } }, 'msgpack');
    const scan = scanCorpus(a, TARGETS.machine);
    expect(scan.entries).toHaveLength(13);
    expect(scan.entries.find((e) => e.hash === addressOf(traces[0]).hash)?.duplicates).toEqual([join(a, 't0.msgpack')]);
    const subset = coveringSubset(scan.entries);
    expect(subset.length).toBeLessThan(scan.entries.length);
    expect(featureUnion(subset)).toEqual(featureUnion(scan.entries));
    expect(coveringSubset(scan.entries)).toEqual(subset); // deterministic
  });
});
