/**
 * Atomic file and directory writes for everything a campaign leaves on disk.
 * Contract: a reader sees a file's old content or its new content, never a part; a directory
 * written with `writeDirAtomic` is either complete or absent (built under a temporary name in the
 * same parent, then renamed). Temporary names start with `.tmp-` so listings can skip them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

let counter = 0;

function tempName(dir: string, base: string): string {
  counter++;
  return path.join(dir, `.tmp-${base}-${process.pid}-${counter}`);
}

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
  fs.mkdirSync(dir, { recursive: true });
  const tmp = tempName(dir, path.basename(file));
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, data);
    if (opts.durable !== false) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Creates directory `dir` with `files` (name → content). Returns false, writing nothing, when
 * `dir` already exists (another writer got there first).
 */
export function writeDirAtomic(dir: string, files: ReadonlyMap<string, Uint8Array | string>): boolean {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  if (fs.existsSync(dir)) return false;
  const tmp = tempName(parent, path.basename(dir));
  fs.mkdirSync(tmp);
  try {
    for (const [name, data] of files) {
      const fd = fs.openSync(path.join(tmp, name), 'w');
      try {
        fs.writeFileSync(fd, data);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    fs.renameSync(tmp, dir);
    return true;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (fs.existsSync(dir)) return false;
    throw e;
  }
}

/** Appends a line (append is atomic enough for a plot file: one write of a short line). */
export function appendLine(file: string, line: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, line.endsWith('\n') ? line : line + '\n');
}
