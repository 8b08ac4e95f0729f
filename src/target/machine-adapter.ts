#!/usr/bin/env node
/**
 * A reference adapter: the built-in machine behind the out-of-process target protocol
 * (docs/targets.md). It reads a batch, runs each trace on a fresh Machine under the profile's
 * configuration, and prints the result lines an agent would. It is the model for writing an
 * adapter of your own, and the tests use it to check the whole external path without Bochs.
 * Contract: `machine-adapter --profile` prints its profile (the Bochs profile's layout, so the
 * same lowering applies, with the Bochs capabilities); `machine-adapter BATCH` prints result lines.
 * Test hooks (environment): EPTFUZZ_ADAPTER_CORRUPT=`T:S` reports trace T's step S with the low
 * bit of its value, code or qualification flipped; EPTFUZZ_ADAPTER_DIE=`T` exits abruptly when
 * trace T starts; EPTFUZZ_ADAPTER_HANG=`T` never ends when trace T starts.
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
    case 'ok': return { kind: 'gp' };
    default: return { kind: 'ok' };
  }
}

function run(file: string): void {
  const batch = decodeBatch(fs.readFileSync(file));
  const [ct, cs] = (process.env.EPTFUZZ_ADAPTER_CORRUPT ?? '').split(':').map(Number);
  const die = Number(process.env.EPTFUZZ_ADAPTER_DIE ?? -1);
  const hang = Number(process.env.EPTFUZZ_ADAPTER_HANG ?? -1);
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
      if (t.index === ct && i === cs) o = corrupt(o);
      out.push(`S ${h(i)} ${line(o)}`);
      for (const [f, old] of shadow) {
        const now = m.frameView(f) ?? new Uint8Array(4096);
        for (let off = 0; off < 4096; off += 8) {
          let end = off;
          while (end < 4096 && now.subarray(end, end + 8).some((b, k) => b !== old[end + k])) end += 8;
          if (end === off) continue;
          out.push(`M ${h(f)} ${h(off)} ${Buffer.from(now.subarray(off, end)).toString('hex')}`);
          old.set(now.subarray(off, end), off);
          off = end;
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
