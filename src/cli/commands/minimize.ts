/**
 * `eptfuzz minimize TRACE -o OUT`: shrinks a failing trace keeping its signature. Exit 0 when it
 * wrote OUT (the command did what was asked; `replay OUT` then exits 1); 2 when TRACE does not
 * fail (nothing to minimize, nothing written) or OUT's extension names no trace form.
 */
import { Command } from 'commander';
import { formatSignature } from '../../check/violation.js';
import { minimizeTraceSteps, type MinimizeResult } from '../../shrink/trace.js';
import type { Trace } from '../../trace/trace.js';
import type { Target } from '../../check/runner.js';
import { Progress } from '../progress.js';
import { SHRINK_MS_MAX_DEFAULT, SHRINK_STEPS_MAX_DEFAULT } from '../../shrink/minimize.js';
import { loadTrace, saveTrace } from '../../trace/load.js';
import { outputFormat, parseCount } from '../args.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { resolveTarget } from '../target.js';
import { resolveExternal } from '../../target/registry.js';
import { minimizeOnTarget } from '../../target/minimize.js';
import { onTarget, runnableOn } from '../../target/domain.js';

interface MinimizeFlags { output: string; maxSteps: string; maxMs: string; format?: string; oracle: string; target: string }

/**
 * The built-in machine's minimization, driven step by step so that a terminal shows progress:
 * predicate evaluations against the step budget (the time limit may end it sooner).
 */
function minimizeWithProgress(io: Io, trace: Trace, target: Target, stepsMax: number, msMax: number): MinimizeResult | null {
  const progress = new Progress(io, 'minimize', stepsMax, 'steps');
  const steps = minimizeTraceSteps(trace, target, { stepsMax, msMax });
  let r = steps.next();
  while (r.done !== true) {
    progress.tick();
    r = steps.next();
  }
  progress.end();
  return r.value;
}

export function minimizeCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('minimize')
    .description('shrink a failing trace while keeping its failure signature')
    .argument('<trace>', 'failing trace (msgpack, text or JSON)')
    .requiredOption('-o, --output <file>', 'where to write the minimized trace (.msgpack, .txt or .json; another name needs --format)')
    .option('--max-steps <n>', 'predicate evaluations allowed', String(SHRINK_STEPS_MAX_DEFAULT))
    .option('--max-ms <n>', 'time limit in milliseconds', String(SHRINK_MS_MAX_DEFAULT))
    .option('--format <form>', 'output form: msgpack, text or json (default: from the extension)')
    .option('--oracle <name>', 'check against: model or machine', 'model')
    .option('--target <name>', 'run candidates on: machine (built-in), bochs, qemu, or exec:CMD (many candidates per target run)', 'machine')
    .addHelpText('after', '\nExit codes: 0 minimized and written; 2 the trace does not fail (nothing written) or bad input; 3 internal error.\n\nExamples:\n  $ eptfuzz minimize crashes/4e8af73e72895d3c/original-1.msgpack -o small.msgpack --max-steps 5000\n  $ eptfuzz minimize --target bochs bochs-crashes/0123456789abcdef/original-1.msgpack -o small.txt\n')
    .action(async (file: string, flags: MinimizeFlags) => {
      const stepsMax = parseCount('--max-steps', flags.maxSteps, 1);
      const msMax = parseCount('--max-ms', flags.maxMs, 1);
      const format = outputFormat('--format', flags.format, flags.output);
      const loaded = loadTrace(file);
      const external = resolveExternal(flags.target);
      let trace = loaded;
      if (external !== null) {
        const adapted = onTarget(loaded, external.profile);
        const why = runnableOn(adapted.trace, external.profile);
        if (why !== null) throw new UsageError(`${file}: ${why}`);
        if (adapted.changes.length > 0) io.err(`note: ${file} runs under the ${external.profile.name} configuration (${adapted.changes.join(', ')})\n`);
        trace = adapted.trace;
      }
      const m = external !== null
        ? await minimizeOnTarget(external, trace, undefined, { stepsMax, msMax })
        : minimizeWithProgress(io, trace, await resolveTarget(flags.oracle), stepsMax, msMax);
      if (m === null) throw new UsageError(`${file}: the trace does not fail; nothing to minimize (nothing written)`);
      saveTrace(flags.output, m.trace, format);
      const r = m.report;
      const limit = r.timedOut ? ' (time limit reached)' : r.stepsExhausted ? ' (step limit reached)' : '';
      io.out(`${formatSignature(m.signature)}\nminimized ${r.opsBefore} -> ${r.opsAfter} ops in ${r.steps} steps (${r.memoHits} memo hits, ${r.rounds} rounds)${limit}; wrote ${flags.output}\n`);
      setExit(EXIT.ok);
    });
}
