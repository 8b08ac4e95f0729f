/**
 * The pieces of the external-target path: lowering (harness ops and the origin map), the batch
 * encoding (decodes back to the same ops), the result-line parser (strict on protocol lines,
 * tolerant of chatter), fitting (identity on a runnable trace) and the static refusals.
 */
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../../../src/trace/load.js';
import { formatOp } from '../../../src/trace/text.js';
import { lower } from '../../../src/target/bochs/lower.js';
import { encodeBatch } from '../../../src/target/bochs/batch.js';
import { decodeBatch, BatchFormatError } from '../../../src/target/bochs/batch-decode.js';
import { BOCHS_PROFILE, STUB_LA_SUP, STUB_LA_USER } from '../../../src/target/bochs/profile.js';
import { parseResults, TargetProtocolError } from '../../../src/target/results.js';
import { onTarget, runnableOn } from '../../../src/target/domain.js';
import { fitToTarget } from '../../../src/target/fit.js';
import { originalStep } from '../../../src/target/judge.js';
import type { Trace } from '../../../src/trace/trace.js';

const seed = (): Trace => onTarget(loadTrace('corpus/seeds/guest-paging.txt'), BOCHS_PROFILE).trace;

describe('lowering', () => {
  it('keeps every original op in order and marks harness ops', () => {
    const t = seed();
    const l = lower(t);
    const originals = l.trace.ops.filter((_, i) => l.origin[i] >= 0);
    expect(originals.map(formatOp)).toEqual(t.ops.map(formatOp));
    // Every read/write is preceded by the stub's probe fetch.
    l.trace.ops.forEach((op, i) => {
      if (l.origin[i] >= 0 && (op.op === 'read' || op.op === 'write')) {
        const probe = l.trace.ops[i - 1];
        expect(probe.op).toBe('fetch');
        expect(l.origin[i - 1]).toBe(-1);
      }
    });
    expect(l.loadCr3.size).toBe(1); // the seed's one MOV CR3
    expect(originalStep(l.origin, 0, t.ops.length)).toBe(0);
  });

  it('switches to CPL 0 around register writes made at CPL 3, and back', () => {
    const t: Trace = { ...seed(), ops: [{ op: 'set_reg', cpu: 0, reg: 'cpl', value: 3n }, { op: 'set_reg', cpu: 0, reg: 'cr4', value: 0x20n }] };
    const ops = lower(t).trace.ops.map(formatOp).filter((s) => s.includes('cpl') || s.includes('cr4'));
    expect(ops).toEqual(['set_reg cpu=0 reg=cpl value=0x3', 'set_reg cpu=0 reg=cpl value=0x0', 'set_reg cpu=0 reg=cr4 value=0x20', 'set_reg cpu=0 reg=cpl value=0x3']);
  });
});

describe('batch encoding', () => {
  it('decodes back to the same ops, watch list and stub addresses', () => {
    const l = lower(seed());
    const bytes = encodeBatch([{ index: 7, trace: l.trace, watch: [1, 2, 3], stubLaSup: STUB_LA_SUP, stubLaUser: STUB_LA_USER, loadCr3: l.loadCr3 }], 0xf000000, 40);
    const b = decodeBatch(bytes);
    expect(b.traces).toHaveLength(1);
    expect(b.traces[0].index).toBe(7);
    expect(b.traces[0].watch).toEqual([1, 2, 3]);
    expect(b.traces[0].ops.map(formatOp)).toEqual(l.trace.ops.map(formatOp));
    expect(b.maxPhyAddr).toBe(40);
  });

  it('a truncated or foreign batch is refused with its byte offset', () => {
    const l = lower(seed());
    const bytes = encodeBatch([{ index: 0, trace: l.trace, watch: [], stubLaSup: 0, stubLaUser: 0 }], 0xf000000, 40);
    expect(() => decodeBatch(bytes.subarray(0, 100))).toThrow(BatchFormatError);
    const bad = bytes.slice();
    bad[0] = 0;
    expect(() => decodeBatch(bad)).toThrow(/magic/);
  });
});

