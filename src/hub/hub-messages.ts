/**
 * What the machines of a hub campaign store in Redis, and its strict decoding: a block's run
 * reports (`BlockResult`), the campaign's merge of one block (`MergeRecord`), a minimization's
 * outcome (`MinimizeOutcome`), the input of a minimization job (`MinimizeInput`) and the seed
 * corpus a campaign starts from (`SeedCorpus`).
 * Contract: each is one msgpack document `{ v: HUB_MESSAGE_VERSION, kind, ... }`; traces inside
 * travel as canonical trace bytes (trace/msgpack.ts), so a decoded trace re-encodes to the same
 * bytes and its text dump is the same. Decoding checks every field's type and range and decodes
 * every trace strictly; anything else is a HubMessageError naming the message and the field (one
 * line): a machine never acts on a malformed message. Encoding is deterministic (msgpackr with
 * fixed key order), so the same record computed on two machines is the same bytes.
 */
import { Packr, Unpackr } from 'msgpackr';
import { HubError } from './hub-error.js';
import { decodeMsgpack, encodeMsgpack } from '../trace/msgpack.js';
import type { Signature, Trace } from '../trace/trace.js';
import { addressOf, type CorpusEntry } from '../fuzz/corpus.js';
import type { RunFailure, RunReport } from '../fuzz/protocol.js';
import type { MinimizeResult } from '../shrink/trace.js';
import type { ShrinkReport } from '../shrink/minimize.js';

export const HUB_MESSAGE_VERSION = 1;
/** Largest message accepted (a block of 64 kept traces of 10^4 ops is far below). */
export const HUB_MESSAGE_BYTES_MAX = 256 * 1024 * 1024;

export class HubMessageError extends HubError {
  override readonly name: string = 'HubMessageError';
}

/** A block's run reports, in run order, as one machine ran them. */
export interface BlockResult {
  block: number;
  /** The machine that ran it (status attribution only; nothing merged depends on it). */
  machine: string;
  reports: RunReport[];
}

/** One failing run as the merge saw it: a new signature, or a later hit (trace kept while originals are kept). */
export interface CrashEvent {
  run: number;
  hash: string;
  signature: Signature;
  first: boolean;
  /** The run's trace: always for a first hit, for later hits while fewer than ORIGINALS_MAX are kept. */
  trace: Trace | null;
  /** A first hit that is never minimized, and why (crash-store notes). */
  note: string | null;
  /** The rule id of a first hit's finding (description.json `rule`), when the finding names one. */
  rule?: string;
}

/** The campaign-wide merge of block `block`: what a local campaign's merge of that batch decides. */
export interface MergeRecord {
  block: number;
  runs: number;
  ops: number;
  mutated: number;
  stabilityChecked: number;
  stabilityMismatches: number;
  /** Coverage features new to the campaign, in merge order. */
  features: number[];
  /** Corpus entries new to the campaign, in merge order. */
  corpus: CorpusEntry[];
  crashes: CrashEvent[];
}

export interface MinimizeInput {
  hash: string;
  signature: Signature;
  trace: Trace;
}

export interface MinimizeOutcome {
  hash: string;
  /** null: the failure did not reproduce with its signature (the original stays the repro). */
  result: MinimizeResult | null;
}

/** The seed corpus of a campaign: its traces in load order and the coverage features they reach. */
export interface SeedCorpus {
  entries: CorpusEntry[];
  /** Features the seeds reach, ascending (none on an external target: a local campaign runs no seed there). */
  features: number[];
}

const packr = new Packr({ useRecords: false, variableMapSize: true, useFloat32: 0 });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

type Plain = Record<string, unknown>;

function fail(what: string, field: string, why: string): never {
  throw new HubMessageError(`malformed ${what}: ${field} ${why}`);
}

function obj(what: string, field: string, v: unknown): Plain {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) fail(what, field, 'is not a map');
  return v as Plain;
}

function int(what: string, field: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(what, field, `is not a whole number in ${min}..${max}`);
  return v;
}

function str(what: string, field: string, v: unknown, maxLength = 4096): string {
  if (typeof v !== 'string' || v.length > maxLength) fail(what, field, 'is not a string');
  return v;
}

function bool(what: string, field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') fail(what, field, 'is not a boolean');
  return v;
}

function arr(what: string, field: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) fail(what, field, 'is not an array');
  return v;
}

