/**
 * Hub suites' helpers: an `eptfuzz` child process (the CLI from source through tsx, as a user runs
 * it) whose output is collected and which can be killed with SIGKILL at any moment; the check that
 * a hub campaign's pulled crash store holds the files of its local twin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SEEN_FILE } from '../../src/fuzz/crash-seen.js';
import { cli, tree } from '../e2e/helpers.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited: its exit code, or null and the signal. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => out, stderr: () => err, done };
}

/** The signature hashes a process reported finding (`run R: new failure ... (HASH), N ops`). */
export function reportedFindings(stderr: string): string[] {
  return [...stderr.matchAll(/^run \d+: new failure .* \(([0-9a-f]{16})\), \d+ ops$/gm)].map((m) => m[1]);
}

/** Wall-clock files a crash directory holds (docs/campaign-output.md): outside byte identity. */
const WALL_CLOCK_FILES = new Set([SEEN_FILE]);

function compared(files: Map<string, Buffer>): Map<string, Buffer> {
  return new Map([...files].filter(([k]) => !WALL_CLOCK_FILES.has(k.split('/').at(-1)!)));
}

/**
 * Two directory trees (from e2e helpers' `tree`) hold the same files, byte for byte, wall-clock
 * files aside; text files are compared as text, so a difference shows.
 */
export function sameFiles(all: Map<string, Buffer>, allOther: Map<string, Buffer>, expectFn: (v: unknown, m?: string) => { toEqual(x: unknown): void; toBe(x: unknown): void }): void {
  const a = compared(all);
  const b = compared(allOther);
  expectFn([...b.keys()]).toEqual([...a.keys()]);
  for (const [k, bytes] of a) {
    const other = b.get(k) as Buffer;
    if (k.endsWith('.json') || k.endsWith('.txt')) expectFn(other.toString('utf8'), k).toBe(bytes.toString('utf8'));
    else expectFn(bytes.equals(other), k).toBe(true);
  }
}

/**
 * Pulls hub campaign `campaign` into `hubDir`, runs its local twin (`eptfuzz fuzz ...localArgs
 * --crashes localDir --out localDir-out`, which must find something: exit 1) and checks that both
 * crash stores hold the same files and that the hub's rule coverage is the twin's (`coverage
 * --json`, byte for byte: every run counted once); returns the pulled store's files.
 */
export async function expectPulledSameAsLocal(
  hub: { url: string; campaign: string }, localArgs: string[], hubDir: string, localDir: string,
  expectFn: (v: unknown, m?: string) => { toEqual(x: unknown): void; toBe(x: unknown): void },
): Promise<Map<string, Buffer>> {
  const pulled = await cli(['crashes', 'pull', '--hub', hub.url, '--campaign', hub.campaign, hubDir]);
  expectFn(pulled.code, pulled.stderr).toBe(0);
  const local = await cli(['fuzz', ...localArgs, '--crashes', localDir, '--out', `${localDir}-out`]);
  expectFn(local.code, local.stderr).toBe(1);
  const hubFiles = tree(hubDir);
  sameFiles(tree(localDir), hubFiles, expectFn);
  const hubRules = await cli(['coverage', '--json', '--hub', hub.url, '--campaign', hub.campaign]);
  const localRules = await cli(['coverage', '--json', `${localDir}-out`]);
  expectFn(hubRules.code, hubRules.stderr).toBe(0);
  expectFn(hubRules.stdout, 'rule coverage: hub campaign against its local twin').toBe(localRules.stdout);
  return hubFiles;
}
