/**
 * Bad input to `eptfuzz report` (a missing directory, a file that does not parse): one line naming
 * the file and the problem; the CLI prints it and exits 2 (src/cli/errors.ts).
 */
export class ReportInputError extends Error {
  override readonly name = 'ReportInputError';
}
