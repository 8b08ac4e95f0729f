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

/** Trace format from a file name: .txt → text, .json → json, anything else msgpack. */
export function formatFromPath(file: string): TraceFormat {
  if (file.endsWith('.txt')) return 'text';
  if (file.endsWith('.json')) return 'json';
  return 'msgpack';
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
