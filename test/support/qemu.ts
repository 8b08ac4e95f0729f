/**
 * Whether QEMU (qemu-system-x86_64) is here to test against. In CI (CI=true) it must be: .ci/run
 * installs it, and a missing one is a failure, not a skip. Elsewhere a missing QEMU skips the QEMU
 * suites with a visible line on stderr.
 */
import { execFileSync } from 'node:child_process';

export function qemuPresent(): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${process.env.EPTFUZZ_QEMU ?? 'qemu-system-x86_64'}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** True when the QEMU suites should run; prints why not otherwise (and fails in CI). */
export function qemuSuiteEnabled(suite: string): boolean {
  if (qemuPresent()) return true;
  if (process.env.CI === 'true') throw new Error(`${suite}: qemu-system-x86_64 is not installed, but CI must test against it (.ci/run installs qemu-system-x86)`);
  process.stderr.write(`SKIPPED ${suite}: qemu-system-x86_64 is not installed here (apt-get install -y qemu-system-x86); CI runs it\n`);
  return false;
}
