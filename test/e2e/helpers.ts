/**
 * Helpers for the end-to-end suites: run the CLI in-process, make temporary directories, and pick
 * the suite seed: fixed by default so `npm test` (and CI) is deterministic; EPTFUZZ_TEST_SEED=<s>
 * replays a given seed, EPTFUZZ_TEST_SEED=random draws a fresh one (`npm run test:long` does).
 * Every suite prints its seed in its title.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { main } from '../../src/cli/main.js';
import { SEEN_FILE } from '../../src/fuzz/crash-seen.js';
import { captureIo } from '../../src/cli/io.js';

export async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIo();
  const code = await main(args, io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `eptfuzz-${label}-`));
}

/** The default suite seed: a fixed value, so a landing never depends on luck. */
export const DEFAULT_SUITE_SEED = 'e2e0';

export function suiteSeed(): string {
  const env = process.env.EPTFUZZ_TEST_SEED;
  if (env === 'random') return randomBytes(4).toString('hex');
  return env ?? DEFAULT_SUITE_SEED;
}

/** Every file under `dir` (relative path → bytes), skipping nothing: temp files would show up too. */
export function tree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/**
 * `tree(dir)` without the crash directories' wall-clock files (seen.json): what the byte-identity
 * guarantee covers (same seed and options, same crash and corpus files). Throws when a crash
 * directory lacks its seen.json, so the exclusion never hides a missing file.
 */
export function deterministicTree(dir: string): Map<string, Buffer> {
  const all = tree(dir);
  for (const k of all.keys()) {
    if (k.endsWith('description.json') && !all.has(k.replace(/description\.json$/, SEEN_FILE))) throw new Error(`${k}: no ${SEEN_FILE} beside it`);
  }
  return new Map([...all].filter(([k]) => !k.endsWith(`/${SEEN_FILE}`) && k !== SEEN_FILE));
}

/** Every path under `dir` (files and directories, depth first); empty if `dir` does not exist. */
export function paths(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out.push(p);
    if (statSync(p).isDirectory()) paths(p, out);
  }
  return out;
}
