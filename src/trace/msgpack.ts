/**
 * The canonical trace file: the 4 ASCII bytes "EPTF" followed by one msgpack document.
 * Contract: `encodeMsgpack` is deterministic (same trace → same bytes: header fields in
 * HEADER_KEYS order, machine fields in default-config order, options sorted, each op an array
 * `[name, ...fields in OP_SCHEMAS order]`; u64 values up to 2^32-1 as msgpack uints, larger ones as
 * 64-bit ints so they round-trip exactly). `decodeMsgpack` accepts any bytes and either returns a
 * validated Trace or throws TraceError: before msgpackr sees the bytes, a scan checks that they
 * are one document of the plain subset a trace uses (nil, bool, int, float, str, array, map with
 * unique string keys), nested at most MSGPACK_DEPTH_MAX deep, with every declared length backed by
 * the bytes that remain, so hostile input cannot allocate, recurse or reach an extension.
 */
import { Packr, Unpackr } from 'msgpackr';
import { TraceError, asTraceError } from './errors.js';
import { machinePlain, opValues, signaturePlain, sortedOptions } from './canonical.js';
import type { Trace } from './trace.js';
import { validateTrace, type DecodeOptions } from './validate.js';

/** "EPTF": tells a trace file from a stray msgpack document and from the text and JSON forms. */
export const MSGPACK_MAGIC: Uint8Array = new Uint8Array([0x45, 0x50, 0x54, 0x46]);
/** Largest msgpack trace accepted: OPS_MAX ops take at most ~31 MB, so this leaves room. */
export const MSGPACK_BYTES_MAX = 64 * 1024 * 1024;
/** Deepest nesting a trace needs is 4 (document → machine → caps → invvpidTypes); allow slack. */
export const MSGPACK_DEPTH_MAX = 8;
/** Longest map key: keys are field names. */
export const MSGPACK_KEY_BYTES_MAX = 256;

// variableMapSize: the smallest map header, so the bytes depend only on the content.
const packr = new Packr({ useRecords: false, variableMapSize: true, useFloat32: 0 });

/** u64 values that fit 32 bits are written as plain uints (compact); the rest as 64-bit ints. */
function packValue(value: number | bigint | string): number | bigint | string {
  return typeof value === 'bigint' && value <= 0xffff_ffffn ? Number(value) : value;
}

export function encodeMsgpack(trace: Trace): Uint8Array {
  const doc = new Map<string, unknown>();
  doc.set('schema', trace.schema);
  doc.set('eptfuzz', trace.eptfuzz);
  doc.set('machine', machinePlain(trace.machine));
  if (trace.provenance !== undefined) {
    doc.set('provenance', new Map<string, unknown>([['seed', trace.provenance.seed], ['options', new Map(sortedOptions(trace.provenance))]]));
  }
  if (trace.signature !== undefined) doc.set('signature', signaturePlain(trace.signature));
  doc.set('ops', trace.ops.map((op) => [op.op, ...opValues(op).map(packValue)]));
  const body = packr.pack(doc);
  const out = new Uint8Array(MSGPACK_MAGIC.length + body.length);
  out.set(MSGPACK_MAGIC, 0);
  out.set(body, MSGPACK_MAGIC.length);
  return out;
}

export function hasMsgpackMagic(bytes: Uint8Array): boolean {
  return bytes.length >= MSGPACK_MAGIC.length && MSGPACK_MAGIC.every((b, i) => bytes[i] === b);
}

export function decodeMsgpack(bytes: Uint8Array, options: DecodeOptions = {}): Trace {
  try {
    if (!(bytes instanceof Uint8Array)) throw new TraceError('msgpack: input must be bytes');
    if (bytes.length > MSGPACK_BYTES_MAX) {
      throw new TraceError(`msgpack: ${bytes.length} bytes is more than the ${MSGPACK_BYTES_MAX}-byte limit`);
    }
    if (!hasMsgpackMagic(bytes)) throw new TraceError('not an eptfuzz msgpack trace (it must start with "EPTF")');
    scanDocument(bytes, MSGPACK_MAGIC.length);
    const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' });
    const raw: unknown = unpackr.unpack(bytes.subarray(MSGPACK_MAGIC.length));
    return validateTrace(raw, { strict: options.strict, warnings: options.warnings, opForm: 'array' });
  } catch (error) {
    throw asTraceError(error, 'msgpack');
  }
}

