import { RULE } from '../../../src/model/rules.js';
import { describe, expect, it } from 'vitest';
import { pickCandidate, runWith } from '../../../src/check/runner.js';
import { coarseFrameDifference } from '../../../src/check/checkers.js';
import { INVARIANTS } from '../../../src/check/violation.js';
import type { Outcome } from '../../../src/hw/outcome.js';
import { fakeTarget, traceOf, writes } from './fakes.js';

const OK: Outcome = { kind: 'ok' };
const pf = (code: number, cr2 = 0x1000): Outcome => ({ kind: 'pf', code, cr2 });
const exit = (reason: number, qual: number, gpa = 0x2000, gla: number | null = 0x1000): Outcome => ({ kind: 'exit', reason, qual, gpa, gla });

describe('runner', () => {
  it('stays quiet when the machine and the model agree, bytes included', () => {
    const t = fakeTarget(
      (_op, i) => ({ outcome: OK, writes: [[0x5000 + i, i + 1]] }),
      (_op, i) => ({ allowed: [{ outcome: OK, writes: [[0x5000 + i, i + 1]] }] }),
    );
    const r = runWith(traceOf(writes(50)), t);
    expect(r.first).toBeNull();
    expect(r.opsRun).toBe(50);
    expect(r.violationCount).toBe(0);
  });

  it('commits the candidate equal to the actual outcome', () => {
    const t = fakeTarget(
      () => ({ outcome: pf(3) }),
      () => ({ allowed: [{ outcome: OK }, { outcome: pf(3) }] }),
    );
    const r = runWith(traceOf(writes(1)), t);
    expect(r.first).toBeNull();
    expect(t.lastModel().committed[0].outcome).toEqual(pf(3));
  });

  it('among equal outcomes, commits the one that wrote the frames the machine wrote', () => {
    const t = fakeTarget(
      () => ({ outcome: OK, writes: [[0x7000, 9]] }),
      () => ({ allowed: [{ outcome: OK, writes: [[0x6000, 9]] }, { outcome: OK, writes: [[0x7000, 9]] }] }),
    );
    const r = runWith(traceOf(writes(1)), t);
    expect(r.first).toBeNull();
    expect(t.lastModel().committed[0].frames).toEqual([7]);
  });

  it('pickCandidate previews equal candidates in order and takes the last by elimination', () => {
    const machineBytes = new Uint8Array(4096);
    machineBytes[5] = 1;
    const machine = { frameBytes: () => machineBytes.slice(), frameView: () => machineBytes };
    const previews: number[] = [];
    const candidate = (id: number, byte: number) => ({
      outcome: OK, stale: false, frames: [7],
      frameAfter: () => { previews.push(id); const b = new Uint8Array(4096); b[5] = byte; return b; },
    });
    const three = (matching: number) => [0, 1, 2].map((id) => candidate(id, id === matching ? 1 : 0));
    expect(pickCandidate(three(1), OK, [7], machine)?.frames).toEqual([7]);
    expect(previews).toEqual([0, 1]);
    previews.length = 0;
    const all = three(2);
    expect(pickCandidate(all, OK, [7], machine)).toBe(all[2]);
    expect(previews).toEqual([0, 1]); // the last one needs no preview
    previews.length = 0;
    const first = three(0);
    expect(pickCandidate(first, OK, [7], machine)).toBe(first[0]);
    expect(previews).toEqual([0]);
  });

  it('pickCandidate returns null when nothing matches', () => {
    expect(pickCandidate([{ outcome: OK, stale: false, frames: [] }], { kind: 'gp' }, [])).toBeNull();
  });

  it('fault.pf-error-code fires when both fault with different error codes, naming the differing bits', () => {
    const t = fakeTarget(() => ({ outcome: pf(0x7) }), () => ({ allowed: [{ outcome: pf(0x27), rule: RULE.pkruWd }] }));
    const r = runWith(traceOf(writes(3)), t);
    expect(r.first).toMatchObject({ invariant: INVARIANTS.pfErrorCode, step: 0, op: 'write', coarse: 'pk.pkru.wd -> pf protection', rule: 'pk.pkru.wd' });
    expect(r.first?.detail).toContain('error code bits differ: PK');
    expect(r.opsRun).toBe(1);
  });

  it('fault.pf-error-code fires on a CR2 difference', () => {
    const t = fakeTarget(() => ({ outcome: pf(5, 0x1000) }), () => ({ allowed: [{ outcome: pf(5, 0x1ffe), rule: RULE.usUser }] }));
    expect(runWith(traceOf(writes(1)), t).first).toMatchObject({ invariant: INVARIANTS.pfErrorCode, coarse: 'paging.us.user-to-supervisor -> pf protection (cr2 differ)' });
  });

  it('fault.ept-qualification fires on qualification, gpa and gla differences of exits 48 and 66', () => {
    const cases: Array<[Outcome, Outcome, string]> = [
      [exit(48, 0x181), exit(48, 0x81), 'ept.violation -> ept violation (gla/xlat bits differ)'],
      [exit(48, 0x189), exit(48, 0x181), 'ept.violation -> ept violation (rights bits differ)'],
      [exit(48, 0x181, 0x3000), exit(48, 0x181, 0x2000), 'ept.violation -> ept violation (gpa differ)'],
      [exit(66, 0x800, 0x2000, 0x1000), exit(66, 0x800, 0x2000, 0x1080), 'ept.violation -> spp miss (gla differ)'],
    ];
    for (const [actual, allowed, coarse] of cases) {
      const t = fakeTarget(() => ({ outcome: actual }), () => ({ allowed: [{ outcome: allowed, rule: RULE.eptDeny[1][1] }] }));
      expect(runWith(traceOf(writes(1)), t).first).toMatchObject({ invariant: INVARIANTS.eptQualification, coarse });
    }
  });

  it('fault.exit-reason fires when kinds or reasons differ', () => {
    const cases: Array<[Outcome, Outcome, string]> = [
      [pf(1), exit(48, 0x181), 'ept.violation.write -> pf protection'],
      [exit(49, 0, 0x2000, null), exit(48, 0x181), 'ept.violation.write -> ept misconfig'],
      [OK, { kind: 'gp' }, 'reg.cr0.gp -> completes'],
      [{ kind: 'data', value: 1n }, { kind: 'data', value: 2n }, 'access.read.complete -> completes (value differ)'],
    ];
    const rules = [RULE.eptDeny[1][1], RULE.eptDeny[1][1], RULE.regCr0Gp, RULE.accessRead];
    for (const [k, [actual, allowed, coarse]] of cases.entries()) {
      const t = fakeTarget(() => ({ outcome: actual }), () => ({ allowed: [{ outcome: allowed, rule: rules[k] }] }));
      expect(runWith(traceOf(writes(1)), t).first).toMatchObject({ invariant: INVARIANTS.exitReason, coarse });
    }
  });

  it('a target #PF on a later page than the model\'s stop is classified as the target going through the stop\'s page', () => {
    const cases: Array<[Outcome, Outcome, number, string]> = [
      [pf(0, 0x2000), pf(0x21, 0x1ffd), RULE.pkruAd, 'pk.pkru.ad -> completes'],
      [pf(2, 0x2000), exit(48, 0x1a2, 0x5fff, 0x1fff), RULE.xoNativeData, 'xo.native.data-denied -> completes'],
      [pf(2, 0x1fff), exit(48, 0x1a2, 0x5fff, 0x1fff), RULE.xoNativeData, 'xo.native.data-denied -> pf not-present'],
      // The model stops at a guest table's A update (bit 8 clear); the target's exit is the final translation's, or a misconfiguration further on.
      [exit(48, 0x184, 0x4860bf, 0x1fff), exit(48, 0x8b, 0x7f0, 0x1fff), RULE.eptDeny[3][3], 'ept.violation.table-read -> completes'],
      [exit(49, 0, 0x5dfaeb, null), exit(48, 0x8b, 0x8d38, 0x1fff), RULE.eptDeny[3][3], 'ept.violation.table-read -> completes'],
      [exit(48, 0x83, 0x7f0, 0x1fff), exit(48, 0x8b, 0x7f0, 0x1fff), RULE.eptDeny[3][3], 'ept.violation -> ept violation (rights bits differ)'],
    ];
    for (const [actual, allowed, rule, coarse] of cases) {
      const t = fakeTarget(() => ({ outcome: actual }), () => ({ allowed: [{ outcome: allowed, rule }] }));
      expect(runWith(traceOf(writes(1)), t).first?.coarse).toBe(coarse);
    }
  });

  it('an exit at the GPA of an allowed exit is a qualification dispute with that one, not a target going past another\'s stop', () => {
    // ept-gla-bits-wrong: the machine sets bit 8 on a table access's exit; an allowed exit at a table GPA comes first.
    const t = fakeTarget(() => ({ outcome: exit(48, 0x183, 0x404cec, 0x1fff) }), () => ({
      allowed: [{ outcome: exit(48, 0x8b, 0x7f0, 0x1fff), rule: RULE.eptDeny[4][3] }, { outcome: exit(48, 0x83, 0x404cec, 0x1fff), rule: RULE.eptDeny[4][3] }],
    }));
    expect(runWith(traceOf(writes(1)), t).first).toMatchObject({ invariant: INVARIANTS.eptQualification, coarse: 'ept.violation -> ept violation (gla/xlat bits differ)' });
  });

  it('tlb.stale-after-flush fires when the actual outcome is one only a flushed translation gives', () => {
    const t = fakeTarget(() => ({ outcome: OK }), () => ({ allowed: [{ outcome: pf(1) }], flushed: [OK], flushedRules: [RULE.inveptSingle] }));
    expect(runWith(traceOf(writes(1)), t).first).toMatchObject({ invariant: INVARIANTS.staleAfterFlush, coarse: 'flushed by tlb.invept.single', rule: 'tlb.invept.single' });
  });

  it('tlb.stale-after-flush needs the flushed run\'s memory too where the model can predict it; else the walk rule in dispute is named', () => {
    // The machine completes and writes 0x21 at 0x5000 (a walk's accessed flag); the flushed run completes without that write.
    const machine = () => ({ outcome: OK, writes: [[0x5000, 0x21]] as Array<[number, number]> });
    const model = (flushedMemory: Array<[number, number]>) => () => ({ allowed: [{ outcome: exit(48, 0x8b), rule: RULE.eptDeny[1][1] }], flushed: [OK], flushedRules: [RULE.inveptSingle], flushedMemory });
    expect(runWith(traceOf(writes(1)), fakeTarget(machine, model([[0x5000, 0x01]]))).first).toMatchObject({ invariant: INVARIANTS.exitReason, coarse: 'ept.violation.write -> completes' });
    expect(runWith(traceOf(writes(1)), fakeTarget(machine, model([[0x5000, 0x21]]))).first).toMatchObject({ invariant: INVARIANTS.staleAfterFlush, coarse: 'flushed by tlb.invept.single' });
  });

  it('PK dropped where an ordinary denial also applies is pk.bit-with-ordinary-denial even when a flushed translation gives the same #PF', () => {
    const t = fakeTarget(() => ({ outcome: pf(5) }), () => ({
      allowed: [{ outcome: pf(0x25), rule: RULE.pkruAd, stages: { keyStage: RULE.pkruAd, rightsStage: RULE.usUser, keyOtherDenies: false } }],
      flushed: [pf(5)], flushedRules: [RULE.inveptSingle],
    }));
    expect(runWith(traceOf(writes(1)), t).first).toMatchObject({ invariant: INVARIANTS.pfErrorCode, coarse: 'pk.bit-with-ordinary-denial -> PK verdict differs' });
  });

  it('mem.no-lost-write fires at the op when the machine drops a byte the model writes', () => {
    const t = fakeTarget(
      (_op, i) => ({ outcome: OK, writes: i === 4 ? [[0x5000, 0x41]] : [] }),
      (_op, i) => ({ allowed: [{ outcome: OK, writes: i === 4 ? [[0x5000, 0x41], [0x6000, 0x42]] : [] }] }),
    );
    const r = runWith(traceOf(writes(10)), t);
    expect(r.first).toMatchObject({ invariant: INVARIANTS.noLostWrite, step: 4, op: 'write', coarse: 'access.write.complete -> data byte the op wrote: data bytes differ' });
    expect(r.first?.detail).toContain('hpa 0x6000');
  });

  it('mem.no-lost-write is found by the final sweep when a frame changes behind the runner', () => {
    const t = fakeTarget(
      (_op, i) => ({ outcome: OK, writes: i === 0 ? [[0x7000, 1]] : [], silent: i === 2 ? [[0x7001, 5]] : [] }),
      (_op, i) => ({ allowed: [{ outcome: OK, writes: i === 0 ? [[0x7000, 1]] : [] }] }),
    );
    const r = runWith(traceOf(writes(3)), t);
    expect(r.first).toMatchObject({ invariant: INVARIANTS.noLostWrite, op: 'sweep', step: 3 });
    expect(r.final).toHaveLength(1);
  });

  it('a periodic sweep finds it before the end', () => {
    const t = fakeTarget(
      (_op, i) => ({ outcome: OK, writes: i === 0 ? [[0x7000, 1]] : [], silent: i === 2 ? [[0x7001, 5]] : [] }),
      (_op, i) => ({ allowed: [{ outcome: OK, writes: i === 0 ? [[0x7000, 1]] : [] }] }),
    );
    const r = runWith(traceOf(writes(100)), t, { sweepEveryOps: 4 });
    expect(r.first).toMatchObject({ invariant: INVARIANTS.noLostWrite, op: 'sweep', step: 3 });
  });

  it('a machine that throws is a harness.exception with a value-free signature', () => {
    const t = fakeTarget(
      (_op, i) => { if (i === 1) throw new RangeError('bad index 0x1234 at 17'); return { outcome: OK }; },
      () => ({ allowed: [{ outcome: OK }] }),
    );
    const r = runWith(traceOf(writes(3)), t);
    expect(r.first).toMatchObject({ invariant: INVARIANTS.exception, step: 1, coarse: 'machine RangeError: bad index N at N' });
  });

  it('with records, keeps going after a violation and records every step', () => {
    const t = fakeTarget((_op, i) => ({ outcome: i === 1 ? pf(1) : OK }), () => ({ allowed: [{ outcome: OK }] }));
    const r = runWith(traceOf(writes(4)), t, { records: true });
    expect(r.records).toHaveLength(4);
    expect(r.records?.[1].violations.map((v) => v.invariant)).toEqual([INVARIANTS.exitReason]);
    expect(r.records?.[2].violations).toEqual([]);
    expect(r.first?.step).toBe(1);
  });
});

