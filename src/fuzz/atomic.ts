/**
 * Atomic file and directory writes for everything a campaign leaves on disk.
 * Contract: a reader sees a file's old content or its new content, never a part; a directory
 * written with `writeDirAtomic` is either complete or absent (built under a temporary name in the
 * same parent, then renamed). Temporary names start with `.tmp-` so listings can skip them; a
 * failed write removes its temporary, and a process killed mid-write (kill -9) leaves at most
 * temporaries, which `sweepTemps` removes (the directory lock's holder calls it, lock.ts).
 * Every write failure is a DiskError: one line naming the file and the reason (`no space left on
 * device (ENOSPC)`), whatever the underlying call was.
 *
 * Test hook (never set in normal use): EPTFUZZ_INJECT_WRITE_FAULT=`CODE[@N]` makes every write
 * after the first N (default 0) fail with errno CODE (e.g. `ENOSPC@20`: a disk that fills up
 * after 20 writes), half-way through writing its temporary, as a full disk does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

let counter = 0;

/** Prefix of every temporary name written here. */
export const TEMP_PREFIX = '.tmp-';

function tempName(dir: string, base: string): string {
  counter++;
  return path.join(dir, `${TEMP_PREFIX}${base}-${process.pid}-${counter}`);
}

const REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'a file is in the way',
  ENOENT: 'no such file or directory',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'name too long',
};

/** `no space left on device (ENOSPC)` for an errno error, else its message. */
export function ioReason(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return `${REASONS[code] ?? 'I/O error'} (${code})`;
  return e instanceof Error ? e.message.split('\n')[0] : String(e);
}

/** A write of campaign output failed: `cannot write <file>: <reason>`, one line. */
export class DiskError extends Error {
  override readonly name = 'DiskError';
  readonly code: string | undefined;

  constructor(readonly file: string, cause: unknown) {
    super(`cannot write ${file}: ${ioReason(cause)}`, { cause });
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

// ---- the write-fault hook ----------------------------------------------------------------------

interface WriteFault { code: string; after: number }
let programmaticFault: WriteFault | null | undefined;
let writesDone = 0;

/** Sets (or clears, with null) the injected write fault for this process (tests). */
export function setWriteFault(fault: WriteFault | null): void {
  programmaticFault = fault;
  writesDone = 0;
}

function currentFault(): WriteFault | null {
  if (programmaticFault !== undefined) return programmaticFault;
  const spec = process.env.EPTFUZZ_INJECT_WRITE_FAULT;
  if (spec === undefined || spec === '') return null;
  const m = /^([A-Z]+)(?:@(\d+))?$/.exec(spec);
  return m === null ? null : { code: m[1], after: Number(m[2] ?? 0) };
}

/** Counts a write; throws the injected errno error once the fault's budget is spent. */
function injectedFault(): NodeJS.ErrnoException | null {
  const fault = currentFault();
  if (fault === null) return null;
  writesDone++;
  if (writesDone <= fault.after) return null;
  const e = new Error(`${fault.code}: injected write fault`) as NodeJS.ErrnoException;
  e.code = fault.code;
  return e;
}

/** Writes `data` to the open `fd` (the whole of it), failing half-way when a fault is injected. */
function writeAll(fd: number, data: Uint8Array | string): void {
  const fault = injectedFault();
  if (fault !== null) {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    fs.writeSync(fd, bytes, 0, bytes.length >> 1);
    throw fault;
  }
  fs.writeFileSync(fd, data);
}

// ---- writes ------------------------------------------------------------------------------------

export interface WriteOptions {
  /**
   * fsync before the rename (default true): the file survives a power loss, not only a crash of
   * the process. Off for files that can be regenerated (corpus entries), where an fsync per new
   * entry would stall the campaign's main thread.
   */
  durable?: boolean;
}

export function writeFileAtomic(file: string, data: Uint8Array | string, opts: WriteOptions = {}): void {
  const dir = path.dirname(file);
  let tmp: string | null = null;
  try {
    fs.mkdirSync(dir, { recursive: true });
    tmp = tempName(dir, path.basename(file));
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAll(fd, data);
      if (opts.durable !== false) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    tmp = null;
  } catch (e) {
    throw e instanceof DiskError ? e : new DiskError(file, e);
  } finally {
    if (tmp !== null) fs.rmSync(tmp, { force: true });
  }
}

/**
 * Creates directory `dir` with `files` (name → content). Returns false, writing nothing, when
 * `dir` already exists (another writer got there first).
 */
export function writeDirAtomic(dir: string, files: ReadonlyMap<string, Uint8Array | string>): boolean {
  const parent = path.dirname(dir);
  let tmp: string | null = null;
  try {
    fs.mkdirSync(parent, { recursive: true });
    if (fs.existsSync(dir)) return false;
    tmp = tempName(parent, path.basename(dir));
    fs.mkdirSync(tmp);
    for (const [name, data] of files) {
      const fd = fs.openSync(path.join(tmp, name), 'w');
      try {
        writeAll(fd, data);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    fs.renameSync(tmp, dir);
    tmp = null;
    return true;
  } catch (e) {
    if (tmp !== null) {
      fs.rmSync(tmp, { recursive: true, force: true });
      tmp = null;
      if (fs.existsSync(dir)) return false;
    }
    throw e instanceof DiskError ? e : new DiskError(dir, e);
  } finally {
    if (tmp !== null) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Appends a line (append is atomic enough for a plot file: one write of a short line). A failed
 * append (disk full) may leave a partial last line, which readers of plot files skip.
 */
export function appendLine(file: string, line: string): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fault = injectedFault();
    if (fault !== null) throw fault;
    fs.appendFileSync(file, line.endsWith('\n') ? line : line + '\n');
  } catch (e) {
    throw new DiskError(file, e);
  }
}

/**
 * Removes temporaries (`.tmp-*`, files or directories) that a killed writer left in `dir` and in
 * its subdirectories down to `depth` levels (crash directories hold temporaries of their own
 * files). Only the holder of `dir`'s lock may call this: a live writer's temporary would go too.
 * Returns the paths removed.
 */
export function sweepTemps(dir: string, depth = 1): string[] {
  const removed: string[] = [];
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return removed;
  }
  for (const d of names) {
    const p = path.join(dir, d.name);
    if (d.name.startsWith(TEMP_PREFIX)) {
      try {
        fs.rmSync(p, { recursive: true, force: true });
        removed.push(p);
      } catch {
        // Left for the next holder: readers skip temporaries anyway.
      }
    } else if (depth > 0 && d.isDirectory() && !d.name.startsWith('.')) {
      removed.push(...sweepTemps(p, depth - 1));
    }
  }
  return removed;
}
