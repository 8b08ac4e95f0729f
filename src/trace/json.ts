/**
 * The JSON form of a trace, for tools that speak JSON.
 * Contract: same fields as msgpack (`schema`, `eptfuzz`, `machine`, `provenance`, `signature`,
 * `ops`, in that order); each op an object `{"op": name, field: value}` on its own line, ints as
 * numbers, addr/u32/u64 as "0x..." strings (nothing loses precision), enums as words. The reader
 * also accepts plain numbers for addr/u32 and decimal or hex strings for any integer. Strict by
 * default; round-trips exactly with msgpack and text.
 */
import { TraceError, asTraceError } from './errors.js';
import { machinePlain, opJson, provenanceJson, signaturePlain } from './canonical.js';
import type { Trace } from './trace.js';
import { validateTrace, type DecodeOptions } from './validate.js';

/** Largest JSON trace accepted (characters): OPS_MAX ops of the longest kind take ~94 MB. */
export const JSON_CHARS_MAX = 128 * 1024 * 1024;

export function formatJson(trace: Trace): string {
  const lines = ['{', `  "schema": ${trace.schema},`, `  "eptfuzz": ${JSON.stringify(trace.eptfuzz)},`, `  "machine": ${JSON.stringify(machinePlain(trace.machine))},`];
  if (trace.provenance !== undefined) lines.push(`  "provenance": ${provenanceJson(trace.provenance)},`);
  if (trace.signature !== undefined) lines.push(`  "signature": ${JSON.stringify(signaturePlain(trace.signature))},`);
  if (trace.ops.length === 0) {
    lines.push('  "ops": []');
  } else {
    lines.push('  "ops": [');
    lines.push(trace.ops.map((op) => `    ${opJson(op)}`).join(',\n'));
    lines.push('  ]');
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

export function parseJson(src: string, options: DecodeOptions = {}): Trace {
  try {
    if (typeof src !== 'string') throw new TraceError('JSON: input must be a string');
    if (src.length > JSON_CHARS_MAX) throw new TraceError(`JSON: ${src.length} characters is more than the ${JSON_CHARS_MAX} limit`);
    let raw: unknown;
    try {
      raw = JSON.parse(src);
    } catch (error) {
      throw new TraceError(`JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    return validateTrace(raw, { strict: options.strict, warnings: options.warnings, opForm: 'object' });
  } catch (error) {
    throw asTraceError(error, 'JSON');
  }
}