/** Checks the document shape described in the module contract, without building anything. */
function scanDocument(bytes: Uint8Array, start: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  const bad = (message: string): TraceError => new TraceError(`msgpack: ${message}`);
  const need = (count: number): void => {
    if (count > bytes.length - pos) throw bad(`truncated: ${count} bytes needed at byte ${pos}, ${bytes.length - pos} left`);
  };
  const skip = (count: number): void => {
    need(count);
    pos += count;
  };
  const length = (width: 1 | 2 | 4): number => {
    need(width);
    const value = width === 1 ? bytes[pos] : width === 2 ? view.getUint16(pos) : view.getUint32(pos);
    pos += width;
    return value;
  };
  const scanKey = (): string => {
    need(1);
    const type = bytes[pos++];
    let count: number;
    if (type >= 0xa0 && type <= 0xbf) count = type & 0x1f;
    else if (type === 0xd9) count = length(1);
    else if (type === 0xda) count = length(2);
    else if (type === 0xdb) count = length(4);
    else throw bad(`map key at byte ${pos - 1} is not a string`);
    if (count > MSGPACK_KEY_BYTES_MAX) throw bad(`map key at byte ${pos} is longer than ${MSGPACK_KEY_BYTES_MAX} bytes`);
    need(count);
    const key = String.fromCharCode(...bytes.subarray(pos, pos + count));
    pos += count;
    return key;
  };
  const scanArray = (count: number, depth: number): void => {
    // Every element takes at least one byte: a longer declared count is a lie, refused before use.
    if (count > bytes.length - pos) throw bad(`array of ${count} declared at byte ${pos} but only ${bytes.length - pos} bytes left`);
    for (let i = 0; i < count; i++) scan(depth + 1);
  };
  const scanMap = (count: number, depth: number): void => {
    if (count * 2 > bytes.length - pos) throw bad(`map of ${count} declared at byte ${pos} but only ${bytes.length - pos} bytes left`);
    const keys = new Set<string>();
    for (let i = 0; i < count; i++) {
      const key = scanKey();
      if (keys.has(key)) throw bad(`duplicate map key at byte ${pos}`);
      keys.add(key);
      scan(depth + 1);
    }
  };
  const scan = (depth: number): void => {
    if (depth > MSGPACK_DEPTH_MAX) throw bad(`nesting deeper than ${MSGPACK_DEPTH_MAX} at byte ${pos}`);
    need(1);
    const type = bytes[pos++];
    if (type <= 0x7f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) return;
    if (type <= 0x8f) return scanMap(type & 0x0f, depth);
    if (type <= 0x9f) return scanArray(type & 0x0f, depth);
    if (type <= 0xbf) return skip(type & 0x1f);
    switch (type) {
      case 0xcc: case 0xd0: return skip(1);
      case 0xcd: case 0xd1: return skip(2);
      case 0xca: case 0xce: case 0xd2: return skip(4);
      case 0xcb: case 0xcf: case 0xd3: return skip(8);
      case 0xd9: return skip(length(1));
      case 0xda: return skip(length(2));
      case 0xdb: return skip(length(4));
      case 0xdc: return scanArray(length(2), depth);
      case 0xdd: return scanArray(length(4), depth);
      case 0xde: return scanMap(length(2), depth);
      case 0xdf: return scanMap(length(4), depth);
      default:
        throw bad(`type byte 0x${type.toString(16)} at byte ${pos - 1} is not used in traces (bin, ext and reserved types are refused)`);
    }
  };
  scan(0);
  if (pos !== bytes.length) throw bad(`${bytes.length - pos} trailing bytes after the document`);
}
