#!/usr/bin/env node
/**
 * The eptfuzz command line: fuzz | replay | minimize | export | dump | convert | corpus add|list|merge|minimize |
 * crashes merge|list | report | bugs.
 * Contract (ARCHITECTURE.md "CLI"): exit 0 nothing failed; 1 a failure was found or reproduced;
 * 2 bad usage or bad input, with one clear line on stderr and no stack trace; 3 internal error.
 * `main(argv, io)` runs in-process (tests) and returns the exit code; run as a program it sets
 * process.exitCode.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { EPTFUZZ_VERSION } from '../gen/generate.js';
import { fuzzCommand } from './commands/fuzz.js';
import { replayCommand } from './commands/replay.js';
import { minimizeCommand } from './commands/minimize.js';
import { bugsCommand, convertCommand, dumpCommand, rulesCommand } from './commands/simple.js';
import { corpusCommand, crashesCommand } from './commands/corpus.js';
import { exportCommand } from './commands/export.js';
import { reportCommand } from './commands/report.js';
import { hubCommand, statusCommand } from './commands/hub.js';
import { coverageCommand } from './commands/coverage.js';
import { explainCommand } from './commands/explain.js';
import { EXIT, classifyError, type ExitCode } from './errors.js';
import { processIo, type Io } from './io.js';

function buildProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command('eptfuzz')
    .description('deterministic fuzzing and trace replay for an emulated x86 memory-protection machine')
    .version(EPTFUZZ_VERSION)
    .addHelpText('after', '\nExit codes: 0 nothing failed, 1 a failure found or reproduced, 2 bad usage or input, 3 internal error.\n\nExamples:\n  $ eptfuzz fuzz --seed 1 --runs 200 --crashes out/crashes               # exit 0: no failures\n  $ eptfuzz fuzz --seed 1 --runs 500 --bug canary --crashes out/canary   # exit 1: the planted bug is found and minimized\n  $ eptfuzz replay out/canary/*/repro.msgpack                             # exit 1 while the failure reproduces\n');
  for (const make of [fuzzCommand, replayCommand, explainCommand, minimizeCommand, exportCommand, dumpCommand, convertCommand, corpusCommand, crashesCommand, reportCommand, coverageCommand, rulesCommand, bugsCommand]) {
    program.addCommand(make(io, setExit));
  }
  program.addCommand(statusCommand(io));
  program.addCommand(hubCommand(io));
  const configure = (c: Command): void => {
    c.exitOverride();
    c.configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // Commander's own messages are already one line ("error: unknown option '--x'").
      outputError: (s, write) => write(`eptfuzz: ${s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`),
    });
    c.showHelpAfterError(false);
    for (const sub of c.commands) configure(sub);
  };
  configure(program);
  return program;
}

/** Runs the CLI on `argv` (arguments after the program name) and returns the exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<ExitCode> {
  let code: ExitCode = EXIT.ok;
  const program = buildProgram(io, (c) => { code = c; });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
      if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return EXIT.usage;
    }
    const { code: exit, line } = classifyError(e);
    io.err(line + '\n');
    if (exit === EXIT.internal && process.env.EPTFUZZ_DEBUG === '1' && e instanceof Error && e.stack) io.err(e.stack + '\n');
    return exit;
  }
}

function invokedDirectly(): boolean {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // `eptfuzz corpus list DIR | head`: a closed pipe ends the output quietly, not with a stack.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => { process.stderr.write(classifyError(e).line + '\n'); process.exitCode = EXIT.internal; },
  );
}
