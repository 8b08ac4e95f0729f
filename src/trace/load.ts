/**
 * Trace files on disk: load any of the three forms, save atomically.
 * Contract: `loadTrace` detects the form from the bytes (the "EPTF" magic → msgpack; first
 * non-blank character `{` → JSON; else text), refuses files over FILE_BYTES_MAX before reading them,
 * and turns every failure (I/O, encoding, validation) into a one-line TraceError that starts with
 * the path. `saveTrace` checks that what it is about to write decodes back to the same trace, then
 * writes a temporary file in the target directory, fsyncs it and renames it over the target: a
 * reader sees the old file or the new one, never a partial one, and no temporary file is left.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TraceError, asTraceError } from './errors.js';
import { formatJson, parseJson } from './json.js';
import { decodeMsgpack, encodeMsgpack, hasMsgpackMagic } from './msgpack.js';
import { formatText, parseText } from './text.js';
import type { Trace } from './trace.js';
import type { DecodeOptions } from './validate.js';

export type TraceFormat = 'msgpack' | 'text' | 'json';
export const TRACE_FORMATS: readonly TraceFormat[] = ['msgpack', 'text', 'json'];

/**
 * Largest trace file read, checked before any byte is read: the largest of the decoders' own
 * limits (text and JSON, 128 MiB, so a trace of OPS_MAX ops fits in every form).
 */
export const FILE_BYTES_MAX = 128 * 1024 * 1024;

export interface LoadOptions extends DecodeOptions {
  /** Lower the size limit (tests, tools that expect small files). Default FILE_BYTES_MAX. */
  bytesMax?: number;
}

/** The form of a trace from its first bytes. */
export function detectFormat(bytes: Uint8Array): TraceFormat {
  if (hasMsgpackMagic(bytes)) return 'msgpack';
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0; // UTF-8 BOM
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x7b ? 'json' : 'text';
}

/** Decodes bytes of any form (or of `format` when given). Throws TraceError. */
export function decodeTrace(bytes: Uint8Array, format: TraceFormat = detectFormat(bytes), options: DecodeOptions = {}): Trace {
  if (format === 'msgpack') return decodeMsgpack(bytes, options);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TraceError(`${format}: not valid UTF-8`);
  }
  return format === 'json' ? parseJson(text, options) : parseText(text, options);
}

/** Encodes a trace in one form. */
export function encodeTrace(trace: Trace, format: TraceFormat): Uint8Array {
  switch (format) {
    case 'msgpack': return encodeMsgpack(trace);
    case 'json': return new TextEncoder().encode(formatJson(trace));
    case 'text': return new TextEncoder().encode(formatText(trace));
  }
}

const ioReason = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
};

export function loadTrace(file: string, options: LoadOptions = {}): Trace {
  const bytesMax = options.bytesMax ?? FILE_BYTES_MAX;
  let bytes: Uint8Array;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new TraceError(`${file}: not a regular file`);
    if (stat.size > bytesMax) throw new TraceError(`${file}: ${stat.size} bytes is more than the ${bytesMax}-byte trace limit`);
    // Read at most one byte past the limit: a file that grew since fstat is still refused.
    const buffer = Buffer.alloc(Math.min(stat.size, bytesMax) + 1);
    let length = 0;
    for (;;) {
      const count = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (count === 0) break;
      length += count;
      if (length === buffer.length) break;
    }
    if (length > bytesMax) throw new TraceError(`${file}: more than the ${bytesMax}-byte trace limit`);
    bytes = buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof TraceError) throw error;
    throw new TraceError(`${file}: cannot read (${ioReason(error)})`, { cause: error });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  try {
    return decodeTrace(bytes, detectFormat(bytes), options);
  } catch (error) {
    throw new TraceError(`${file}: ${asTraceError(error, 'trace').message}`, { cause: error });
  }
}

let tempCounter = 0;

/** Writes `trace` to `file` in `format`, atomically (see the module contract). Throws TraceError. */
export function saveTrace(file: string, trace: Trace, format: TraceFormat): void {
  if (!TRACE_FORMATS.includes(format)) throw new TraceError(`unknown trace format ${String(format)} (msgpack, text or json)`);
  let bytes: Uint8Array;
  try {
    bytes = encodeTrace(trace, format);
    decodeTrace(bytes, format); // a saved trace must load: refuse to write one that would not
  } catch (error) {
    throw new TraceError(`${file}: refusing to save an invalid trace: ${asTraceError(error, 'encode').message}`, { cause: error });
  }
  const dir = path.dirname(path.resolve(file));
  let temp = '';
  let fd: number | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${tempCounter++}.tmp`);
      try {
        fd = fs.openSync(temp, 'wx', 0o644);
        break;
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'EEXIST' || attempt >= 100) throw error;
      }
    }
    let written = 0;
    while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, file);
    temp = '';
    syncDirectory(dir);
  } catch (error) {
    throw new TraceError(`${file}: cannot write (${ioReason(error)})`, { cause: error });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    if (temp !== '') fs.rmSync(temp, { force: true });
  }
}

/** Makes the rename durable where the platform allows fsync on a directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not supported everywhere (e.g. Windows); the rename itself is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
