import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { badMergeDest, notACorpus, notACrashStore, storeKind } from '../../../src/fuzz/store-kind.js';

describe('storeKind', () => {
  const root = mkdtempSync(join(tmpdir(), 'eptfuzz-kind-'));
  const store = join(root, 'store');
  mkdirSync(join(store, '0123456789abcdef'), { recursive: true });
  writeFileSync(join(store, '0123456789abcdef', 'description.json'), '{}');
  writeFileSync(join(store, '.eptfuzz.lock'), '{}');
  const corpus = join(root, 'corpus');
  mkdirSync(join(corpus, 'seeds'), { recursive: true });
  writeFileSync(join(corpus, 'seeds', 'a.txt'), '@schema 1\n');
  const empty = join(root, 'empty');
  mkdirSync(empty);
  const file = join(root, 'f.txt');
  writeFileSync(file, 'x');

  it('tells the kinds apart', () => {
    expect(storeKind(store)).toBe('crashes');
    expect(storeKind(join(store, '0123456789abcdef'))).toBe('crash-dir');
    expect(storeKind(corpus)).toBe('corpus');
    expect(storeKind(empty)).toBe('empty');
    expect(storeKind(file)).toBe('not-dir');
    expect(storeKind(join(root, 'nope'))).toBe('missing');
  });

  it('says why a directory cannot be a merge source or destination', () => {
    expect(notACrashStore(store)).toBeNull();
    expect(notACrashStore(empty)).toBeNull();
    expect(notACrashStore(corpus)).toMatch(/a corpus/);
    expect(notACrashStore(join(root, 'nope'))).toMatch(/no such directory/);
    expect(notACorpus(corpus)).toBeNull();
    expect(notACorpus(store)).toMatch(/a crash store/);
    expect(badMergeDest(join(root, 'new'), 'crashes')).toBeNull();
    expect(badMergeDest(corpus, 'crashes')).toMatch(/a corpus/);
    expect(badMergeDest(store, 'corpus')).toMatch(/a crash store/);
  });
});
