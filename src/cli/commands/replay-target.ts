/**
 * `eptfuzz replay --target NAME`: replays traces on an external target (Bochs, an adapter
 * command) and judges them with the reference model under the target's configuration.
 * Contract: a trace the target cannot run is refused before anything runs (one line, exit 2);
 * a changed configuration (the target's capabilities, MAXPHYADDR, RAM) is said on stderr; the
 * exit code is 1 when a failure reproduces or the target faulted on a trace, else 0. A trace the
 * target stopped part-way passes only on the steps it ran, and says so.
 */
import type { StepRecord } from '../../check/runner.js';
import { formatSignature, signatureOf } from '../../check/violation.js';
import { formatOp } from '../../trace/text.js';
import type { Trace } from '../../trace/trace.js';
import { onTarget, runnableOn } from '../../target/domain.js';
import { runOnTarget, type ExternalTarget } from '../../target/external.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { outcomeLog, stepJson, sweepJson } from './replay.js';
import { violationLines } from '../../check/explain.js';

interface Flags { json: boolean; verbose: boolean; outcomesOnly?: boolean }

function printRecord(io: Io, file: string, rec: StepRecord & { harness: boolean; original: number }, flags: Flags): void {
  if (flags.json) {
    io.out(stepJson(file, { ...rec, step: rec.original }, { outcomesOnly: flags.outcomesOnly === true }, { harness: rec.harness }) + '\n');
    return;
  }
  const label = rec.harness ? '    .' : String(rec.original).padStart(5);
  io.out(`${label} ${formatOp(rec.op)}${rec.harness ? '   (harness)' : ''}\n        -> ${outcomeLog(rec.actual, rec.op.op)}\n`);
  for (const line of violationLines(rec)) io.out(line + '\n');
}

export async function replayOnTarget(io: Io, target: ExternalTarget, loaded: Array<{ file: string; trace: Trace }>, flags: Flags): Promise<ExitCode> {
  const traces = loaded.map(({ file, trace }) => {
    const { trace: t, changes } = onTarget(trace, target.profile);
    const why = runnableOn(t, target.profile);
    if (why !== null) throw new UsageError(`${file}: ${why}`);
    if (changes.length > 0) io.err(`note: ${file} runs under the ${target.profile.name} configuration (${changes.join(', ')})\n`);
    return t;
  });
  const detailed = flags.json || flags.verbose;
  const verdicts = await runOnTarget(target, traces, { records: detailed });
  let failed = false;
  const out = flags.json ? io.err : io.out;
  verdicts.forEach((v, i) => {
    const file = loaded[i].file;
    if (v.kind === 'refused') throw new UsageError(`${file}: ${v.why}`);
    if (v.kind === 'fault') {
      failed = true;
      out(`FAULT ${file}: the ${target.profile.name} target failed on this trace: ${v.why}\n`);
      return;
    }
    const j = v.judged;
    if (j.records !== null) for (const rec of j.records) printRecord(io, file, rec, flags);
    for (const f of j.final) {
      if (flags.json) io.out(sweepJson(file, f) + '\n');
      else io.out(`        !! ${f.invariant} (final sweep): ${f.detail}\n`);
    }
    if (j.first !== null) {
      failed = true;
      out(`FAIL ${file} on ${target.profile.name}: ${formatSignature(signatureOf(j.first))} at step ${j.first.step}\n  ${j.first.detail}\n`);
    } else {
      out(`PASS ${file} on ${target.profile.name} (${j.opsRun} of ${traces[i].ops.length} ops judged)\n`);
    }
    if (j.stopped !== null) out(`  note: the target could not run step ${j.stopped.step} as written (${j.stopped.why}); the steps after it were not judged\n`);
  });
  return failed ? EXIT.failure : EXIT.ok;
}
