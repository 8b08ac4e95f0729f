/**
 * Decodes an agent batch (agent/PROTOCOL.md "Batch") back into traces: what an adapter written in
 * TypeScript reads, and the round-trip check of the encoder. Contract: strict; any inconsistency
 * (magic, version, lengths, op codes) throws a BatchFormatError naming the byte offset.
 */
import type { Op, Reg } from '../../trace/ops.js';
import { BATCH_MAGIC, BATCH_VERSION, OP_CODES, OP_LOAD_CR3, REG_CODES } from './batch.js';

export class BatchFormatError extends Error {}

export interface DecodedTrace {
  index: number;
  ops: Op[];
  watch: number[];
  initEptp: bigint;
  initSpptp: bigint;
  initCtls2: number;
  stubLaSup: number;
  stubLaUser: number;
}

export interface DecodedBatch {
  ramEnd: number;
  maxPhyAddr: number;
  traces: DecodedTrace[];
}

const OP_NAMES = new Map(Object.entries(OP_CODES).map(([k, v]) => [v, k]));
const REG_NAMES = new Map(Object.entries(REG_CODES).map(([k, v]) => [v, k as Reg]));

function opOf(code: number, a: number, b: number, c: number, x: bigint, y: bigint, at: number): Op {
  if (code === OP_LOAD_CR3) return { op: 'set_reg', cpu: 0, reg: 'cr3', value: y };
  const name = OP_NAMES.get(code);
  const n = (v: bigint): number => Number(v);
  switch (name) {
    case 'read': case 'fetch': return { op: name, cpu: 0, la: n(x), size: a };
    case 'write': return { op: 'write', cpu: 0, la: n(x), size: a, value: y };
    case 'set_reg': {
      const reg = REG_NAMES.get(a);
      if (reg === undefined) throw new BatchFormatError(`byte ${at}: register code ${a}`);
      return { op: 'set_reg', cpu: 0, reg, value: y };
    }
    case 'invlpg': return { op: 'invlpg', cpu: 0, la: n(x) };
    case 'invvpid': return { op: 'invvpid', cpu: 0, type: a, vpid: b, la: y };
    case 'invept': return { op: 'invept', cpu: 0, type: a, eptp: y };
    case 'set_eptp': return { op: 'set_eptp', cpu: 0, value: y };
    case 'set_spptp': return { op: 'set_spptp', cpu: 0, value: y };
    case 'set_ctls2': return { op: 'set_ctls2', cpu: 0, value: c };
    case 'phys_write': return { op: 'phys_write', hpa: n(x), size: a, value: y };
    case 'phys_read': return { op: 'phys_read', hpa: n(x), size: a };
    case 'ept_set': return { op: 'ept_set', cpu: 0, gpa: n(x), level: a, entry: y };
    case 'sppt_set': return { op: 'sppt_set', cpu: 0, gpa: n(x), level: a, entry: y };
    case 'gpt_set': return { op: 'gpt_set', cpu: 0, la: n(x), level: a, entry: y };
    default: throw new BatchFormatError(`byte ${at}: op code ${code}`);
  }
}

export function decodeBatch(bytes: Uint8Array): DecodedBatch {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number): void => {
    if (at + n > bytes.length) throw new BatchFormatError(`byte ${at}: the batch ends early (${bytes.length} bytes)`);
  };
  need(0, 40);
  if (String.fromCharCode(...bytes.subarray(0, 8)) !== BATCH_MAGIC) throw new BatchFormatError('byte 0: not an agent batch (magic)');
  if (v.getUint32(8, true) !== BATCH_VERSION) throw new BatchFormatError(`byte 8: batch version ${v.getUint32(8, true)}`);
  const count = v.getUint32(12, true);
  if (Number(v.getBigUint64(16, true)) !== bytes.length) throw new BatchFormatError(`byte 16: batch length ${v.getBigUint64(16, true)} but ${bytes.length} bytes`);
  const out: DecodedBatch = { ramEnd: Number(v.getBigUint64(24, true)), maxPhyAddr: v.getUint32(32, true), traces: [] };
  let at = 40;
  for (let t = 0; t < count; t++) {
    need(at, 56);
    if (v.getUint32(at, true) !== 0x31435254) throw new BatchFormatError(`byte ${at}: trace magic`);
    const nops = v.getUint32(at + 8, true);
    const nwatch = v.getUint32(at + 12, true);
    const tr: DecodedTrace = {
      index: v.getUint32(at + 4, true), ops: [], watch: [],
      initEptp: v.getBigUint64(at + 16, true), initSpptp: v.getBigUint64(at + 24, true), initCtls2: v.getUint32(at + 32, true),
      stubLaSup: Number(v.getBigUint64(at + 40, true)), stubLaUser: Number(v.getBigUint64(at + 48, true)),
    };
    at += 56;
    need(at, (nwatch + (nwatch % 2)) * 4 + nops * 32);
    for (let i = 0; i < nwatch; i++) tr.watch.push(v.getUint32(at + 4 * i, true));
    at += (nwatch + (nwatch % 2)) * 4;
    for (let i = 0; i < nops; i++, at += 32) {
      tr.ops.push(opOf(v.getUint8(at), v.getUint8(at + 1), v.getUint16(at + 2, true), v.getUint32(at + 4, true), v.getBigUint64(at + 8, true), v.getBigUint64(at + 16, true), at));
    }
    out.traces.push(tr);
  }
  if (at !== bytes.length) throw new BatchFormatError(`byte ${at}: ${bytes.length - at} bytes after the last trace`);
  return out;
}
