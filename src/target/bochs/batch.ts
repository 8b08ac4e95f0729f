/**
 * Encodes a batch of lowered traces in the agent's input format (agent/PROTOCOL.md "Batch").
 * Contract: pure; little-endian; the layout is exactly the protocol's, field by field.
 */
import type { MachineConfig } from '../../hw/config.js';
import { CTL2_EPT, CTL2_VPID, EPTP_AD } from '../../hw/bits.js';
import type { Outcome } from '../../hw/outcome.js';
import type { Op, Reg } from '../../trace/ops.js';
import type { Trace } from '../../trace/trace.js';

export const BATCH_MAGIC = 'EPTFBAT1';
export const BATCH_VERSION = 1;
const BATCH_HEADER_BYTES = 40;
const TRACE_HEADER_BYTES = 56;
const OP_BYTES = 32;
const TRACE_MAGIC = 0x31435254; // "TRC1"

export const OP_CODES: Readonly<Record<string, number>> = {
  read: 1, write: 2, fetch: 3, set_reg: 4, invlpg: 5, invvpid: 6, invept: 7, set_eptp: 8,
  set_spptp: 9, set_ctls2: 10, phys_write: 11, phys_read: 12, ept_set: 13, gpt_set: 14, sppt_set: 15,
};
export const REG_CODES: Readonly<Record<Reg, number>> = { cr0: 0, cr3: 1, cr4: 2, efer: 3, rflags: 4, cpl: 5, pkru: 6, pkrs: 7 };

export interface BatchTrace {
  index: number;
  trace: Trace;
  watch: readonly number[];
  stubLaSup: number;
  stubLaUser: number;
  /** Ops encoded as the agent's load_cr3 (lower.ts `loadCr3`). */
  loadCr3?: ReadonlySet<number>;
  /**
   * Export images only (BATCH_FLAG_EXPECT): per op, the outcomes the model allows (at most
   * EXPECT_MAX; the agent prints each step's actual outcome next to them and a PASS/FAIL line).
   */
  expect?: ReadonlyArray<readonly Outcome[]>;
}

/** Batch flag: every trace carries an expectations section (agent/PROTOCOL.md "Expectations"). */
export const BATCH_FLAG_EXPECT = 1;
export const EXPECT_MAX = 8;
const EXPECT_BYTES = 40;
const EXPECT_KIND: Readonly<Record<string, number>> = { ok: 1, data: 2, pf: 3, exit: 4, gp: 5, vmfail: 6, noent: 7 };

function expectBytes(t: BatchTrace): number {
  if (t.expect === undefined) return 0;
  const counts = t.trace.ops.length;
  let n = 0;
  for (const e of t.expect) n += Math.min(EXPECT_MAX, e.length);
  return Math.ceil(counts / 8) * 8 + n * EXPECT_BYTES;
}

function writeExpect(v: DataView, at: number, o: Outcome): void {
  const kind = EXPECT_KIND[o.kind];
  if (kind === undefined) throw new Error(`outcome ${o.kind} has no agent encoding`);
  v.setUint8(at, kind);
  let a = 0n; let b = 0n; let c = 0n; let d = 0n;
  if (o.kind === 'data') a = o.value;
  if (o.kind === 'pf') { a = BigInt(o.code); b = BigInt(o.cr2); }
  if (o.kind === 'vmfail') a = BigInt(o.error);
  if (o.kind === 'exit') {
    a = BigInt(o.reason); b = BigInt(o.qual); c = BigInt(o.gpa); d = BigInt(o.gla ?? 0);
    v.setUint8(at + 1, o.gla === null ? 0 : 1);
  }
  v.setBigUint64(at + 8, a, true);
  v.setBigUint64(at + 16, b, true);
  v.setBigUint64(at + 24, c, true);
  v.setBigUint64(at + 32, d, true);
}

/** The agent's own op: a VMCS write of the guest CR3 (agent/PROTOCOL.md). */
export const OP_LOAD_CR3 = 16;

/** The reset state of docs/semantics.md "Machine shape". */
export function initialEptp(config: MachineConfig): bigint {
  return BigInt(0x1e | (config.caps.eptAD ? EPTP_AD : 0));
}
export const INITIAL_SPPTP = 0x1000n;
export const INITIAL_CTLS2 = CTL2_EPT | CTL2_VPID;

