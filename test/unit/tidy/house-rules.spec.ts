/**
 * House rules enforced as a test (TigerBeetle's tidy): deterministic code never reads the wall
 * clock or Math.random, and every source file opens with a module comment stating its contract.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('house rules', () => {
  it('no wall clock or Math.random in src/hw, src/hv, src/model, src/gen', () => {
    const banned = /Math\.random|Date\.now|new Date\(|performance\.now|process\.hrtime/;
    const offenders: string[] = [];
    for (const d of ['hw', 'hv', 'spec', 'gen']) {
      let list: string[] = [];
      try { list = files(join(ROOT, 'src', d)); } catch { continue; }
      for (const f of list) {
        readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
          if (banned.test(line) && !line.trim().startsWith('//') && !line.trim().startsWith('*')) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the systems under test (src/hw, src/hv) import none of their judges (src/check, the reference models)', () => {
    const judge = /from '(\.\.\/)+(check|spec|model)\//;
    const offenders: string[] = [];
    for (const d of ['hw', 'hv']) {
      for (const f of files(join(ROOT, 'src', d))) {
        readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
          if (judge.test(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(offenders).toEqual([]);
  });

  it('every source file opens with a module comment', () => {
    const missing = files(join(ROOT, 'src')).filter((f) => {
      const text = readFileSync(f, 'utf8').replace(/^#!.*\n/, '').trimStart();
      return !text.startsWith('/**') && !text.startsWith('//');
    });
    expect(missing).toEqual([]);
  });
});
