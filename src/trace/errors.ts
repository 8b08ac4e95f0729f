/**
 * TraceError: the only error a trace decoder or loader throws for bad input.
 * Contract: the message is ONE line that names the problem and where it is (`line 7: ...` for the
 * text form, `op 12 'write': ...` for msgpack and JSON, the file path when loading), so the CLI can
 * print it as is (exit code 2) without a stack trace.
 */

/** Longest message kept: a hostile value quoted in a message must not flood the terminal. */
export const MESSAGE_CHARS_MAX = 400;

export class TraceError extends Error {
  override readonly name = 'TraceError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(oneLine(message), options);
  }
}

/** Collapses whitespace runs (newlines included) to one space and truncates with an ellipsis. */
export function oneLine(text: string, charsMax: number = MESSAGE_CHARS_MAX): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= charsMax ? flat : flat.slice(0, charsMax - 1) + '…';
}

/** A short, safe rendering of an untrusted value for a message (`got ...`). */
export function showValue(value: unknown): string {
  const valueCharsMax = 40;
  let text: string;
  switch (typeof value) {
    case 'bigint':
      text = value >= 0n ? '0x' + value.toString(16) : '-0x' + (-value).toString(16);
      break;
    case 'string':
      text = JSON.stringify(value.length > valueCharsMax ? value.slice(0, valueCharsMax) + '…' : value);
      break;
    case 'number': case 'boolean':
      text = String(value);
      break;
    case 'undefined':
      text = 'nothing';
      break;
    default:
      if (value === null) text = 'null';
      else if (Array.isArray(value)) text = `an array of ${value.length}`;
      else if (value instanceof Map) text = `a map of ${value.size}`;
      else if (value instanceof Uint8Array) text = `${value.length} bytes`;
      else text = typeof value === 'object' ? 'an object' : typeof value;
  }
  return text.length <= valueCharsMax + 4 ? text : text.slice(0, valueCharsMax) + '…';
}

/** Wraps any thrown value as a TraceError with `prefix` (an existing TraceError keeps its text). */
export function asTraceError(error: unknown, prefix: string): TraceError {
  if (error instanceof TraceError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TraceError(`${prefix}: ${message}`, { cause: error });
}