function opFields(op: Op): { a: number; b: number; c: number; x: bigint; y: bigint } {
  const z = { a: 0, b: 0, c: 0, x: 0n, y: 0n };
  switch (op.op) {
    case 'read': case 'fetch': return { ...z, a: op.size, x: BigInt(op.la) };
    case 'write': return { ...z, a: op.size, x: BigInt(op.la), y: op.value };
    case 'set_reg': return { ...z, a: REG_CODES[op.reg], y: op.value };
    case 'invlpg': return { ...z, x: BigInt(op.la) };
    case 'invvpid': return { ...z, a: op.type, b: op.vpid, y: op.la };
    case 'invept': return { ...z, a: op.type, y: op.eptp };
    case 'set_eptp': case 'set_spptp': return { ...z, y: op.value };
    case 'set_ctls2': return { ...z, c: op.value };
    case 'phys_write': return { ...z, a: op.size, x: BigInt(op.hpa), y: op.value };
    case 'phys_read': return { ...z, a: op.size, x: BigInt(op.hpa) };
    case 'ept_set': case 'sppt_set': return { ...z, a: op.level, x: BigInt(op.gpa), y: op.entry };
    case 'gpt_set': return { ...z, a: op.level, x: BigInt(op.la), y: op.entry };
    default: throw new Error(`op ${op.op} has no agent encoding`);
  }
}

function traceBytes(t: BatchTrace): number {
  const watchWords = t.watch.length + (t.watch.length % 2);
  return TRACE_HEADER_BYTES + watchWords * 4 + t.trace.ops.length * OP_BYTES + expectBytes(t);
}

/** Batch flag: direct mode, guest ops without VMX (agent/PROTOCOL.md "Direct mode"). */
export const BATCH_FLAG_DIRECT = 4;

export function encodeBatch(traces: readonly BatchTrace[], ramEnd: number, maxPhyAddr: number, flags = 0): Uint8Array {
  let total = BATCH_HEADER_BYTES;
  for (const t of traces) total += traceBytes(t);
  const buf = new Uint8Array(total);
  const v = new DataView(buf.buffer);
  for (let i = 0; i < 8; i++) buf[i] = BATCH_MAGIC.charCodeAt(i);
  v.setUint32(8, BATCH_VERSION, true);
  v.setUint32(12, traces.length, true);
  v.setBigUint64(16, BigInt(total), true);
  v.setBigUint64(24, BigInt(ramEnd), true);
  v.setUint32(32, maxPhyAddr, true);
  const withExpect = traces.length > 0 && traces.every((t) => t.expect !== undefined);
  if (!withExpect && traces.some((t) => t.expect !== undefined)) throw new Error('expectations on some traces of a batch only');
  v.setUint32(36, (withExpect ? BATCH_FLAG_EXPECT : 0) | flags, true);
  let at = BATCH_HEADER_BYTES;
  for (const t of traces) {
    v.setUint32(at, TRACE_MAGIC, true);
    v.setUint32(at + 4, t.index, true);
    v.setUint32(at + 8, t.trace.ops.length, true);
    v.setUint32(at + 12, t.watch.length, true);
    v.setBigUint64(at + 16, initialEptp(t.trace.machine), true);
    v.setBigUint64(at + 24, INITIAL_SPPTP, true);
    v.setUint32(at + 32, INITIAL_CTLS2, true);
    v.setUint32(at + 36, 0, true);
    v.setBigUint64(at + 40, BigInt(t.stubLaSup), true);
    v.setBigUint64(at + 48, BigInt(t.stubLaUser), true);
    at += TRACE_HEADER_BYTES;
    for (const f of t.watch) { v.setUint32(at, f, true); at += 4; }
    if (t.watch.length % 2 === 1) { v.setUint32(at, 0, true); at += 4; }
    t.trace.ops.forEach((op, k) => {
      const f = opFields(op);
      v.setUint8(at, t.loadCr3?.has(k) === true ? OP_LOAD_CR3 : OP_CODES[op.op]);
      v.setUint8(at + 1, f.a);
      v.setUint16(at + 2, f.b, true);
      v.setUint32(at + 4, f.c >>> 0, true);
      v.setBigUint64(at + 8, BigInt.asUintN(64, f.x), true);
      v.setBigUint64(at + 16, BigInt.asUintN(64, f.y), true);
      v.setBigUint64(at + 24, 0n, true);
      at += OP_BYTES;
    });
    if (t.expect !== undefined) {
      const expect = t.expect;
      t.trace.ops.forEach((_, k) => v.setUint8(at + k, Math.min(EXPECT_MAX, expect[k]?.length ?? 0)));
      at += Math.ceil(t.trace.ops.length / 8) * 8;
      for (let k = 0; k < t.trace.ops.length; k++) {
        for (const o of (expect[k] ?? []).slice(0, EXPECT_MAX)) { writeExpect(v, at, o); at += EXPECT_BYTES; }
      }
    }
  }
  return buf;
}
