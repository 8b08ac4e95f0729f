/**
 * `eptfuzz replay TRACE...`: runs each trace with every check and reports. Exit 2 when any file
 * could not be read (each named on one line; the others still run), else 1 when a failure
 * reproduces in any of them, else 0. `--json` prints one JSON object per step, each naming its
 * file (`--outcomes-only`: without the op and the allowed list); `--verbose` a log in the style
 * of KVM trace events.
 */
import { Command } from 'commander';
import { runWith, type StepRecord } from '../../check/runner.js';
import { formatSignature, sameSignature, signatureOf, type Violation } from '../../check/violation.js';
import { outcomeLog } from '../../check/decode.js';
import { violationLines } from '../../check/explain.js';
import type { Outcome } from '../../hw/outcome.js';
import type { PageState } from '../../hw/api.js';

export { outcomeLog };
import { opJson } from '../../trace/canonical.js';
import { loadTrace } from '../../trace/load.js';
import { formatOp } from '../../trace/text.js';
import type { Trace } from '../../trace/trace.js';
import { EXIT, UsageError, classifyError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { resolveTarget } from '../target.js';
import { resolveExternal } from '../../target/registry.js';
import { replayOnTarget } from './replay-target.js';
import { Progress } from '../progress.js';

const hex = (n: number | bigint): string => '0x' + n.toString(16);

/** An outcome as JSON-safe data: numbers stay numbers, 64-bit values become hex strings. */
export function outcomeJson(o: Outcome): Record<string, unknown> {
  switch (o.kind) {
    case 'data': return { kind: 'data', value: hex(o.value) };
    case 'pf': return { kind: 'pf', code: o.code, cr2: hex(o.cr2) };
    case 'exit': return { kind: 'exit', reason: o.reason, qual: hex(o.qual), gpa: hex(o.gpa), gla: o.gla === null ? null : hex(o.gla) };
    case 'vmfail': return { kind: 'vmfail', error: o.error };
    case 'ret': return { kind: 'ret', value: o.value };
    case 'handled': return { kind: 'handled', exits: [...o.exits], then: outcomeJson(o.then) };
    case 'hv_exit': return { kind: 'hv_exit', exit: o.exit, gpa: hex(o.gpa), size: o.size, info: hex(o.info), exits: [...o.exits] };
    case 'page': {
      const p = o.page;
      return {
        kind: 'page', host: p.host, owner: p.owner, hyp: p.hyp, pins: p.pins, shares: p.shares, ffa: p.ffa,
        guests: p.guests.map((g) => ({ vm: g.vm, gfn: hex(g.gfn), state: g.state })),
        guest: p.guest, gpfn: p.gpfn < 0 ? null : hex(p.gpfn), attrs: hex(p.attrs), vtl: [...p.vtl],
        ...(p.cache.length > 0 ? { cache: [...p.cache], cacheTables: p.cacheTables } : {}), pool: p.pool,
      };
    }
    default: return { kind: o.kind };
  }
}

/** A host page's state after a step (hv mode), JSON-safe. */
function stateJson(p: PageState): Record<string, unknown> {
  return { pfn: hex(p.pfn), host: p.host, owner: p.owner, hyp: p.hyp, pins: p.pins, shares: p.shares, ffa: p.ffa, guests: p.guests.map((g) => ({ vm: g.vm, gfn: hex(g.gfn), state: g.state })) };
}

export function violationJson(v: Violation): Record<string, unknown> {
  return { invariant: v.invariant, step: v.step, op: v.op, rule: v.rule, detail: v.detail, signature: v.coarse };
}

/** What `--json` prints per step; `--outcomes-only` drops the op and the allowed list (the bulk). */
export interface JsonShape { outcomesOnly: boolean }

/**
 * One `--json` step record. `file` comes first in every record, so that the output of a replay of
 * many traces can be split or grepped by trace.
 */
export function stepJson(file: string, r: Pick<StepRecord, 'step' | 'op' | 'actual' | 'allowed' | 'violations' | 'states'>, shape: JsonShape, extra: Record<string, unknown> = {}): string {
  const head = { file, step: r.step, ...extra };
  if (shape.outcomesOnly) return JSON.stringify({ ...head, actual: outcomeJson(r.actual), violations: r.violations.map(violationJson) });
  return JSON.stringify({
    ...head,
    op: JSON.parse(opJson(r.op)) as unknown,
    actual: outcomeJson(r.actual),
    allowed: r.allowed.map(outcomeJson),
    violations: r.violations.map(violationJson),
    ...(r.states !== undefined ? { states: r.states.map(stateJson) } : {}),
  });
}

/** The `--json` record of a final-sweep violation. */
export function sweepJson(file: string, v: Violation): string {
  return JSON.stringify({ file, step: v.step, op: 'sweep', violations: [violationJson(v)] });
}

interface ReplayFlags { json: boolean; outcomesOnly: boolean; verbose: boolean; oracle: string; target: string }

/**
 * Loads every file; one that cannot be read or decoded is reported on its own line (the same line
 * a single bad file gets) and left out, so one bad file among thousands does not silence the rest.
 */
function loadAll(io: Io, files: readonly string[]): { traces: Array<{ file: string; trace: Trace }>; unreadable: number } {
  const traces: Array<{ file: string; trace: Trace }> = [];
  let unreadable = 0;
  for (const file of files) {
    try {
      traces.push({ file, trace: loadTrace(file) });
    } catch (e) {
      const c = classifyError(e);
      if (c.code !== EXIT.usage) throw e;
      io.err(c.line + '\n');
      unreadable++;
    }
  }
  return { traces, unreadable };
}

export function replayCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('replay')
    .description('replay traces with every check; exit 1 if a failure reproduces')
    .argument('<trace...>', 'trace files (msgpack, text or JSON)')
    .option('--json', 'print one JSON object per step {file, step, op, actual, allowed, violations}', false)
    .option('--outcomes-only', 'with --json: print {file, step, actual, violations} only (no op, no allowed list: a fraction of the size)', false)
    .option('--verbose', 'print every step as a readable log (exits and #PF with decoded bits)', false)
    .option('--oracle <name>', 'check against: model or machine', 'model')
    .option('--target <name>', 'run on: machine (built-in), bochs, qemu, or exec:CMD (an adapter, docs/targets.md)', 'machine')
    .addHelpText('after', '\nExit codes: 1 when a failure reproduces in any trace; 2 when any file could not be read or decoded\n(each one is named on its own line, and the other files are still replayed); else 0.\n\nExamples:\n  $ eptfuzz replay crashes/4e8af73e72895d3c/repro.msgpack\n  $ eptfuzz replay --json trace.txt | jq .actual\n  $ eptfuzz replay --json --outcomes-only corpus/seeds/*.txt > outcomes.jsonl\n  $ eptfuzz replay --target bochs --verbose corpus/seeds/guest-paging.txt\n')
    .action(async (files: string[], flags: ReplayFlags) => {
      if (flags.outcomesOnly && !flags.json) throw new UsageError('--outcomes-only: shapes the --json records; give --json too');
      const { traces, unreadable } = loadAll(io, files);
      const external = resolveExternal(flags.target);
      if (external !== null) {
        const code = traces.length === 0 ? EXIT.ok : await replayOnTarget(io, external, traces, flags);
        setExit(unreadable > 0 ? EXIT.usage : code);
        return;
      }
      const target = await resolveTarget(flags.oracle);
      const detailed = flags.json || flags.verbose;
      let failed = false;
      // Progress over many files on a terminal; results go through `screen`, which clears it first.
      const progress = new Progress(io, 'replay', traces.length, 'files');
      const screen = traces.length > 1 ? progress.io() : io;
      for (const { file, trace } of traces) {
        const r = runWith(trace, target, { records: detailed, stopAtFirst: !detailed });
        if (r.records !== null) {
          for (const rec of r.records) {
            if (flags.json) {
              screen.out(stepJson(file, rec, flags) + '\n');
            } else {
              screen.out(`${String(rec.step).padStart(5)} ${formatOp(rec.op)}\n        -> ${outcomeLog(rec.actual, rec.op.op)}\n`);
              for (const line of violationLines(rec)) screen.out(line + '\n');
            }
          }
          for (const v of r.final) {
            if (flags.json) screen.out(sweepJson(file, v) + '\n');
            else screen.out(`        !! ${v.invariant} (final sweep): ${v.detail}\n`);
          }
        }
        const out = flags.json ? screen.err : screen.out;
        if (r.first === null) {
          out(`PASS ${file} (${trace.ops.length} ops)\n`);
          if (trace.signature !== undefined) out(`  note: the trace records signature ${formatSignature(trace.signature)}, which no longer reproduces\n`);
        } else {
          failed = true;
          const sig = signatureOf(r.first);
          out(`FAIL ${file}: ${formatSignature(sig)} at step ${r.first.step}\n  ${r.first.detail}\n`);
          if (!flags.json && r.first.op !== 'sweep') out(`  why: eptfuzz explain ${file} --step ${r.first.step}\n`);
          if (trace.signature !== undefined && !sameSignature(sig, trace.signature)) {
            out(`  note: the trace records a different signature: ${formatSignature(trace.signature)}\n`);
          }
        }
        progress.tick();
      }
      progress.end();
      if (unreadable > 0 && files.length > 1) io.err(`eptfuzz: ${unreadable} of ${files.length} file(s) could not be read (named above); the others were replayed\n`);
      setExit(unreadable > 0 ? EXIT.usage : failed ? EXIT.failure : EXIT.ok);
    });
}
