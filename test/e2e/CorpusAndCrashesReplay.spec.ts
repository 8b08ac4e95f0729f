/**
 * What ships in the repository still holds: every corpus trace (corpus/**: .txt, .json, .msgpack)
 * replays with no violation, and every committed crash (crashes/<hash>/repro.msgpack) still
 * reproduces its recorded signature with its recorded planted bugs, against the oracle its
 * campaign used. A seed that fails is named in the assertion message.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkedSignature, checkTrace } from '../../src/check/check-trace.js';
import { TARGETS, type TargetName } from '../../src/check/targets.js';
import { formatSignature, signatureHash } from '../../src/check/violation.js';
import { traceFiles } from '../../src/fuzz/corpus.js';
import { readDescription } from '../../src/fuzz/crash-store.js';
import { loadTrace } from '../../src/trace/load.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CORPUS = join(ROOT, 'corpus');
const CRASHES = join(ROOT, 'crashes');

const corpusFiles = existsSync(CORPUS) ? traceFiles(CORPUS) : [];
const crashDirs = existsSync(CRASHES)
  ? readdirSync(CRASHES).sort().filter((n) => !n.startsWith('.') && statSync(join(CRASHES, n)).isDirectory()).map((n) => join(CRASHES, n))
  : [];

describe('CorpusAndCrashesReplay', () => {
  it('the corpus holds the hand-written seeds', () => {
    const seeds = corpusFiles.filter((f) => f.startsWith(join(CORPUS, 'seeds')) && f.endsWith('.txt'));
    expect(seeds.length, 'corpus/seeds/*.txt').toBeGreaterThanOrEqual(7);
  });

  it.each(corpusFiles.map((f) => [relative(ROOT, f), f]))('corpus trace %s replays with no violation', (_name, file) => {
    const trace = loadTrace(file);
    const r = checkTrace(trace, TARGETS.model);
    const what = r.first === null ? 'passes' : `FAILS: ${formatSignature(checkedSignature(r.first))} at step ${r.first.step}: ${r.first.detail}`;
    expect(what, relative(ROOT, file)).toBe('passes');
  });

  if (crashDirs.length === 0) {
    it.skip('no committed crashes under crashes/ yet', () => {});
  }

  it.each(crashDirs.map((d) => [relative(ROOT, d), d]))('committed crash %s still reproduces its signature', (_name, dir) => {
    const d = readDescription(dir);
    expect(d, `${dir}/description.json`).not.toBeNull();
    if (d === null) return;
    expect(signatureHash(d.signature), 'directory name is the signature hash').toBe(dir.split('/').pop());
    const repro = loadTrace(join(dir, 'repro.msgpack'));
    expect(repro.signature).toEqual(d.signature);
    const recordedBugs = typeof d.options.bugs === 'string' && d.options.bugs !== '' ? d.options.bugs.split(',') : [];
    expect([...repro.machine.bugs].sort()).toEqual(recordedBugs.sort());
    const oracle = (typeof d.options.oracle === 'string' ? d.options.oracle : 'model') as TargetName;
    const r = checkTrace(repro, TARGETS[oracle]);
    expect(r.first === null ? 'passes' : formatSignature(checkedSignature(r.first)), relative(ROOT, dir)).toBe(formatSignature(d.signature));
  });
});
