/**
 * Exit codes and the errors that map to them. Contract (ARCHITECTURE.md "CLI"): 0 nothing failed;
 * 1 a failure was found or reproduced; 2 bad usage or bad input (one clear line on stderr, never a
 * stack trace); 3 internal error, or output that could not be written mid-run (DiskError: disk
 * full, directory gone; one line naming the file and the reason).
 */
import { TraceError } from '../trace/errors.js';
import { LockError } from '../fuzz/lock.js';
import { DiskError } from '../fuzz/atomic.js';
import { ResumeMismatchError } from '../fuzz/state.js';
import { TargetSetupError } from '../target/registry.js';
import { ReportInputError } from '../report/input-error.js';
import { HubError } from '../hub/hub-error.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, internal: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Bad flags or arguments: printed as one line, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The exit code and the one line to print for an error thrown by a command. */
export function classifyError(e: unknown): { code: ExitCode; line: string } {
  if (e instanceof UsageError || e instanceof TraceError || e instanceof LockError || e instanceof TargetSetupError || e instanceof ResumeMismatchError ||
      e instanceof ReportInputError || e instanceof HubError) {
    return { code: EXIT.usage, line: `eptfuzz: ${e.message.split('\n')[0]}` };
  }
  // Output could not be written mid-run (disk full, directory gone): exit 3, one line, no stack.
  if (e instanceof DiskError) return { code: EXIT.internal, line: `eptfuzz: ${e.message}; stopped (files written before are intact)` };
  const err = e instanceof Error ? e : new Error(String(e));
  return { code: EXIT.internal, line: `eptfuzz: internal error: ${err.name}: ${err.message.split('\n')[0]}` };
}
