/**
 * Where commands write: stdout, stderr and whether stderr is a terminal. Injected so that tests can
 * run the CLI in-process and capture its output.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stderr is a terminal: the fuzz status line and progress may be rewritten in place. */
  errIsTTY: boolean;
  /** Width of that terminal in columns (absent: unknown, 80 assumed). */
  errColumns?(): number;
}

/** Columns of the terminal behind `io` (80 when unknown). */
export function columnsOf(io: Io): number {
  const c = io.errColumns?.();
  return c !== undefined && Number.isFinite(c) && c > 0 ? c : 80;
}

export const processIo: Io = {
  out: (text) => { process.stdout.write(text); },
  err: (text) => { process.stderr.write(text); },
  errIsTTY: process.stderr.isTTY === true,
  // Read at each use: the terminal may be resized during a campaign.
  errColumns: () => process.stderr.columns,
};

/** An Io that collects everything (tests). */
export function captureIo(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => { out += t; },
    err: (t) => { err += t; },
    errIsTTY: false,
    stdout: () => out,
    stderr: () => err,
  };
}