function ints(what: string, field: string, v: unknown): number[] {
  return arr(what, field, v).map((x, i) => int(what, `${field}[${i}]`, x));
}

function trace(what: string, field: string, v: unknown): Trace {
  if (!(v instanceof Uint8Array)) fail(what, field, 'is not trace bytes');
  try {
    return decodeMsgpack(v, { strict: true });
  } catch (e) {
    fail(what, field, `is not a valid trace (${(e as Error).message.split('\n')[0]})`);
  }
}

const HASH = /^[0-9a-f]{16,64}$/;

/** A plain value (what msgpack carries of JSON): fields later versions of a report may add. */
function plain(what: string, field: string, v: unknown, depth = 0): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
  if (depth >= 4) fail(what, field, 'nests too deep');
  if (Array.isArray(v)) return v.map((x, i) => plain(what, `${field}[${i}]`, x, depth + 1));
  const o = obj(what, field, v);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, plain(what, `${field}.${k}`, x, depth + 1)]));
}

/** The fields of `o` other than `known`, as plain values (kept as they came, in their order). */
function extras(what: string, field: string, o: Plain, known: readonly string[]): Plain {
  const out: Plain = {};
  for (const [k, x] of Object.entries(o)) if (!known.includes(k)) out[k] = plain(what, `${field}.${k}`, x);
  return out;
}

function signature(what: string, field: string, v: unknown): Signature {
  const o = obj(what, field, v);
  const out: Record<string, unknown> = {};
  // invariant, op and detail are strings; any later addition is kept as the plain value it is.
  for (const [k, x] of Object.entries(o)) out[k] = k === 'invariant' || k === 'op' || k === 'detail' ? str(what, `${field}.${k}`, x) : plain(what, `${field}.${k}`, x);
  if (out.invariant === undefined || out.op === undefined || out.detail === undefined) fail(what, field, 'lacks invariant, op or detail');
  return out as unknown as Signature;
}

function unpack(what: string, bytes: unknown, kind: string): Plain {
  if (!(bytes instanceof Uint8Array)) fail(what, 'the message', 'is not bytes');
  if (bytes.length > HUB_MESSAGE_BYTES_MAX) fail(what, 'the message', `is over ${HUB_MESSAGE_BYTES_MAX} bytes`);
  let raw: unknown;
  try {
    raw = unpackr.unpack(bytes);
  } catch (e) {
    fail(what, 'the message', `does not decode (${(e as Error).message.split('\n')[0]})`);
  }
  const o = obj(what, 'the message', raw);
  if (o.v !== HUB_MESSAGE_VERSION) fail(what, 'v', `is ${JSON.stringify(o.v)}, expected ${HUB_MESSAGE_VERSION}`);
  if (o.kind !== kind) fail(what, 'kind', `is ${JSON.stringify(o.kind)}, expected '${kind}'`);
  return o;
}

function pack(doc: Plain): Buffer {
  return packr.pack(doc);
}

/** A failure as sent: every field it has (fields a later version adds travel too). */
function failurePlain(f: RunFailure | null): Plain | null {
  return f === null ? null : { ...f, signature: { ...f.signature }, ...(f.alternates !== undefined ? { alternates: f.alternates.map((a) => ({ ...a })) } : {}) };
}

const REPORT_FIELDS = ['run', 'ops', 'mutated', 'fresh', 'trace', 'failure', 'stable', 'rules'] as const;
const FAILURE_FIELDS = ['signature', 'step', 'detail', 'alternates'] as const;
/** Alternative explanations a failure may carry (src/fuzz/file-under.ts); a classifier gives two or three. */
const ALTERNATES_MAX = 16;

/** A failure's alternative explanations: absent, or a list of signatures. */
function alternates(what: string, field: string, v: unknown): { alternates?: Signature[] } {
  if (v === undefined) return {};
  const list = arr(what, field, v);
  if (list.length > ALTERNATES_MAX) fail(what, field, `holds ${list.length} signatures, at most ${ALTERNATES_MAX}`);
  return { alternates: list.map((x, i) => signature(what, `${field}[${i}]`, x)) };
}

