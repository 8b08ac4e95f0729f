/**
 * `eptfuzz replay TRACE...`: runs each trace with every check and reports. Exit 1 when a failure
 * reproduces in any of them, else 0. `--json` prints one JSON object per step; `--verbose` a log
 * in the style of KVM trace events.
 */
import { Command } from 'commander';
import { runWith, type StepRecord } from '../../check/runner.js';
import { formatSignature, sameSignature, signatureOf, type Violation } from '../../check/violation.js';
import { exitReasonName, pfCodeNames, qualNames } from '../../check/decode.js';
import type { Outcome } from '../../hw/outcome.js';
import { opJson } from '../../trace/canonical.js';
import { loadTrace } from '../../trace/load.js';
import { formatOp } from '../../trace/text.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { resolveTarget } from '../target.js';

const hex = (n: number | bigint): string => '0x' + n.toString(16);

/** An outcome as JSON-safe data: numbers stay numbers, 64-bit values become hex strings. */
export function outcomeJson(o: Outcome): Record<string, unknown> {
  switch (o.kind) {
    case 'data': return { kind: 'data', value: hex(o.value) };
    case 'pf': return { kind: 'pf', code: o.code, cr2: hex(o.cr2) };
    case 'exit': return { kind: 'exit', reason: o.reason, qual: hex(o.qual), gpa: hex(o.gpa), gla: o.gla === null ? null : hex(o.gla) };
    case 'vmfail': return { kind: 'vmfail', error: o.error };
    default: return { kind: o.kind };
  }
}

function violationJson(v: Violation): Record<string, unknown> {
  return { invariant: v.invariant, step: v.step, op: v.op, detail: v.detail, signature: v.coarse };
}

function stepJson(r: StepRecord): string {
  return JSON.stringify({
    step: r.step,
    op: JSON.parse(opJson(r.op)) as unknown,
    actual: outcomeJson(r.actual),
    allowed: r.allowed.map(outcomeJson),
    violations: r.violations.map(violationJson),
  });
}

/** KVM-trace-like rendering of an outcome. */
export function outcomeLog(o: Outcome): string {
  switch (o.kind) {
    case 'exit':
      return `kvm_exit: reason ${exitReasonName(o.reason)} (${o.reason}) qual ${hex(o.qual)} [${qualNames(o.reason, o.qual)}] gpa ${hex(o.gpa)} gla ${o.gla === null ? '-' : hex(o.gla)}`;
    case 'pf':
      return `kvm_inj_exception: #PF error_code ${hex(o.code)} [${pfCodeNames(o.code)}] cr2 ${hex(o.cr2)}`;
    case 'data': return `data ${hex(o.value)}`;
    case 'vmfail': return `vmfail error ${o.error}`;
    default: return o.kind;
  }
}

interface ReplayFlags { json: boolean; verbose: boolean; oracle: string }

export function replayCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('replay')
    .description('replay traces with every check; exit 1 if a failure reproduces')
    .argument('<trace...>', 'trace files (msgpack, text or JSON)')
    .option('--json', 'print one JSON object per step {step, op, actual, allowed, violations}', false)
    .option('--verbose', 'print every step as a readable log (exits and #PF with decoded bits)', false)
    .option('--oracle <name>', 'check against: model or machine', 'model')
    .addHelpText('after', '\nExamples:\n  $ eptfuzz replay crashes/4e8af73e72895d3c/repro.msgpack\n  $ eptfuzz replay --json trace.txt | jq .actual\n')
    .action(async (files: string[], flags: ReplayFlags) => {
      const traces = files.map((f) => ({ file: f, trace: loadTrace(f) })); // bad input: exit 2 before running anything
      const target = await resolveTarget(flags.oracle);
      const detailed = flags.json || flags.verbose;
      let failed = false;
      for (const { file, trace } of traces) {
        const r = runWith(trace, target, { records: detailed, stopAtFirst: !detailed });
        if (r.records !== null) {
          for (const rec of r.records) {
            if (flags.json) {
              io.out(stepJson(rec) + '\n');
            } else {
              io.out(`${String(rec.step).padStart(5)} ${formatOp(rec.op)}\n        -> ${outcomeLog(rec.actual)}\n`);
              for (const v of rec.violations) io.out(`        !! ${v.invariant}: ${v.detail}\n`);
            }
          }
          for (const v of r.final) {
            if (flags.json) io.out(JSON.stringify({ step: v.step, op: 'sweep', violations: [violationJson(v)] }) + '\n');
            else io.out(`        !! ${v.invariant} (final sweep): ${v.detail}\n`);
          }
        }
        const out = flags.json ? io.err : io.out;
        if (r.first === null) {
          out(`PASS ${file} (${trace.ops.length} ops)\n`);
          if (trace.signature !== undefined) out(`  note: the trace records signature ${formatSignature(trace.signature)}, which no longer reproduces\n`);
        } else {
          failed = true;
          const sig = signatureOf(r.first);
          out(`FAIL ${file}: ${formatSignature(sig)} at step ${r.first.step}\n  ${r.first.detail}\n`);
          if (trace.signature !== undefined && !sameSignature(sig, trace.signature)) {
            out(`  note: the trace records a different signature: ${formatSignature(trace.signature)}\n`);
          }
        }
      }
      setExit(failed ? EXIT.failure : EXIT.ok);
    });
}
