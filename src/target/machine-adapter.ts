#!/usr/bin/env node
/**
 * A reference adapter: the built-in machine behind the out-of-process target protocol
 * (docs/targets.md). It reads a batch, runs each trace on a fresh Machine under the profile's
 * configuration, and prints the result lines an agent would. It is the model for writing an
 * adapter of your own, and the tests use it to check the whole external path without Bochs.
 * Contract: `machine-adapter --profile` prints its profile (the Bochs profile's layout, so the
 * same lowering applies, with the Bochs capabilities); `machine-adapter BATCH` prints result lines.
 * Test hooks (environment): EPTFUZZ_ADAPTER_CORRUPT=`KIND` (pf, exit or data) reports every
 * outcome of that kind with the low bit of its error code, qualification or value flipped (a
 * planted defect in the target: deterministic in the trace's content, so it minimizes); EPTFUZZ_ADAPTER_DIE=`T` exits abruptly when
 * trace T starts; EPTFUZZ_ADAPTER_HANG=`T` never ends when trace T starts; EPTFUZZ_ADAPTER_SLOW_MS=`N`
 * takes N ms more per batch (a slow target, like a Bochs boot).
 */
import * as fs from 'node:fs';
import { Machine } from '../hw/machine.js';
import type { Outcome } from '../hw/outcome.js';
import { bigintJson } from './profile-json.js';
import { BOCHS_PROFILE } from './bochs/profile.js';
import { decodeBatch } from './bochs/batch-decode.js';
import type { TargetProfile } from './profile.js';

export const MACHINE_ADAPTER_PROFILE: TargetProfile = { ...BOCHS_PROFILE, name: 'machine-adapter', description: 'the built-in machine behind the adapter protocol (reference adapter)' };

const h = (n: number | bigint): string => n.toString(16);

function line(o: Outcome): string {
  switch (o.kind) {
    case 'ok': case 'gp': case 'noent': return o.kind;
    case 'data': return `data ${h(o.value)}`;
    case 'pf': return `pf ${h(o.code)} ${h(o.cr2)}`;
    case 'exit': return `exit ${h(o.reason)} ${h(o.qual)} ${h(o.gpa)} ${o.gla === null ? '-' : h(o.gla)}`;
    case 'vmfail': return `vmfail ${h(o.error)}`;
    default: return `skip unexpected ${o.kind}`;
  }
}

function corrupt(o: Outcome): Outcome {
  switch (o.kind) {
    case 'data': return { ...o, value: o.value ^ 1n };
    case 'pf': return { ...o, code: o.code ^ 1 };
    case 'exit': return { ...o, qual: o.qual ^ 1 };
    default: return o;
  }
}

const ZERO_FRAME = new Uint8Array(4096);

/** Runs [start, end) of differing 8-byte words between two frames. */
function changedRuns(now: Uint8Array, old: Uint8Array): Array<[number, number]> {
  const a = new Uint32Array(now.buffer, now.byteOffset, 1024);
  const b = new Uint32Array(old.buffer, old.byteOffset, 1024);
  const runs: Array<[number, number]> = [];
  let start = -1;
  for (let w = 0; w <= 512; w++) {
    const differs = w < 512 && (a[2 * w] !== b[2 * w] || a[2 * w + 1] !== b[2 * w + 1]);
    if (differs && start < 0) start = w;
    if (!differs && start >= 0) { runs.push([start * 8, w * 8]); start = -1; }
  }
  return runs;
}

function run(file: string): void {
  const batch = decodeBatch(fs.readFileSync(file));
  const corruptKind = process.env.EPTFUZZ_ADAPTER_CORRUPT ?? '';
  const die = Number(process.env.EPTFUZZ_ADAPTER_DIE ?? -1);
  const hang = Number(process.env.EPTFUZZ_ADAPTER_HANG ?? -1);
  const slowMs = Number(process.env.EPTFUZZ_ADAPTER_SLOW_MS ?? 0);
  if (slowMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, slowMs);
  const out: string[] = [`H maxphyaddr=${h(batch.maxPhyAddr)} adapter=machine`, `B ${h(batch.traces.length)}`];
  const flush = (): void => { fs.writeSync(1, out.join('\n') + '\n'); out.length = 0; };
  for (const t of batch.traces) {
    if (t.index === die) { flush(); process.exit(139); }
    if (t.index === hang) { flush(); for (;;) { /* hung */ } }
    const m = new Machine(MACHINE_ADAPTER_PROFILE.config);
    const shadow = new Map<number, Uint8Array>(t.watch.map((f) => [f, new Uint8Array(4096)]));
    out.push(`T ${h(t.index)}`);
    t.ops.forEach((op, i) => {
      let o = m.apply(op);
      if (o.kind === corruptKind) o = corrupt(o);
      out.push(`S ${h(i)} ${line(o)}`);
      for (const [f, old] of shadow) {
        const now = m.frameView(f) ?? ZERO_FRAME;
        if (Buffer.compare(now, old) === 0) continue;
        for (const [off, end] of changedRuns(now, old)) {
          out.push(`M ${h(f)} ${h(off)} ${Buffer.from(now.subarray(off, end)).toString('hex')}`);
          old.set(now.subarray(off, end), off);
        }
      }
    });
    out.push(`E ${h(t.index)}`);
  }
  out.push('D');
  flush();
}

const argv = process.argv.slice(2);
if (argv[0] === '--profile') process.stdout.write(JSON.stringify(MACHINE_ADAPTER_PROFILE, bigintJson) + '\n');
else if (argv.length === 1) run(argv[0]);
else { process.stderr.write('usage: machine-adapter BATCH_FILE | machine-adapter --profile\n'); process.exitCode = 2; }
