/**
 * Parsers for option values; each throws UsageError with a one-line message naming the option.
 */
import { BUG_NAMES } from '../bugs/catalogue.js';
import { parseFeatures, type Feature } from '../gen/features.js';
import { TRACE_FORMATS, type TraceFormat } from '../trace/load.js';
import { UsageError } from './errors.js';

export function parseCount(flag: string, text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag}: expected a whole number, got '${text}'`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${flag}: must be in ${min}..${max}, got ${text}`);
  return n;
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `8h`, `90m`, `1500ms`, `2d`; a bare number is seconds. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) throw new UsageError(`${flag}: expected a duration like 30s, 10m or 8h, got '${text}'`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']);
}

export function parseBugs(names: readonly string[]): string[] {
  for (const n of names) {
    if (!BUG_NAMES.has(n)) throw new UsageError(`--bug: unknown planted bug '${n}' (see 'eptfuzz bugs')`);
  }
  return [...new Set(names)];
}

export function parseFeatureList(text: string): ReadonlySet<Feature> {
  const f = parseFeatures(text);
  if (typeof f === 'string') throw new UsageError(`--features: ${f}`);
  return f;
}

export function parseFormat(flag: string, text: string): TraceFormat {
  if (!(TRACE_FORMATS as readonly string[]).includes(text)) {
    throw new UsageError(`${flag}: expected one of ${TRACE_FORMATS.join(', ')}, got '${text}'`);
  }
  return text as TraceFormat;
}

/** The extension that names each trace form. */
const FORMAT_OF_EXTENSION: ReadonlyArray<readonly [string, TraceFormat]> = [['.txt', 'text'], ['.json', 'json'], ['.msgpack', 'msgpack']];

/**
 * The form an output file is written in: `given` (the value of `flag`) when there, else the one
 * its extension names (.txt, .json, .msgpack). Any other name without `flag` is refused: writing
 * msgpack into `x.c` or `x.text` silently is a surprise the user finds much later.
 */
export function outputFormat(flag: string, given: string | undefined, file: string): TraceFormat {
  if (given !== undefined) return parseFormat(flag, given);
  const hit = FORMAT_OF_EXTENSION.find(([ext]) => file.endsWith(ext));
  if (hit === undefined) throw new UsageError(`${file}: unknown output extension; name it .msgpack, .txt or .json, or give ${flag} msgpack|text|json`);
  return hit[1];
}

/** `i/n` with 0 <= i < n (0-based shard index). */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (m === null) throw new UsageError(`--shard: expected i/n like 0/4, got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 1_000_000 || index >= count) throw new UsageError(`--shard: need 0 <= i < n <= 1000000, got '${text}'`);
  return { index, count };
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
