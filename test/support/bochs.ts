/**
 * Whether Bochs is here to test against. In CI (CI=true) it must be: .ci/run installs it, and a
 * missing one is a failure, not a skip. Elsewhere a missing Bochs skips the Bochs suites with a
 * visible line on stderr.
 */
import { execFileSync } from 'node:child_process';

export function bochsPresent(): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${process.env.EPTFUZZ_BOCHS ?? 'bochs'}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** True when the Bochs suites should run; prints why not otherwise (and fails in CI). */
export function bochsSuiteEnabled(suite: string): boolean {
  if (bochsPresent()) return true;
  if (process.env.CI === 'true') throw new Error(`${suite}: bochs is not installed, but CI must test against it (.ci/run installs bochs bochsbios)`);
  process.stderr.write(`SKIPPED ${suite}: bochs is not installed here (apt-get install -y bochs bochsbios); CI runs it\n`);
  return false;
}
