/**
 * The checkers: each turns a disagreement between the machine and the reference model into a
 * violation with a stable invariant id (see violation.ts).
 * Contract: `classifyOutcome` is called only when the actual outcome is not among the allowed
 * ones; `checkFrames` compares whole frames and reports the first differing byte. Both are cheap
 * on the agreeing path (nothing allocated when the frames agree).
 */
import type { Outcome } from '../hw/outcome.js';
import { formatOutcome, pageDiff, sameOutcome } from '../hw/outcome.js';
import { EXIT_EPT_VIOLATION, EXIT_SPP } from '../hw/bits.js';
import type { SpecStep } from '../spec/api.js';
import { pfCodeNames, qualNames, outcomeShape } from './decode.js';
import { INVARIANTS, type InvariantId } from './violation.js';

export interface Finding {
  invariant: InvariantId;
  detail: string;
  coarse: string;
}

/** The allowed outcome closest to `actual`: same kind and reason first, else the fresh walk's. */
function closest(actual: Outcome, allowed: readonly Outcome[]): Outcome {
  for (const o of allowed) {
    if (o.kind === actual.kind && (o.kind !== 'exit' || actual.kind !== 'exit' || o.reason === actual.reason)) return o;
  }
  return allowed[0];
}

function allowedText(allowed: readonly Outcome[]): string {
  return allowed.map(formatOutcome).join(' | ');
}

/** Classifies an actual outcome that no allowed candidate matches. */
export function classifyOutcome(actual: Outcome, spec: SpecStep): Finding {
  const allowed = spec.allowed.map((c) => c.outcome);
  const said = `machine ${formatOutcome(actual)}; spec allows ${allowedText(allowed)}`;
  for (const f of spec.flushed) {
    if (sameOutcome(f, actual)) {
      return { invariant: INVARIANTS.staleAfterFlush, detail: `stale translation used after a required flush: ${said}`, coarse: `stale ${outcomeShape(actual)}` };
    }
  }
  const expected = closest(actual, allowed);
  if (actual.kind === 'pf' && expected.kind === 'pf') {
    const diff = (actual.code ^ expected.code) >>> 0;
    const coarse = diff !== 0 ? `error code bits differ: ${pfCodeNames(diff)}` : 'cr2 differs';
    return { invariant: INVARIANTS.pfErrorCode, detail: `#PF ${coarse} (${pfCodeNames(actual.code)} vs ${pfCodeNames(expected.code)}): ${said}`, coarse };
  }
  if (actual.kind === 'exit' && expected.kind === 'exit' && actual.reason === expected.reason
      && (actual.reason === EXIT_EPT_VIOLATION || actual.reason === EXIT_SPP)) {
    const diff = (actual.qual ^ expected.qual) >>> 0;
    let coarse: string;
    if (diff !== 0) coarse = `exit ${actual.reason} qualification bits differ: ${qualNames(actual.reason, diff)}`;
    else if (actual.gpa !== expected.gpa) coarse = `exit ${actual.reason} gpa differs`;
    else coarse = `exit ${actual.reason} gla differs`;
    return { invariant: INVARIANTS.eptQualification, detail: `${coarse}: ${said}`, coarse };
  }
  if (actual.kind === 'page' && expected.kind === 'page') {
    const coarse = `page state differs: ${pageDiff(actual.page, expected.page).join(', ')}`;
    return { invariant: INVARIANTS.exitReason, detail: `${coarse}: ${said}`, coarse };
  }
  const a = outcomeShape(actual);
  const e = outcomeShape(expected);
  const coarse = a !== e ? `${a} instead of ${e}` : `${a} fields differ`;
  return { invariant: INVARIANTS.exitReason, detail: `${coarse}: ${said}`, coarse };
}

/** Reads frame bytes from either side. */
export interface FrameSource {
  frameBytes(frame: number): Uint8Array | null;
  /**
   * Optional zero-copy variant: the frame's live bytes, which the caller only reads and drops
   * before the next op. Frame copies dominate the checker's cost (two 4 KiB copies per touched
   * frame per op), so a side that offers this makes mem.no-lost-write nearly free.
   */
  frameView?(frame: number): Uint8Array | null;
}

function bytesOf(side: FrameSource, frame: number): Uint8Array | null {
  return side.frameView !== undefined ? side.frameView(frame) : side.frameBytes(frame);
}

const FRAME_BYTES = 4096;
const ZERO_FRAME = new Uint8Array(FRAME_BYTES);

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Equal bytes. Buffer.compare takes plain Uint8Arrays and is a native memcmp: no wrapper allocated. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || Buffer.compare(a, b) === 0;
}

const hex = (n: number): string => '0x' + n.toString(16);

/**
 * Bit positions whose lone difference in an aligned qword is almost surely an accessed/dirty flag:
 * guest A (5) and D (6), EPT A (8) and D (9). Told apart from data so that a missed A/D update and
 * a lost data byte get different signatures.
 */
const FLAG_BITS: ReadonlySet<number> = new Set([5, 6, 8, 9]);

function qwordAt(bytes: Uint8Array, offset: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
  return v;
}

/** Value-free description of how two frames differ at their first differing qword. */
export function coarseFrameDifference(m: Uint8Array, s: Uint8Array, at: number): string {
  const q = at - (at % 8);
  const mv = qwordAt(m, q);
  const diff = mv ^ qwordAt(s, q);
  if (diff !== 0n && (diff & (diff - 1n)) === 0n) {
    const bit = diff.toString(2).length - 1;
    if (FLAG_BITS.has(bit)) return `flag bit ${bit} differs (machine ${(mv & diff) !== 0n ? 'set' : 'clear'})`;
  }
  return 'data bytes differ';
}

/** mem.no-lost-write on one frame, or null when its bytes agree. */
export function checkFrame(machine: FrameSource, model: FrameSource, frame: number): Finding | null {
  const m = bytesOf(machine, frame) ?? ZERO_FRAME;
  const s = bytesOf(model, frame) ?? ZERO_FRAME;
  if (sameBytes(m, s)) return null;
  return lostWrite(frame, m, s);
}

/** mem.no-lost-write over `frames`: the first frame whose bytes differ, or null. */
export function checkFrames(machine: FrameSource, model: FrameSource, frames: Iterable<number>): Finding | null {
  if (Array.isArray(frames)) {
    for (let i = 0; i < frames.length; i++) {
      const f = checkFrame(machine, model, frames[i] as number);
      if (f !== null) return f;
    }
    return null;
  }
  for (const frame of frames) {
    const f = checkFrame(machine, model, frame);
    if (f !== null) return f;
  }
  return null;
}

function lostWrite(frame: number, m: Uint8Array, s: Uint8Array): Finding {
  const at = firstDifference(m, s);
  const hpa = frame * FRAME_BYTES + at;
  return {
    invariant: INVARIANTS.noLostWrite,
    detail: `frame ${hex(frame)} differs at hpa ${hex(hpa)}: machine ${hex(m[at] ?? 0)}, model ${hex(s[at] ?? 0)}`,
    coarse: coarseFrameDifference(m, s, at),
  };
}
