/**
 * The small commands: `dump` (text form to stdout), `convert` (between forms) and `bugs` (the
 * planted-bug catalogue).
 */
import { Command } from 'commander';
import { CATALOGUE } from '../../bugs/catalogue.js';
import { RULES } from '../../model/rules.js';
import { rulesMarkdownTable, rulesText } from '../../model/rules-doc.js';
import { loadTrace, saveTrace } from '../../trace/load.js';
import { formatText } from '../../trace/text.js';
import { outputFormat } from '../args.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';

export function dumpCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('dump')
    .description('print a trace in the text form')
    .argument('<trace>', 'trace file (msgpack, text or JSON)')
    .addHelpText('after', '\nExample:\n  $ eptfuzz dump crashes/4e8af73e72895d3c/repro.msgpack\n')
    .action((file: string) => {
      io.out(formatText(loadTrace(file)));
      setExit(EXIT.ok);
    });
}

export function convertCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('convert')
    .description('convert a trace between the msgpack, text and JSON forms (written atomically)')
    .argument('<in>', 'input trace (any form)')
    .argument('<out>', 'output file')
    .option('--to <form>', 'output form: text, json or msgpack (default: from the extension .txt, .json or .msgpack)')
    .addHelpText('after', '\nExamples:\n  $ eptfuzz convert repro.msgpack repro.txt\n  $ eptfuzz convert repro.msgpack repro.trace --to text\n')
    .action((input: string, output: string, flags: { to?: string }) => {
      const format = outputFormat('--to', flags.to, output);
      saveTrace(output, loadTrace(input), format);
      io.out(`wrote ${output} (${format})\n`);
      setExit(EXIT.ok);
    });
}

export function bugsCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('bugs')
    .description('list the planted bugs that --bug can switch on')
    .addHelpText('after', '\nExample:\n  $ eptfuzz bugs\n  $ eptfuzz fuzz --bug canary --runs 100\n')
    .action(() => {
      const width = Math.max(...CATALOGUE.map((b) => b.name.length));
      for (const b of CATALOGUE) io.out(`${b.name.padEnd(width)}  [${b.layer}]  ${b.doc}\n`);
      setExit(EXIT.ok);
    });
}

export function rulesCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('rules')
    .description('list the rule catalogue: every rule the reference models apply, with its source (docs/rules.md)')
    .option('--json', 'one JSON array of {id, mode, mechanism, meaning, source, group, unreachable?}')
    .option('--markdown', 'the Markdown table of docs/rules.md')
    .addHelpText('after', '\nExample:\n  $ eptfuzz rules | grep ept.misconfig\n')
    .action((flags: { json?: boolean; markdown?: boolean }) => {
      io.out(flags.json === true ? JSON.stringify(RULES, null, 1) + '\n' : flags.markdown === true ? rulesMarkdownTable() : rulesText());
      setExit(EXIT.ok);
    });
}
