/**
 * The real-target pipeline (src/target/external.ts): a prepared batch runs and is judged exactly
 * as `runOnTarget` would; `onTargetDone` fires once, after the target's run and before any trace
 * is judged (so a pipeline starts the next target run first), also for a batch with nothing to
 * run; `runPipelined` gives each batch's verdicts unchanged and runs one target process at a
 * time (it starts the next run from `onTargetDone`, which the first test pins). The target is the
 * reference adapter (the built-in machine behind the protocol, in another process), wrapped in a
 * shell script that logs when each run starts and ends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allFeatures } from '../../../src/gen/features.js';
import { generateTrace } from '../../../src/gen/generate.js';
import { Rng } from '../../../src/gen/rng.js';
import { DEFAULT_WEIGHTS } from '../../../src/gen/weights.js';
import { prepareOnTarget, runOnTarget, runPipelined, runPrepared, type ExternalTarget, type TraceVerdict } from '../../../src/target/external.js';
import { fitToTarget } from '../../../src/target/fit.js';
import { resolveExternal } from '../../../src/target/registry.js';
import { loadTrace } from '../../../src/trace/load.js';
import type { Trace } from '../../../src/trace/trace.js';
import { tempDir } from '../../e2e/helpers.js';

const ADAPTER = path.resolve('src/target/machine-adapter.ts');
/** The reference adapter's profile, as eptfuzz reads it (`--profile`). */
const PROFILE = resolveExternal(`exec:${process.execPath} --import tsx ${ADAPTER}`)!.profile;

/** The reference adapter behind a script that appends `start`/`end` lines (ms, batch file) to `log`. */
function loggedTarget(dir: string, log: string): ExternalTarget {
  const script = path.join(dir, 'adapter.sh');
  fs.writeFileSync(script, [
    '#!/bin/sh',
    `echo "start $(date +%s%3N) $1" >> '${log}'`,
    `'${process.execPath}' --import tsx '${ADAPTER}' "$@"`,
    'code=$?',
    `echo "end $(date +%s%3N) $1" >> '${log}'`,
    'exit $code',
    '',
  ].join('\n'), { mode: 0o755 });
  return { profile: PROFILE, command: [script] };
}

function traces(n: number, prefix: string): Trace[] {
  const out: Trace[] = [];
  for (let i = 0; i < n; i++) {
    const t = generateTrace(new Rng(`${prefix}${i}`), { opsMax: 40, features: allFeatures(), weights: { ...DEFAULT_WEIGHTS }, config: PROFILE.config, fixedConfig: true });
    out.push(fitToTarget(t, PROFILE));
  }
  return out;
}

/** Verdicts as comparable text (bigints as strings). */
function text(v: readonly TraceVerdict[]): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? [...x] : x));
}

describe('pipeline on an external target', () => {
  it('onTargetDone fires once, after the run and before any trace is judged; the verdicts are runOnTarget\'s', async () => {
    const dir = tempDir('pipeline');
    const target = loggedTarget(dir, path.join(dir, 'log'));
    const list = traces(6, 'pipeline/a');
    const batch = prepareOnTarget(target, list);
    expect(batch.pending.length).toBeGreaterThan(0);
    const judgedWhenDone: number[] = [];
    const verdicts = await runPrepared(target, batch, {
      onTargetDone: () => { judgedWhenDone.push(batch.verdicts.filter((v) => v !== undefined && v.kind === 'judged').length); },
    });
    expect(judgedWhenDone).toEqual([0]);
    expect(verdicts.filter((v) => v.kind === 'judged')).toHaveLength(batch.pending.length);
    expect(text(verdicts)).toBe(text(await runOnTarget(target, list)));
  }, 120_000);

  it('a batch the target never runs (every trace refused) still frees its slot, once', async () => {
    const dir = tempDir('pipeline');
    const target = loggedTarget(dir, path.join(dir, 'log'));
    const refused = loadTrace('corpus/seeds/hv-vtl.txt');
    const batch = prepareOnTarget(target, [refused]);
    expect(batch.pending).toHaveLength(0);
    let calls = 0;
    const verdicts = await runPrepared(target, batch, { onTargetDone: () => { calls++; } });
    expect(calls).toBe(1);
    expect(verdicts[0].kind).toBe('refused');
    expect(fs.existsSync(path.join(dir, 'log'))).toBe(false);
  });

  it('runPipelined: the same verdicts per batch, one target process at a time', async () => {
    const dir = tempDir('pipeline');
    const log = path.join(dir, 'log');
    const target = loggedTarget(dir, log);
    const batches = [traces(5, 'pipeline/b'), traces(5, 'pipeline/c'), traces(5, 'pipeline/d')];
    const piped = await runPipelined(target, batches, {});
    const runs = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' '));
    // start/end pairs alternate: never two target processes at once.
    expect(runs.map((r) => r[0])).toEqual(['start', 'end', 'start', 'end', 'start', 'end']);
    for (let k = 0; k < 3; k++) expect(runs[2 * k][2]).toBe(runs[2 * k + 1][2]);
    fs.rmSync(log);
    for (let k = 0; k < batches.length; k++) expect(text(piped[k])).toBe(text(await runOnTarget(target, batches[k])));
  }, 180_000);
});
