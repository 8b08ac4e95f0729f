import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrashStore, ORIGINALS_MAX } from '../../../src/fuzz/crash-store.js';
import { setWriteFault, writeDirAtomic } from '../../../src/fuzz/atomic.js';
import { normalizeConfig } from '../../../src/hw/config.js';
import type { Trace } from '../../../src/trace/trace.js';

const trace = (n: number): Trace => ({
  schema: 1, eptfuzz: '0.1.0', machine: normalizeConfig(),
  ops: Array.from({ length: n }, (_, i) => ({ op: 'read', cpu: 0, la: 0x1000 * i, size: 8 })),
});
const sig = { invariant: 'mem.no-lost-write', op: 'write', detail: 'frame bytes differ' };

describe('CrashStore', () => {
  it('writes a complete directory, counts later sightings and keeps at most 3 originals', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eptfuzz-store-'));
    const store = new CrashStore(dir, 's', { runs: 10 });
    store.create('abc', sig, 4, trace(9));
    for (let i = 0; i < 5; i++) store.again('abc', trace(10 + i));
    store.flush();
    const files = readdirSync(join(dir, 'abc')).sort();
    expect(files).toEqual(['description.json', 'original-1.msgpack', 'original-2.msgpack', 'original-3.msgpack', 'repro.msgpack', 'repro.txt', 'seen.json']);
    const d = JSON.parse(readFileSync(join(dir, 'abc', 'description.json'), 'utf8')) as { count: number; first_seen_run: number; originals: string[] };
    expect(d).toMatchObject({ count: 6, first_seen_run: 4 });
    expect(d.originals).toHaveLength(ORIGINALS_MAX);
    expect(readdirSync(dir)).toEqual(['abc']); // no temporary left behind

    const again = new CrashStore(dir, 's', {});
    expect(again.load()).toBe(1);
    expect(again.known('abc')).toBe(true);
    again.again('abc', trace(1));
    again.flush();
    expect((JSON.parse(readFileSync(join(dir, 'abc', 'description.json'), 'utf8')) as { count: number }).count).toBe(7);
  });

  it('a disk that fills between a new original and the description that lists it: the original is taken back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eptfuzz-store-'));
    const store = new CrashStore(dir, 's', { runs: 10 });
    store.create('abc', sig, 4, trace(9));
    setWriteFault({ code: 'ENOSPC', after: 1 }); // original-2 is written, its description is not
    try {
      expect(() => store.again('abc', trace(10))).toThrow(/ENOSPC/);
    } finally {
      setWriteFault(null);
    }
    const d = JSON.parse(readFileSync(join(dir, 'abc', 'description.json'), 'utf8')) as { originals: string[] };
    expect(readdirSync(join(dir, 'abc')).filter((n) => !n.startsWith('.tmp-')).sort()).toEqual(['description.json', ...d.originals, 'repro.msgpack', 'repro.txt', 'seen.json'].sort());
  });

  it('writeDirAtomic refuses to overwrite and leaves nothing on refusal', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eptfuzz-atomic-'));
    expect(writeDirAtomic(join(dir, 'x'), new Map([['a', 'one']]))).toBe(true);
    expect(writeDirAtomic(join(dir, 'x'), new Map([['a', 'two']]))).toBe(false);
    expect(readFileSync(join(dir, 'x', 'a'), 'utf8')).toBe('one');
    expect(readdirSync(dir)).toEqual(['x']);
    expect(existsSync(join(dir, 'x', 'b'))).toBe(false);
  });
});