export function encodeBlockResult(r: BlockResult): Buffer {
  return pack({
    v: HUB_MESSAGE_VERSION,
    kind: 'block-result',
    block: r.block,
    machine: r.machine,
    // Every field a report has: those of this version by name, any other as it is.
    reports: r.reports.map((p) => ({
      ...p,
      trace: p.trace === null ? null : encodeMsgpack(p.trace),
      failure: failurePlain(p.failure),
    })),
  });
}

/** Decodes block `block`'s result, which must report exactly runs start..end-1 in order. */
export function decodeBlockResult(bytes: unknown, block: number, start: number, end: number): BlockResult {
  const what = `result of block ${block}`;
  const o = unpack(what, bytes, 'block-result');
  if (int(what, 'block', o.block) !== block) fail(what, 'block', `is ${String(o.block)}`);
  const machine = str(what, 'machine', o.machine, 200);
  const list = arr(what, 'reports', o.reports);
  if (list.length !== end - start) fail(what, 'reports', `holds ${list.length} runs, expected ${end - start}`);
  const reports = list.map((x, i): RunReport => {
    const f = `reports[${i}]`;
    const p = obj(what, f, x);
    const run = int(what, `${f}.run`, p.run);
    if (run !== start + i) fail(what, `${f}.run`, `is ${run}, expected ${start + i}`);
    let failure: RunFailure | null = null;
    if (p.failure !== null) {
      const q = obj(what, `${f}.failure`, p.failure);
      failure = {
        ...extras(what, `${f}.failure`, q, FAILURE_FIELDS), signature: signature(what, `${f}.failure.signature`, q.signature), step: int(what, `${f}.failure.step`, q.step), detail: str(what, `${f}.failure.detail`, q.detail),
        ...alternates(what, `${f}.failure.alternates`, q.alternates),
      };
    }
    const t = p.trace === null ? null : trace(what, `${f}.trace`, p.trace);
    if (failure !== null && t === null) fail(what, `${f}.trace`, 'is missing for a failing run');
    return {
      ...extras(what, f, p, REPORT_FIELDS),
      run,
      ops: int(what, `${f}.ops`, p.ops),
      mutated: bool(what, `${f}.mutated`, p.mutated),
      fresh: ints(what, `${f}.fresh`, p.fresh),
      trace: t,
      failure,
      stable: p.stable === null ? null : bool(what, `${f}.stable`, p.stable),
      // rule coverage (index, count) pairs; absent from a machine of an older version
      rules: p.rules === undefined ? [] : ints(what, `${f}.rules`, p.rules),
    };
  });
  return { block, machine, reports };
}

export function encodeMergeRecord(m: MergeRecord): Buffer {
  return pack({
    v: HUB_MESSAGE_VERSION,
    kind: 'merge',
    block: m.block,
    runs: m.runs,
    ops: m.ops,
    mutated: m.mutated,
    stability_checked: m.stabilityChecked,
    stability_mismatches: m.stabilityMismatches,
    features: m.features,
    corpus: m.corpus.map((e) => ({ hash: e.hash, trace: encodeMsgpack(e.trace) })),
    crashes: m.crashes.map((c) => ({ run: c.run, hash: c.hash, signature: { ...c.signature }, first: c.first, trace: c.trace === null ? null : encodeMsgpack(c.trace), note: c.note, ...(c.rule !== undefined ? { rule: c.rule } : {}) })),
  });
}

export function decodeMergeRecord(bytes: unknown, block: number): MergeRecord {
  const what = `merge record of block ${block}`;
  const o = unpack(what, bytes, 'merge');
  if (int(what, 'block', o.block) !== block) fail(what, 'block', `is ${String(o.block)}`);
  return {
    block,
    runs: int(what, 'runs', o.runs),
    ops: int(what, 'ops', o.ops),
    mutated: int(what, 'mutated', o.mutated),
    stabilityChecked: int(what, 'stability_checked', o.stability_checked),
    stabilityMismatches: int(what, 'stability_mismatches', o.stability_mismatches),
    features: ints(what, 'features', o.features),
    corpus: arr(what, 'corpus', o.corpus).map((x, i) => {
      const e = obj(what, `corpus[${i}]`, x);
      const hash = str(what, `corpus[${i}].hash`, e.hash);
      if (!HASH.test(hash)) fail(what, `corpus[${i}].hash`, 'is not a content hash');
      return { hash, trace: trace(what, `corpus[${i}].trace`, e.trace) };
    }),
    crashes: arr(what, 'crashes', o.crashes).map((x, i) => {
      const f = `crashes[${i}]`;
      const c = obj(what, f, x);
      const hash = str(what, `${f}.hash`, c.hash);
      if (!HASH.test(hash)) fail(what, `${f}.hash`, 'is not a signature hash');
      const first = bool(what, `${f}.first`, c.first);
      const t = c.trace === null ? null : trace(what, `${f}.trace`, c.trace);
      if (first && t === null) fail(what, `${f}.trace`, 'is missing for a first hit');
      return { run: int(what, `${f}.run`, c.run), hash, signature: signature(what, `${f}.signature`, c.signature), first, trace: t, note: c.note === null ? null : str(what, `${f}.note`, c.note), ...(c.rule !== undefined ? { rule: str(what, `${f}.rule`, c.rule, 200) } : {}) };
    }),
  };
}

