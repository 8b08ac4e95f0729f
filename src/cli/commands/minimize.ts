/**
 * `eptfuzz minimize TRACE -o OUT`: shrinks a failing trace keeping its signature. Exit 1 when the
 * trace fails (and OUT was written), 0 when it does not fail (nothing written).
 */
import { Command } from 'commander';
import { formatSignature } from '../../check/violation.js';
import { minimizeTrace } from '../../shrink/trace.js';
import { SHRINK_MS_MAX_DEFAULT, SHRINK_STEPS_MAX_DEFAULT } from '../../shrink/minimize.js';
import { loadTrace, saveTrace } from '../../trace/load.js';
import { formatFromPath, parseCount, parseFormat } from '../args.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { resolveTarget } from '../target.js';

interface MinimizeFlags { output: string; maxSteps: string; maxMs: string; format?: string; oracle: string }

export function minimizeCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('minimize')
    .description('shrink a failing trace while keeping its failure signature')
    .argument('<trace>', 'failing trace (msgpack, text or JSON)')
    .requiredOption('-o, --output <file>', 'where to write the minimized trace')
    .option('--max-steps <n>', 'predicate evaluations allowed', String(SHRINK_STEPS_MAX_DEFAULT))
    .option('--max-ms <n>', 'time limit in milliseconds', String(SHRINK_MS_MAX_DEFAULT))
    .option('--format <form>', 'output form: msgpack, text or json (default: from the file name)')
    .option('--oracle <name>', 'check against: model or machine', 'model')
    .addHelpText('after', '\nExample:\n  $ eptfuzz minimize crashes/4e8af73e72895d3c/original-1.msgpack -o small.msgpack --max-steps 5000\n')
    .action(async (file: string, flags: MinimizeFlags) => {
      const stepsMax = parseCount('--max-steps', flags.maxSteps, 1);
      const msMax = parseCount('--max-ms', flags.maxMs, 1);
      const format = flags.format === undefined ? formatFromPath(flags.output) : parseFormat('--format', flags.format);
      const trace = loadTrace(file);
      const target = await resolveTarget(flags.oracle);
      const m = minimizeTrace(trace, target, { stepsMax, msMax });
      if (m === null) {
        io.out(`PASS ${file}: the trace does not fail; nothing to minimize\n`);
        setExit(EXIT.ok);
        return;
      }
      saveTrace(flags.output, m.trace, format);
      const r = m.report;
      const limit = r.timedOut ? ' (time limit reached)' : r.stepsExhausted ? ' (step limit reached)' : '';
      io.out(`${formatSignature(m.signature)}\nminimized ${r.opsBefore} -> ${r.opsAfter} ops in ${r.steps} steps (${r.memoHits} memo hits, ${r.rounds} rounds)${limit}; wrote ${flags.output}\n`);
      setExit(EXIT.failure);
    });
}
