/**
 * The out-of-process target form: eptfuzz writes a batch file and runs an adapter command with
 * its path as the last argument; the adapter prints result lines on stdout (docs/targets.md).
 * Contract: never throws for what the adapter does: a hang (past `timeoutMs`, the whole process
 * group is killed), a crash, a spawn failure or unparseable output come back as `fault` next to
 * whatever traces were fully reported before it. Completion is the `D` line, not the exit status.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseResults, TargetProtocolError, type BatchRunResult } from './results.js';

export interface ExecResult {
  result: BatchRunResult;
  /** Why the batch did not finish (null when the `D` line came). */
  fault: string | null;
  /** Wall-clock milliseconds the adapter ran (stats only). */
  ms: number;
}

const OUTPUT_BYTES_MAX = 512 * 1024 * 1024;

/** Process groups of adapters still running (killed by `killRunningTargets`). */
const running = new Set<number>();

/** Kills every adapter process group this process started and that is still running. */
export function killRunningTargets(): void {
  for (const pid of running) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  running.clear();
}

export async function execBatch(command: readonly string[], batch: Uint8Array, timeoutMs: number): Promise<ExecResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eptfuzz-batch-'));
  const file = path.join(dir, 'batch.bin');
  const started = Date.now();
  try {
    fs.writeFileSync(file, batch);
    const { text, fault } = await run(command, file, timeoutMs);
    let result: BatchRunResult;
    try {
      result = parseResults(text);
    } catch (e) {
      if (!(e instanceof TargetProtocolError)) throw e;
      return { result: { hello: {}, traces: new Map(), done: false, abort: null }, fault: `target output: ${e.message}`, ms: Date.now() - started };
    }
    const why = result.abort !== null ? `the target ended the batch: ${result.abort.why}`
      : result.done ? null : (fault ?? 'the target exited before reporting the whole batch');
    return { result, fault: why, ms: Date.now() - started };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function run(command: readonly string[], file: string, timeoutMs: number): Promise<{ text: string; fault: string | null }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let fault: string | null = null;
    let child;
    try {
      child = spawn(command[0], [...command.slice(1), file], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (e) {
      resolve({ text: '', fault: `cannot start ${command[0]}: ${(e as Error).message}` });
      return;
    }
    const stderr: Buffer[] = [];
    if (child.pid !== undefined) running.add(child.pid);
    const kill = (): void => {
      try { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    };
    const timer = setTimeout(() => { fault = `the target did not finish within ${timeoutMs} ms (killed)`; kill(); }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      bytes += b.length;
      if (bytes > OUTPUT_BYTES_MAX) { fault = `the target printed more than ${OUTPUT_BYTES_MAX} bytes (killed)`; kill(); return; }
      chunks.push(b);
    });
    child.stderr.on('data', (b: Buffer) => { if (stderr.length < 64) stderr.push(b); });
    child.on('error', (e) => { fault ??= `cannot start ${command[0]}: ${e.message}`; });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      if (fault === null && (code !== 0 || signal !== null)) {
        const last = Buffer.concat(stderr).toString('utf8').trim().split('\n').pop() ?? '';
        fault = `the target exited with ${signal ?? `code ${code}`}${last === '' ? '' : `: ${last.slice(0, 200)}`}`;
      }
      resolve({ text: Buffer.concat(chunks).toString('latin1'), fault });
    });
  });
}
