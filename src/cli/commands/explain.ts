/**
 * `eptfuzz explain TRACE [--step N] [--json]`: every step (or one) of a trace explained in rule
 * terms: walks decoded entry by entry, the rule that decided and where, every allowed outcome with
 * its rule, the target's outcome, and a failing step's difference decoded (src/check/explain.ts).
 * Exit 1 when an explained step has a violation, else 0; 2 for bad input.
 */
import { Command } from 'commander';
import { explainTrace, explainedJson, formatExplained } from '../../check/explain.js';
import { loadTrace } from '../../trace/load.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { resolveTarget } from '../target.js';

export function explainCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('explain')
    .description('explain each step of a trace: walks decoded, the rule that decided and its source, every allowed outcome, the difference of a failing step')
    .argument('<trace>', 'trace file (msgpack, text or JSON)')
    .option('--step <n>', 'explain only step n (0-based, as replay and the failure line number them)')
    .option('--json', 'one JSON object per step', false)
    .option('--oracle <name>', 'check against: model or machine', 'model')
    .addHelpText('after', '\nExamples:\n  $ eptfuzz explain crashes/d1f61b56b1c35de8/repro.msgpack --step 1\n  $ eptfuzz explain trace.txt --json | jq .violations\n')
    .action(async (file: string, flags: { step?: string; json: boolean; oracle: string }) => {
      const trace = loadTrace(file);
      let only: number | null = null;
      if (flags.step !== undefined) {
        if (!/^\d+$/.test(flags.step)) throw new UsageError(`--step: '${flags.step}' is not a step number`);
        only = Number(flags.step);
        if (only >= trace.ops.length) throw new UsageError(`--step ${only}: ${file} has ${trace.ops.length} ops (steps 0..${trace.ops.length - 1})`);
      }
      const target = await resolveTarget(flags.oracle);
      const steps = explainTrace(trace, target, only);
      for (const s of steps) io.out(flags.json ? explainedJson(file, s) + '\n' : formatExplained(s) + '\n');
      setExit(steps.some((s) => s.violations.length > 0) ? EXIT.failure : EXIT.ok);
    });
}
