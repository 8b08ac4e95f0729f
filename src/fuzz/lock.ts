/**
 * Directory locks: one live campaign per crash, corpus and stats directory.
 * Contract: `acquireLocks(dirs)` creates `<dir>/.eptfuzz.lock` (pid, host, a random token) in each
 * directory with an exclusive create, or throws LockError with one line naming the holder. A lock
 * whose pid is dead on this host is stale: it is taken over (moved aside under a unique name,
 * re-checked, removed), so a campaign killed with -9 never blocks the next one. A lock held on
 * another host is never taken over (its pid means nothing here). `release()` removes only locks
 * that still carry this holder's token. Lock names start with `.`, so corpus and crash listings
 * skip them. A directory that cannot be created or written (a file in the way, no permission, a
 * read-only or full file system) is a LockError too: `<role> directory <dir> is not usable: ...`,
 * so a campaign refuses unusable directories at start with one line (exit 2). Once a directory is
 * locked, temporaries a killed writer left in it are removed (atomic.ts `sweepTemps`).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ioReason, sweepTemps } from './atomic.js';

export const LOCK_NAME = '.eptfuzz.lock';

export class LockError extends Error {
  override readonly name = 'LockError';
}

export interface LockInfo {
  pid: number;
  host: string;
  token: string;
}

function readLock(file: string): LockInfo | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockInfo>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.token === 'string') return { pid: v.pid, host: v.host, token: v.token };
  } catch {
    // Unreadable or half-written: treated below.
  }
  return null;
}

/** Whether `pid` is a live process on this host. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Attempts a takeover of a stale lock; true when the stale file is gone. */
function takeOver(file: string, stale: LockInfo | null): boolean {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return false; // someone else moved it first; try again from the start
  }
  const moved = readLock(aside);
  if (stale !== null && (moved === null || moved.token !== stale.token)) {
    // We moved a lock that a racing campaign had just created: put it back, and lose.
    try { fs.linkSync(aside, file); } catch { /* it created another one meanwhile */ }
    fs.rmSync(aside, { force: true });
    return false;
  }
  fs.rmSync(aside, { force: true });
  return true;
}

export class DirLocks {
  private readonly held: Array<{ file: string; token: string }> = [];
  /** Stale locks taken over while acquiring (the dead holder's pid, or null for a damaged file). */
  readonly takenOver: Array<{ dir: string; pid: number | null }> = [];
  /** Temporaries left by killed writers and removed after locking. */
  readonly swept: string[] = [];

  /** Records a lock file this holder created. */
  hold(file: string, token: string): void {
    this.held.push({ file, token });
  }

  /** The lock files held (for messages and tests). */
  files(): string[] {
    return this.held.map((h) => h.file);
  }

  /** Releases every lock this holder still owns. */
  release(): void {
    for (const { file, token } of this.held.splice(0)) {
      if (readLock(file)?.token === token) fs.rmSync(file, { force: true });
    }
  }
}

const TRIES_MAX = 5;

function unusable(role: string, dir: string, what: string, e: unknown): LockError {
  return new LockError(`${role} directory ${dir} is not usable: ${what}: ${ioReason(e)}`);
}

function acquireOne(dir: string, role: string, info: LockInfo, took: (pid: number | null) => void): string {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir, { throwIfNoEntry: false });
  } catch (e) {
    throw unusable(role, dir, 'cannot look it up', e);
  }
  if (st !== undefined && !st.isDirectory()) throw new LockError(`${role} directory ${dir} is not usable: it exists and is not a directory`);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw unusable(role, dir, 'cannot create it', e);
  }
  const file = path.join(dir, LOCK_NAME);
  for (let tries = 0; tries < TRIES_MAX; tries++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeFileSync(fd, JSON.stringify(info) + '\n');
        fs.fsyncSync(fd);
      } catch (e) {
        fs.closeSync(fd);
        fs.rmSync(file, { force: true });
        throw unusable(role, dir, 'cannot write in it', e);
      }
      fs.closeSync(fd);
      return file;
    } catch (e) {
      if (e instanceof LockError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw unusable(role, dir, 'cannot write in it', e);
    }
    const holder = readLock(file);
    if (holder === null) {
      // Being written right now, or damaged: a damaged lock with no live writer is stale.
      if (tries < 2) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        continue;
      }
      if (takeOver(file, null)) took(null);
      continue;
    }
    if (holder.host !== info.host) {
      throw new LockError(`${role} directory ${dir} is locked by pid ${holder.pid} on host ${holder.host}; if no campaign runs there, remove ${file}`);
    }
    if (pidAlive(holder.pid) && holder.pid !== info.pid) {
      throw new LockError(`${role} directory ${dir} is in use by another campaign (pid ${holder.pid}); stop it or choose another directory`);
    }
    if (holder.pid === info.pid) {
      throw new LockError(`${role} directory ${dir} is already in use by this process`);
    }
    if (takeOver(file, holder)) took(holder.pid);
  }
  throw new LockError(`${role} directory ${dir}: could not take the lock ${file} (it keeps changing)`);
}

/**
 * Locks each distinct directory (by resolved path) for this process. On failure, locks taken so
 * far are released and the LockError is thrown.
 */
export function acquireLocks(dirs: ReadonlyArray<{ dir: string; role: string }>): DirLocks {
  const locks = new DirLocks();
  const info: LockInfo = { pid: process.pid, host: os.hostname(), token: randomBytes(8).toString('hex') };
  const seen = new Set<string>();
  try {
    for (const { dir, role } of dirs) {
      const key = path.resolve(dir);
      if (seen.has(key)) continue;
      seen.add(key);
      const file = acquireOne(dir, role, info, (pid) => locks.takenOver.push({ dir, pid }));
      locks.hold(file, info.token);
      locks.swept.push(...sweepTemps(dir, 1));
    }
  } catch (e) {
    locks.release();
    throw e;
  }
  return locks;
}
