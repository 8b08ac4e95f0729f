/**
 * Parses a target's result lines (agent/PROTOCOL.md "Result lines"; docs/targets.md for adapters).
 * Contract: strict for lines that start with a protocol tag (a malformed one throws a
 * TargetProtocolError naming the line), tolerant of other lines (an emulator's own chatter on the
 * same stream). The result says which traces ended (`E`), where the target stopped a trace
 * (`skip`), and whether the batch finished (`D`); nothing is inferred for a trace without its `E`.
 */
import type { Outcome } from '../hw/outcome.js';

export class TargetProtocolError extends Error {}

export interface MemoryChange {
  frame: number;
  offset: number;
  bytes: Uint8Array;
}

export interface StepResult {
  outcome: Outcome;
  memory: MemoryChange[];
}

export interface TraceRunResult {
  index: number;
  /** Outcomes of the steps the target ran, in order (step i of the trace it was sent). */
  steps: StepResult[];
  /** The step the target could not run as written, and why (then `steps` ends before it). */
  stopped: { step: number; why: string } | null;
}

export interface BatchRunResult {
  /** The target's `H` line, key by key. */
  hello: Record<string, string>;
  /** Traces that ended with their `E` line, by index. */
  traces: Map<number, TraceRunResult>;
  /** The `D` line came: the target ended the batch (normally after every trace). */
  done: boolean;
  /**
   * Why the target ended the batch early (`S 0 skip WHY` outside a trace: `agentcorrupt`,
   * `hostfault ...`, `badbatch ...`), and the trace that ended just before it (the one whose run
   * the target blames, e.g. the trace that overwrote the agent), if any.
   */
  abort: { why: string; after: number | null } | null;
}

const HEX = /^[0-9a-f]{1,16}$/;

function num(s: string | undefined, line: string): number {
  if (s === undefined || !HEX.test(s)) throw new TargetProtocolError(`bad number '${s ?? ''}' in result line '${line}'`);
  const n = Number.parseInt(s, 16);
  if (!Number.isSafeInteger(n)) throw new TargetProtocolError(`number ${s} too large in result line '${line}'`);
  return n;
}

function big(s: string | undefined, line: string): bigint {
  if (s === undefined || !HEX.test(s)) throw new TargetProtocolError(`bad value '${s ?? ''}' in result line '${line}'`);
  return BigInt('0x' + s);
}

function outcomeOf(f: string[], line: string): Outcome | { skip: string } {
  const want = (n: number): void => {
    if (f.length !== n) throw new TargetProtocolError(`'${f[2]}' takes ${n - 3} field(s) in result line '${line}'`);
  };
  switch (f[2]) {
    case 'ok': want(3); return { kind: 'ok' };
    case 'gp': want(3); return { kind: 'gp' };
    case 'noent': want(3); return { kind: 'noent' };
    case 'data': want(4); return { kind: 'data', value: big(f[3], line) };
    case 'vmfail': want(4); return { kind: 'vmfail', error: num(f[3], line) };
    case 'pf': want(5); return { kind: 'pf', code: num(f[3], line), cr2: num(f[4], line) };
    case 'exit':
      want(7);
      return { kind: 'exit', reason: num(f[3], line), qual: num(f[4], line), gpa: num(f[5], line), gla: f[6] === '-' ? null : num(f[6], line) };
    case 'skip': return { skip: f.slice(3).join(' ') || 'unspecified' };
    default: throw new TargetProtocolError(`unknown outcome '${f[2] ?? ''}' in result line '${line}'`);
  }
}

