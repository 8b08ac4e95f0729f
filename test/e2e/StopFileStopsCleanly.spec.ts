/**
 * A campaign without a run budget stops cleanly when the stop file appears, and reports it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();

describe(`StopFileStopsCleanly (seed: ${seed})`, () => {
  it('an existing stop file ends an unbounded campaign at once with exit 0', async () => {
    const dir = tempDir('stop');
    const stop = join(dir, 'STOP');
    setTimeout(() => writeFileSync(stop, ''), 300);
    const r = await cli(['fuzz', '--seed', seed, '--oracle', 'machine', '--crashes', join(dir, 'c'), '--stop-file', stop]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('stopped by stop-file');
  });

  it('--duration bounds a campaign', async () => {
    const dir = tempDir('dur');
    const r = await cli(['fuzz', '--seed', seed, '--oracle', 'machine', '--crashes', join(dir, 'c'), '--duration', '500ms']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('stopped by duration');
  });
});