export function encodeMinimizeInput(m: MinimizeInput): Buffer {
  return pack({ v: HUB_MESSAGE_VERSION, kind: 'minimize-input', hash: m.hash, signature: { ...m.signature }, trace: encodeMsgpack(m.trace) });
}

export function decodeMinimizeInput(bytes: unknown, hash: string): MinimizeInput {
  const what = `minimization input of ${hash}`;
  const o = unpack(what, bytes, 'minimize-input');
  if (o.hash !== hash) fail(what, 'hash', `is ${JSON.stringify(o.hash)}`);
  return { hash, signature: signature(what, 'signature', o.signature), trace: trace(what, 'trace', o.trace) };
}

function reportPlain(r: ShrinkReport): Plain {
  return { opsBefore: r.opsBefore, opsAfter: r.opsAfter, steps: r.steps, memoHits: r.memoHits, rounds: r.rounds, stepsExhausted: r.stepsExhausted, timedOut: r.timedOut };
}

export function encodeMinimizeOutcome(m: MinimizeOutcome): Buffer {
  const r = m.result;
  return pack({
    v: HUB_MESSAGE_VERSION,
    kind: 'minimize-outcome',
    hash: m.hash,
    result: r === null ? null : { trace: encodeMsgpack(r.trace), signature: { ...r.signature }, report: reportPlain(r.report) },
  });
}

export function decodeMinimizeOutcome(bytes: unknown, hash: string): MinimizeOutcome {
  const what = `minimization outcome of ${hash}`;
  const o = unpack(what, bytes, 'minimize-outcome');
  if (o.hash !== hash) fail(what, 'hash', `is ${JSON.stringify(o.hash)}`);
  if (o.result === null) return { hash, result: null };
  const r = obj(what, 'result', o.result);
  const p = obj(what, 'result.report', r.report);
  const report: ShrinkReport = {
    opsBefore: int(what, 'report.opsBefore', p.opsBefore),
    opsAfter: int(what, 'report.opsAfter', p.opsAfter),
    steps: int(what, 'report.steps', p.steps),
    memoHits: int(what, 'report.memoHits', p.memoHits),
    rounds: int(what, 'report.rounds', p.rounds),
    stepsExhausted: bool(what, 'report.stepsExhausted', p.stepsExhausted),
    timedOut: bool(what, 'report.timedOut', p.timedOut),
  };
  return { hash, result: { trace: trace(what, 'result.trace', r.trace), signature: signature(what, 'result.signature', r.signature), report } };
}

export function encodeSeedCorpus(c: SeedCorpus): Buffer {
  return pack({ v: HUB_MESSAGE_VERSION, kind: 'seeds', entries: c.entries.map((e) => ({ hash: e.hash, trace: encodeMsgpack(e.trace) })), features: c.features });
}

/** Decodes the seed corpus; each entry's hash must be its trace's content address. */
export function decodeSeedCorpus(bytes: unknown): SeedCorpus {
  const what = 'seed corpus';
  const o = unpack(what, bytes, 'seeds');
  return {
    entries: arr(what, 'entries', o.entries).map((x, i) => {
      const e = obj(what, `entries[${i}]`, x);
      const hash = str(what, `entries[${i}].hash`, e.hash);
      const t = trace(what, `entries[${i}].trace`, e.trace);
      if (addressOf(t).hash !== hash) fail(what, `entries[${i}].hash`, 'is not its trace\'s content address');
      return { hash, trace: t };
    }),
    features: ints(what, 'features', o.features),
  };
}