describe('result lines', () => {
  it('parses outcomes and memory changes, ignoring chatter', () => {
    const r = parseResults('Bochs says hi\nH maxphyaddr=28\nB 1\nT 0\nS 0 ok\nM 10 8 ff00\nS 1 pf 7 401000\nS 2 exit 30 18a 14008 400008\nS 3 exit 31 0 14000 -\nE 0\nD\n');
    const t = r.traces.get(0)!;
    expect(r.done).toBe(true);
    expect(r.hello.maxphyaddr).toBe('28');
    expect(t.steps.map((s) => s.outcome)).toEqual([
      { kind: 'ok' }, { kind: 'pf', code: 7, cr2: 0x401000 },
      { kind: 'exit', reason: 48, qual: 0x18a, gpa: 0x14008, gla: 0x400008 }, { kind: 'exit', reason: 49, qual: 0, gpa: 0x14000, gla: null },
    ]);
    expect(t.steps[0].memory).toEqual([{ frame: 16, offset: 8, bytes: Uint8Array.from([0xff, 0]) }]);
  });

  it('refuses a malformed protocol line, and records where the target stopped or gave up', () => {
    expect(() => parseResults('T 0\nS 0 exit 30 zz\nE 0\nD\n')).toThrow(TargetProtocolError);
    expect(() => parseResults('T 0\nS 1 ok\n')).toThrow(/out of order/);
    const stopped = parseResults('T 0\nS 0 ok\nS 1 skip stubfault exit 30\nE 0\nD\n');
    expect(stopped.traces.get(0)!.stopped).toEqual({ step: 1, why: 'stubfault exit 30' });
    const corrupt = parseResults('T 0\nS 0 ok\nE 0\nS 0 skip agentcorrupt\nD\n');
    expect(corrupt.abort).toEqual({ why: 'agentcorrupt', after: 0 });
  });

  it('the fast path for step and memory lines gives exactly the strict parser\'s results and errors, on every one-character change of a sample', () => {
    const sample = 'H maxphyaddr=28\nB 2\nT 0\nS 0 ok\nM 10 8 ff00\nS 1 pf 7 401000\nM ef0 ff8 0102030405060708\nS 2 exit 30 18a 14008 400008\n'
      + 'S 3 exit 31 0 14000 -\nS 4 data 1122334455667788\nS 5 gp\nS 6 noent\nS 7 vmfail 7\nM 1 ffe 0a0b\nE 0\nT 1\nS 0 ok\nS 1 skip stubfault exit 30\nM 2 0 00\nE 1\nD\n';
    const outcome = (text: string, fast: boolean): string => {
      try {
        return JSON.stringify(parseResults(text, fast), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Map ? [...v] : v instanceof Uint8Array ? [...v] : v));
      } catch (e) {
        return `${(e as Error).constructor.name}: ${(e as Error).message}`;
      }
    };
    expect(outcome(sample, true)).toBe(outcome(sample, false));
    expect(outcome(sample, true)).not.toMatch(/Error/);
    let compared = 0;
    let rejected = 0;
    for (let i = 0; i < sample.length; i++) {
      for (const c of ['', ' ', '  ', '0', 'f', 'g', 'A', '-', '\r', '\n', '10000000000000']) {
        const text = sample.slice(0, i) + c + sample.slice(i + 1);
        const strict = outcome(text, false);
        expect(outcome(text, true), `change at ${i} to ${JSON.stringify(c)}`).toBe(strict);
        compared++;
        if (strict.startsWith('TargetProtocolError')) rejected++;
      }
    }
    // The changes reach both sides of the strictness: many are refused, many still parse.
    expect(rejected).toBeGreaterThan(compared / 10);
    expect(compared - rejected).toBeGreaterThan(compared / 10);
  });
});

describe('domain and fitting', () => {
  it('refuses what Bochs cannot run, with the step and the reason', () => {
    const t = seed();
    expect(runnableOn(t, BOCHS_PROFILE)).toBeNull();
    expect(runnableOn({ ...t, ops: [{ op: 'read', cpu: 0, la: 0x1000, size: 3 }] }, BOCHS_PROFILE)).toMatch(/step 0 \(read\): a 3-byte access/);
    expect(runnableOn({ ...t, ops: [{ op: 'read', cpu: 1, la: 0x1000, size: 1 }] }, BOCHS_PROFILE)).toMatch(/cpu 1/);
    expect(runnableOn({ ...t, ops: [{ op: 'phys_write', hpa: 0xf000100, size: 8, value: 0n }] }, BOCHS_PROFILE)).toMatch(/reserved by the bochs target \(the guest agent\)/);
    expect(runnableOn({ ...t, ops: [{ op: 'set_reg', cpu: 0, reg: 'cr0', value: 1n }] }, BOCHS_PROFILE)).toMatch(/turns paging off/);
  });

  it('fitting leaves a runnable trace alone and makes any trace runnable', () => {
    const t = seed();
    expect(fitToTarget(t, BOCHS_PROFILE).ops).toEqual(t.ops);
    const odd: Trace = { ...t, ops: [{ op: 'write', cpu: 1, la: 0x1000, size: 7, value: 1n }, { op: 'read', cpu: 0, la: 0xff80_0000_0000, size: 8 }] };
    const fitted = fitToTarget(odd, BOCHS_PROFILE);
    expect(runnableOn(fitted, BOCHS_PROFILE)).toBeNull();
    expect(fitted.ops.map(formatOp)).toEqual(['write cpu=0 la=0x1000 size=4 value=0x1']);
  });
});
