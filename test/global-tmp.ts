/**
 * Test-run scratch space: every temporary directory the tests (and the CLI processes they start)
 * make goes under one fresh directory, removed when the run ends, so `npm test` leaves nothing in
 * the system's temporary directory. Node's os.tmpdir() reads TMPDIR, which the test workers and
 * their child processes inherit. A run killed before teardown leaves its one `eptfuzz-test-*`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'eptfuzz-test-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(root, { recursive: true, force: true });
  };
}