describe('pickCandidate with frame previews', () => {
  it('picks the equal-outcome candidate whose previewed bytes match the machine', () => {
    const bytes = (b: number): Uint8Array => { const u = new Uint8Array(4096); u[9] = b; return u; };
    const machine = { frameBytes: (f: number) => (f === 4 ? bytes(0x20) : null) };
    const a = { outcome: OK, stale: false, frames: [4], frameAfter: (f: number) => (f === 4 ? bytes(0x23) : null) };
    const b = { outcome: OK, stale: true, frames: [4], frameAfter: (f: number) => (f === 4 ? bytes(0x20) : null) };
    expect(pickCandidate([a, b], OK, [4], machine)).toBe(b);
  });
});

describe('mem.no-lost-write coarse detail', () => {
  it('tells a lone accessed/dirty flag difference from lost data', () => {
    const m = new Uint8Array(4096);
    const s = new Uint8Array(4096);
    s[0x11] = 0x01; // bit 8 of the qword at 0x10: the model set EPT A, the machine did not
    expect(coarseFrameDifference(m, s, 0x11)).toBe('flag bit 8 differs (machine clear)');
    m[0x11] = 0x01; m[0x20] = 0x40; // guest D set by the machine only
    expect(coarseFrameDifference(m, s, 0x20)).toBe('flag bit 6 differs (machine set)');
    s[0x30] = 0xbe;
    expect(coarseFrameDifference(m, s, 0x30)).toBe('data bytes differ');
  });
});
