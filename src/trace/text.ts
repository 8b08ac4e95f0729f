/**
 * The text form of a trace: readable, diffable and writable by hand.
 * Contract (grammar in docs/traces.md): `#` lines are comments; header lines `@schema N`,
 * `@eptfuzz VERSION`, `@machine {json}`, `@provenance {json}`, `@signature {json}` come before the
 * first op; then one op per line, `name field=value ...` (a trailing `# comment` is allowed). The
 * writer puts fields in OP_SCHEMAS order with ints in decimal, addr/u32/u64 in hex and enums as
 * words; the reader takes fields in any order and integers in decimal or hex (`_` separators
 * allowed). Decoding is strict by default: an unknown header, op or field is an error naming the
 * line and field. The form round-trips exactly with msgpack and JSON.
 */
import { TraceError, asTraceError, showValue } from './errors.js';
import { fieldText, machinePlain, opValues, provenanceJson, schemaOf, signaturePlain } from './canonical.js';
import type { Op } from './ops.js';
import type { Trace } from './trace.js';
import { WARNINGS_MAX, parseIntegerLiteral, validateOp, validateTrace, type DecodeOptions, type HeaderKey, type RawDocument } from './validate.js';

/** Largest text trace accepted (characters): OPS_MAX ops of the longest kind take ~68 MB. */
export const TEXT_CHARS_MAX = 128 * 1024 * 1024;

const TEXT_HEADERS = ['schema', 'eptfuzz', 'machine', 'provenance', 'signature'] as const;
type TextHeader = (typeof TEXT_HEADERS)[number];
const REQUIRED_HEADERS: readonly TextHeader[] = ['schema', 'eptfuzz', 'machine'];
const JSON_HEADERS: ReadonlySet<string> = new Set(['machine', 'provenance', 'signature']);

export const TEXT_BANNER = '# eptfuzz trace, text form (docs/traces.md): headers, then one op per line';

/** One op as a text line: `write cpu=0 la=0x1ffe size=2 value=0xbeef`. */
export function formatOp(op: Op): string {
  const values = opValues(op);
  const fields = schemaOf(op).fields.map((field, i) => `${field.name}=${fieldText(field.type, values[i])}`);
  return [op.op, ...fields].join(' ');
}

export function formatText(trace: Trace): string {
  const lines = [
    TEXT_BANNER,
    `@schema ${trace.schema}`,
    `@eptfuzz ${trace.eptfuzz}`,
    `@machine ${JSON.stringify(machinePlain(trace.machine))}`,
  ];
  if (trace.provenance !== undefined) lines.push(`@provenance ${provenanceJson(trace.provenance)}`);
  if (trace.signature !== undefined) lines.push(`@signature ${JSON.stringify(signaturePlain(trace.signature))}`);
  for (const op of trace.ops) lines.push(formatOp(op));
  return lines.join('\n') + '\n';
}

/** The raw fields of an op line (before validation); `where` prefixes messages. */
function opLineFields(text: string, where: string): Map<string, unknown> {
  const tokens = text.split(/\s+/);
  const name = tokens[0];
  const fields = new Map<string, unknown>([['op', name]]);
  for (const token of tokens.slice(1)) {
    const eq = token.indexOf('=');
    if (eq <= 0) throw new TraceError(`${where}: op '${name}': expected field=value, got ${showValue(token)}`);
    const key = token.slice(0, eq);
    if (fields.has(key)) {
      throw new TraceError(`${where}: op '${name}': ${key === 'op' ? `unknown field 'op'` : `field '${key}' given twice`}`);
    }
    fields.set(key, token.slice(eq + 1));
  }
  return fields;
}

/** Parses a single op line (no headers), e.g. for a REPL or a test; the cpu bound is not checked. */
export function parseOp(line: string, options: DecodeOptions = {}): Op {
  const text = stripComment(line).trim();
  if (text === '') throw new TraceError('empty op line');
  return validateOp(opLineFields(text, 'op'), (name) => (name === undefined ? 'op' : `op '${name}'`), { ...options, textValues: true });
}

function stripComment(line: string): string {
  const hash = line.indexOf('#');
  return hash < 0 ? line : line.slice(0, hash);
}

export function parseText(src: string, options: DecodeOptions = {}): Trace {
  try {
    return parseTextUnsafe(src, options);
  } catch (error) {
    throw asTraceError(error, 'text');
  }
}

function parseTextUnsafe(src: string, options: DecodeOptions): Trace {
  if (typeof src !== 'string') throw new TraceError('text: input must be a string');
  if (src.length > TEXT_CHARS_MAX) throw new TraceError(`text: ${src.length} characters is more than the ${TEXT_CHARS_MAX} limit`);
  const strict = options.strict ?? true;
  const lines = (src.charCodeAt(0) === 0xfeff ? src.slice(1) : src).split('\n');
  const doc: RawDocument = Object.create(null) as RawDocument;
  const headerLine = new Map<string, number>();
  const ops: Array<Map<string, unknown>> = [];
  const opLine: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const text = lines[i].trim();
    if (text === '' || text.startsWith('#')) continue;
    const where = `line ${lineNo}`;
    if (!text.startsWith('@')) {
      ops.push(opLineFields(stripComment(text).trim(), where));
      opLine.push(lineNo);
      continue;
    }
    const match = /^@([A-Za-z_]\w*)(?:\s+(.*))?$/.exec(text);
    const key = match?.[1] ?? text.split(/\s/)[0];
    if (match === null || !(TEXT_HEADERS as readonly string[]).includes(key)) {
      if (strict) throw new TraceError(`${where}: unknown header ${showValue(key)} (headers: ${TEXT_HEADERS.map((h) => '@' + h).join(' ')})`);
      if ((options.warnings?.length ?? WARNINGS_MAX) < WARNINGS_MAX) options.warnings!.push(`${where}: ignored unknown header ${showValue(key)}`);
      continue;
    }
    if (ops.length > 0) throw new TraceError(`${where}: header '@${key}' must come before the first op (line ${opLine[0]})`);
    const first = headerLine.get(key);
    if (first !== undefined) throw new TraceError(`${where}: header '@${key}' given twice (first on line ${first})`);
    headerLine.set(key, lineNo);
    const rest = (match[2] ?? '').trim();
    if (JSON_HEADERS.has(key)) {
      try {
        doc[key] = JSON.parse(rest) as unknown;
      } catch (error) {
        throw new TraceError(`${where}: @${key}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
      }
    } else {
      doc[key] = key === 'schema' ? (parseIntegerLiteral(rest) ?? rest) : rest;
    }
  }
  for (const key of REQUIRED_HEADERS) {
    if (!headerLine.has(key)) {
      throw new TraceError(`missing header '@${key}' (a text trace starts with @schema, @eptfuzz and @machine; see docs/traces.md)`);
    }
  }
  doc.ops = ops;
  return validateTrace(doc, {
    strict: options.strict,
    warnings: options.warnings,
    opForm: 'object',
    textValues: true,
    locateOp: (index, name) => (name === undefined ? `line ${opLine[index]}` : `line ${opLine[index]}: op '${name}'`),
    locateHeader: (key: HeaderKey) => (headerLine.has(key) ? `line ${headerLine.get(key)!}: @${key}` : key),
  });
}
