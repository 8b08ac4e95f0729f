/**
 * Where commands write: stdout, stderr and whether stderr is a terminal. Injected so that tests can
 * run the CLI in-process and capture its output.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stderr is a terminal: the fuzz status line may be rewritten in place. */
  errIsTTY: boolean;
}

export const processIo: Io = {
  out: (text) => { process.stdout.write(text); },
  err: (text) => { process.stderr.write(text); },
  errIsTTY: process.stderr.isTTY === true,
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
