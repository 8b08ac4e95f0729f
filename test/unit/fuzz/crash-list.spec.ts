import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrashStore } from '../../../src/fuzz/crash-store.js';
import { mergeCrashStores } from '../../../src/fuzz/crash-merge.js';
import { listCrashes } from '../../../src/fuzz/crash-list.js';
import { SEEN_FILE, mergeSeen, readSeen } from '../../../src/fuzz/crash-seen.js';
import { signatureHash } from '../../../src/check/violation.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import type { Trace } from '../../../src/trace/trace.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'eptfuzz-list-'));
const trace = (n: number): Trace => ({
  schema: 2, eptfuzz: '0.1.0', machine: normalizeConfig(),
  ops: Array.from({ length: n }, (_, i) => ({ op: 'read', cpu: 0, la: 0x1000 * i, size: 8 })),
});
const sig = { invariant: 'mem.no-lost-write', op: 'write', detail: 'data bytes differ' };
const hash = signatureHash(sig);
const other = { invariant: 'fault.pf-error-code', op: 'read', detail: 'cr2 differs' };
const shrunk = (n: number, before: number): { trace: Trace; report: { opsBefore: number; opsAfter: number; steps: number; memoHits: number; rounds: number; stepsExhausted: boolean; timedOut: boolean } } =>
  ({ trace: { ...trace(n), signature: sig }, report: { opsBefore: before, opsAfter: n, steps: 1, memoHits: 0, rounds: 1, stepsExhausted: false, timedOut: false } });
/** A clock that reads `t` (ms since the epoch) until moved. */
const clock = (t: number): { now: () => number; set: (x: number) => void } => ({ now: () => t, set: (x) => { t = x; } });
const T0 = Date.UTC(2026, 11, 5, 8, 0, 0);

describe('seen.json: first and last sighting by the wall clock', () => {
  it('is written with the directory and moved at flush by later sightings; nothing else changes with the clock', () => {
    const dirs = [tmp(), tmp()];
    for (const [i, dir] of dirs.entries()) {
      const c = clock(T0 + i * 3_600_000);
      const store = new CrashStore(dir, 's', {}, c.now);
      store.create(hash, sig, 3, trace(9));
      expect(readSeen(join(dir, hash))).toEqual({ first_seen: new Date(T0 + i * 3_600_000).toISOString(), last_seen: new Date(T0 + i * 3_600_000).toISOString() });
      c.set(T0 + i * 3_600_000 + 90_000);
      store.again(hash, trace(10));
      store.again(hash, trace(11));
      store.again(hash, trace(12)); // past ORIGINALS_MAX: counted at flush
      store.flush();
      expect(readSeen(join(dir, hash))).toEqual({ first_seen: new Date(T0 + i * 3_600_000).toISOString(), last_seen: new Date(T0 + i * 3_600_000 + 90_000).toISOString() });
    }
    // Two clocks an hour apart: every other file is byte-identical.
    for (const f of ['description.json', 'repro.msgpack', 'repro.txt', 'original-1.msgpack', 'original-3.msgpack']) {
      expect(readFileSync(join(dirs[0], hash, f)).equals(readFileSync(join(dirs[1], hash, f))), f).toBe(true);
    }
    expect(readFileSync(join(dirs[0], hash, SEEN_FILE)).equals(readFileSync(join(dirs[1], hash, SEEN_FILE)))).toBe(false);
  });

  it('an adopted directory without seen.json gets a last sighting and no invented first one', () => {
    const dir = tmp();
    new CrashStore(dir, 's', {}).create(hash, sig, 1, trace(3));
    rmSync(join(dir, hash, SEEN_FILE));
    const store = new CrashStore(dir, 's', {}, () => T0);
    store.load();
    store.again(hash, trace(4));
    store.flush();
    expect(readSeen(join(dir, hash))).toEqual({ first_seen: null, last_seen: new Date(T0).toISOString() });
  });

  it('reads a damaged file as unknown times, and merges earliest first with latest last', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'x'));
    writeFileSync(join(dir, 'x', SEEN_FILE), '{"first_seen": "yesterday", "last_seen": 5}');
    expect(readSeen(join(dir, 'x'))).toEqual({ first_seen: null, last_seen: null });
    writeFileSync(join(dir, 'x', SEEN_FILE), 'not json');
    expect(readSeen(join(dir, 'x'))).toBeNull();
    const a = { first_seen: '2026-12-05T08:00:00.000Z', last_seen: '2026-12-05T09:00:00.000Z' };
    const b = { first_seen: '2026-12-04T23:00:00.000Z', last_seen: '2026-12-05T08:30:00.000Z' };
    expect(mergeSeen(a, b)).toEqual({ first_seen: b.first_seen, last_seen: a.last_seen });
    expect(mergeSeen({ first_seen: null, last_seen: a.last_seen }, b)).toEqual({ first_seen: b.first_seen, last_seen: a.last_seen });
    expect(mergeSeen(null, a)).toEqual(a);
  });

  it('crashes merge combines the times (min first, max last), also when the counts do not change', () => {
    const [a, b, dest] = [tmp(), tmp(), tmp()];
    const sa = new CrashStore(a, 's', { shard: '0/2' }, () => T0 + 60_000);
    sa.create(hash, sig, 3, trace(40), shrunk(9, 40));
    const cb = clock(T0);
    const sb = new CrashStore(b, 's', { shard: '1/2' }, cb.now);
    sb.create(hash, sig, 8, trace(50), shrunk(4, 50));
    cb.set(T0 + 600_000);
    sb.again(hash, trace(51));
    sb.flush();
    mergeCrashStores(dest, [a]);
    expect(readSeen(join(dest, hash))).toEqual({ first_seen: new Date(T0 + 60_000).toISOString(), last_seen: new Date(T0 + 60_000).toISOString() });
    mergeCrashStores(dest, [b]);
    expect(readSeen(join(dest, hash))).toEqual({ first_seen: new Date(T0).toISOString(), last_seen: new Date(T0 + 600_000).toISOString() });
  });
});