function hexBytes(s: string | undefined, line: string): Uint8Array {
  if (s === undefined || s.length === 0 || s.length % 2 !== 0 || !/^[0-9a-f]+$/.test(s)) throw new TargetProtocolError(`bad bytes in result line '${line}'`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const CH_0 = 48;
const CH_9 = 57;
const CH_A = 97;
const CH_F = 102;
const CH_SPACE = 32;
const CH_CR = 13;
/** Hex digits a step or memory number may have on the fast path (always a safe integer). */
const FAST_DIGITS_MAX = 13;

/** The value of the hex digit `c`, or -1. */
function hexDigit(c: number): number {
  if (c >= CH_0 && c <= CH_9) return c - CH_0;
  if (c >= CH_A && c <= CH_F) return c - CH_A + 10;
  return -1;
}

/** The number in line[from, to) written as 1..13 lowercase hex digits, or -1 (then the strict path decides). */
function hexField(line: string, from: number, to: number): number {
  if (to <= from || to - from > FAST_DIGITS_MAX) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = hexDigit(line.charCodeAt(i));
    if (d < 0) return -1;
    n = n * 16 + d;
  }
  return n;
}

/** Where field k (0 = the tag) of `line` starts and ends (single spaces): fills `at`, returns the field count. */
function fieldBounds(line: string, at: number[]): number {
  let n = 0;
  let from = 0;
  for (;;) {
    const sp = line.indexOf(' ', from);
    const to = sp < 0 ? line.length : sp;
    at[2 * n] = from;
    at[2 * n + 1] = to;
    n++;
    if (sp < 0 || n === 8) return sp < 0 ? n : -1;
    from = sp + 1;
  }
}

/**
 * The fast path for the two lines that make up nearly all of a batch's output: a well-formed
 * step (`S`) or memory (`M`) line inside a trace. Returns false, having changed nothing, for any
 * other line or anything unusual in it; the strict line parser then handles it (and names the
 * problem), so both paths accept and reject exactly the same lines.
 */
function fastLine(line: string, cur: TraceRunResult | null, at: number[]): boolean {
  if (cur === null || cur.stopped !== null || line.length < 3 || line.charCodeAt(1) !== CH_SPACE || line.charCodeAt(line.length - 1) === CH_CR) return false;
  const tag = line.charCodeAt(0);
  const n = fieldBounds(line, at);
  if (n < 0) return false;
  if (tag === 77 /* M */) {
    if (n !== 4 || cur.steps.length === 0) return false;
    const frame = hexField(line, at[2], at[3]);
    const offset = hexField(line, at[4], at[5]);
    const len = at[7] - at[6];
    if (frame < 0 || offset < 0 || len === 0 || len % 2 !== 0 || offset + len / 2 > 4096) return false;
    const bytes = new Uint8Array(len / 2);
    for (let i = 0, p = at[6]; i < bytes.length; i++, p += 2) {
      const hi = hexDigit(line.charCodeAt(p));
      const lo = hexDigit(line.charCodeAt(p + 1));
      if (hi < 0 || lo < 0) return false;
      bytes[i] = hi * 16 + lo;
    }
    cur.steps[cur.steps.length - 1].memory.push({ frame, offset, bytes });
    return true;
  }
  if (tag !== 83 /* S */ || n < 3) return false;
  const step = hexField(line, at[2], at[3]);
  if (step < 0 || step !== cur.steps.length) return false;
  const kind = line.slice(at[4], at[5]);
  let outcome: Outcome;
  switch (kind) {
    case 'ok': case 'gp': case 'noent':
      if (n !== 3) return false;
      outcome = { kind };
      break;
    case 'pf': {
      if (n !== 5) return false;
      const code = hexField(line, at[6], at[7]);
      const cr2 = hexField(line, at[8], at[9]);
      if (code < 0 || cr2 < 0) return false;
      outcome = { kind: 'pf', code, cr2 };
      break;
    }
    case 'exit': {
      if (n !== 7) return false;
      const reason = hexField(line, at[6], at[7]);
      const qual = hexField(line, at[8], at[9]);
      const gpa = hexField(line, at[10], at[11]);
      const dash = at[13] - at[12] === 1 && line.charCodeAt(at[12]) === 45;
      const gla = dash ? null : hexField(line, at[12], at[13]);
      if (reason < 0 || qual < 0 || gpa < 0 || (gla !== null && gla < 0)) return false;
      outcome = { kind: 'exit', reason, qual, gpa, gla };
      break;
    }
    default:
      return false;
  }
  cur.steps.push({ outcome, memory: [] });
  return true;
}

/**
 * Parses the whole output of one batch run. `fast` = false parses every line the strict way only
 * (the tests check that both ways give the same results and errors).
 */
export function parseResults(text: string, fast = true): BatchRunResult {
  const result: BatchRunResult = { hello: {}, traces: new Map(), done: false, abort: null };
  let cur: TraceRunResult | null = null;
  let lastEnded: number | null = null;
  const bounds: number[] = new Array<number>(16).fill(0);
  for (const raw of text.split('\n')) {
    if (fast && fastLine(raw, cur, bounds)) continue;
    const line = raw.replace(/\r$/, '');
    const f = line.split(' ');
    const tag = f[0];
    if (line.length === 0 || !/^[HBTSMED]$/.test(tag)) continue;
    switch (tag) {
      case 'H':
        for (const kv of f.slice(1)) {
          const eq = kv.indexOf('=');
          if (eq > 0) result.hello[kv.slice(0, eq)] = kv.slice(eq + 1);
        }
        break;
      case 'B': break;
      case 'T':
        if (cur !== null && cur.stopped !== null && /^(hostfault|agentcorrupt)/.test(cur.stopped.why)) result.abort ??= { why: cur.stopped.why, after: null };
        cur = { index: num(f[1], line), steps: [], stopped: null };
        break;
      case 'S': {
        if (cur === null) {
          const o = outcomeOf(f, line);
          if (!('skip' in o)) throw new TargetProtocolError(`step outside a trace: '${line}'`);
          result.abort ??= { why: o.skip, after: lastEnded };
          break;
        }
        const step = num(f[1], line);
        const o = outcomeOf(f, line);
        if ('skip' in o) { cur.stopped = { step, why: o.skip }; break; }
        if (step !== cur.steps.length || cur.stopped !== null) throw new TargetProtocolError(`step ${step} out of order in trace ${cur.index}`);
        cur.steps.push({ outcome: o, memory: [] });
        break;
      }
      case 'M': {
        if (cur === null || cur.steps.length === 0) throw new TargetProtocolError(`memory line outside a step: '${line}'`);
        if (f.length !== 4) throw new TargetProtocolError(`memory line takes 3 fields: '${line}'`);
        // Changes made by a step the target could not run as written are not judged either.
        if (cur.stopped !== null) break;
        const change = { frame: num(f[1], line), offset: num(f[2], line), bytes: hexBytes(f[3], line) };
        if (change.offset + change.bytes.length > 4096) throw new TargetProtocolError(`memory line past the frame's end: '${line}'`);
        cur.steps[cur.steps.length - 1].memory.push(change);
        break;
      }
      case 'E': {
        const index = num(f[1], line);
        if (cur === null || cur.index !== index) throw new TargetProtocolError(`end of trace ${index} without its start`);
        result.traces.set(index, cur);
        lastEnded = index;
        cur = null;
        break;
      }
      case 'D':
        result.done = true;
        // A trace still open at the end: the agent gave up on it (a fault of its own).
        if (cur !== null) result.abort ??= { why: cur.stopped?.why ?? 'the batch ended inside a trace', after: null };
        break;
    }
  }
  return result;
}