describe('listCrashes', () => {
  it('one row per signature across shards: counts per campaign (a merged store adds nothing), earliest/latest times, shortest repro', () => {
    const [a, b, merged] = [tmp(), tmp(), tmp()];
    const sa = new CrashStore(a, 's', { shard: '0/2' }, () => T0 + 5_000);
    sa.create(hash, sig, 3, trace(40), shrunk(9, 40));
    sa.again(hash, trace(41));
    sa.flush();
    const sb = new CrashStore(b, 's', { shard: '1/2' }, () => T0);
    sb.create(hash, sig, 8, trace(50), shrunk(4, 50));
    sb.create(signatureHash(other), other, 9, trace(7));
    mergeCrashStores(merged, [a, b]);

    for (const stores of [[a, b], [a, b, merged], [merged]]) {
      const { rows, skipped } = listCrashes(stores);
      expect(skipped).toEqual([]);
      expect(rows.map((r) => r.hash)).toEqual([hash, signatureHash(other)]);
      const [r, o] = rows;
      expect(r.count).toBe(3);
      expect(r.sources).toEqual({ 's shard 0/2': 2, 's shard 1/2': 1 });
      expect(r.firstSeen).toBe(new Date(T0).toISOString());
      expect(r.lastSeen).toBe(new Date(T0 + 5_000).toISOString());
      expect(r.reproOps).toBe(4);
      expect(r.minimized).toBe(true);
      expect(r.summary).toBe('mem.no-lost-write @ write: data bytes differ');
      expect(o).toMatchObject({ count: 1, reproOps: 7, minimized: false });
    }
    expect(listCrashes([a, b]).rows[0].dir).toBe(join(b, hash));
    expect(listCrashes([a, b]).rows[0].dirs).toEqual([join(a, hash), join(b, hash)]);
  });

  it('reports directories it cannot trust instead of listing them', () => {
    const a = tmp();
    new CrashStore(a, 's', {}).create(hash, sig, 1, trace(3));
    cpSync(join(a, hash), join(a, 'deadbeefdeadbeef'), { recursive: true });
    mkdirSync(join(a, 'junk'));
    const { rows, skipped } = listCrashes([a]);
    expect(rows).toHaveLength(1);
    expect(skipped.map((s) => s.dir).sort()).toEqual([join(a, 'deadbeefdeadbeef'), join(a, 'junk')]);
  });

  it('names the model rule when the description carries one', () => {
    const a = tmp();
    new CrashStore(a, 's', {}).create(hash, sig, 1, trace(3));
    const file = join(a, hash, 'description.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')) as object, rule: 'ept.leaf-write' }));
    expect(listCrashes([a]).rows[0].rule).toBe('ept.leaf-write');
  });
});
