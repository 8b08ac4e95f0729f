/**
 * Which allowed path a target's outcome is disputed against (src/check/checkers.ts
 * `pathInDispute`, src/check/progress.ts), and what the signature then names.
 * Bare fixtures: minimized runs of the planted bug pkey-reg-by-cpl (the key register chosen by CPL)
 * from a 2-minute campaign, which were filed under signatures of the EPT exit the model allowed
 * on another path until the access's progress was compared (docs/rules.md "Signatures"):
 * - pk-stops-early: the model's paths stop at EPT misconfigurations, at guest table GPAs (cached
 *   paging-structure entries differ) or at the final GPA; the target stops earlier, with a PK #PF
 *   at the rights check the final-GPA path passed;
 * - pk-goes-past: the model's paths stop at table misconfigurations or at a PK #PF; the target
 *   goes past the key check to the misconfiguration at the final GPA;
 * - pk-split-past-cached: a split read; the model's paths stop at the first part's final GPA or,
 *   with its cached translation, at a PK #PF on the second part; the target completes.
 * - pk-twin-ad-update (planted pks-wd-ignores-cr0wp): the model's misconfiguration at the PML4
 *   entry's GPA is both a fresh walk's table read and, through cached translations of the tables,
 *   the first guest A/D update after the rights check; the target stops at the key check between
 *   them, which the second path passed (the twin runs' stages are merged: model.ts).
 * hv cases use scripted outcomes (test/unit/check/fakes.ts).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { runWith } from '../../../src/check/runner.js';
import { TARGETS } from '../../../src/check/targets.js';
import type { Outcome } from '../../../src/hw/outcome.js';
import type { Op } from '../../../src/trace/ops.js';
import { parseText } from '../../../src/trace/text.js';
import { RULE } from '../../../src/model/rules.js';
import { fakeTarget, traceOf } from './fakes.js';

const fixture = (name: string) => parseText(readFileSync(new URL(`./fixtures/${name}.txt`, import.meta.url), 'utf8'));

describe('the path in dispute', () => {
  for (const name of ['pk-stops-early', 'pk-goes-past', 'pk-split-past-cached']) {
    it(`${name}: the key register is in dispute, not the EPT exit of another allowed path`, () => {
      const r = checkTrace(fixture(name), TARGETS.model);
      expect(r.first?.invariant).toBe('fault.pf-error-code');
      expect(r.first?.coarse).toBe('pk.register-by-address -> PK verdict differs');
    });
  }

  it('pk-twin-ad-update: the key check between a table read and an A/D update at one GPA is in dispute', () => {
    const r = checkTrace(fixture('pk-twin-ad-update'), TARGETS.model);
    expect(r.first?.coarse).toBe('pk.pks.wd-wp0 -> PK verdict differs');
  });

  it('the same traces pass with the planted bug off (the finding is the bug\'s)', () => {
    for (const name of ['pk-stops-early', 'pk-goes-past', 'pk-split-past-cached', 'pk-twin-ad-update']) {
      const t = fixture(name);
      expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
    }
  });

  const share: Op = { op: 'host_share_guest', pfn: 0x500, gfn: 0x10, vm: 2, prot: 7 } as unknown as Op;
  const read: Op = { op: 'read', cpu: 0, la: 0x1000, size: 1 } as Op;
  const hvCase = (op: Op, actual: Outcome, expected: Outcome) =>
    runWith(traceOf([op]), fakeTarget(() => ({ outcome: actual }), () => ({ allowed: [{ outcome: expected }] }))).first;

  it('hv: -ENOMEM where the model refused the call reads as the call accepted (memory is taken after every check)', () => {
    const v = hvCase(share, { kind: 'ret', value: -12 }, { kind: 'ret', value: -1 });
    expect(v?.coarse).toBe('pkvm.host_share_guest.eperm -> ret ok');
    expect(hvCase(share, { kind: 'ret', value: 0 }, { kind: 'ret', value: -1 })?.coarse).toBe(v?.coarse);
    // -ENOMEM where the model succeeded is its own finding
    expect(hvCase(share, { kind: 'ret', value: -12 }, { kind: 'ret', value: 0 })?.coarse).toBe('pkvm.host_share_guest.ok -> ret enomem');
  });

  it('hv: an access whose hardware exits continue the model\'s went past the model\'s exit; the same exit through other exits is an exits difference', () => {
    const fault: Outcome = { kind: 'hv_exit', exit: 'memory_fault', gpa: 0x400000, size: 1, info: 1, exits: [48] };
    const completes = hvCase(read, { kind: 'handled', exits: [48], then: { kind: 'data', value: 0n } }, fault)?.coarse;
    expect(completes).toBe('hv.access.memory_fault -> completes');
    expect(hvCase(read, { kind: 'hv_exit', exit: 'intercept', gpa: 0x400000, size: 1, info: 1, exits: [48, 48] }, fault)?.coarse).toBe(completes);
    expect(hvCase(read, { kind: 'ret', value: -12 }, fault)?.coarse).toBe(completes);
    expect(hvCase(read, { kind: 'hv_exit', exit: 'memory_fault', gpa: 0x400000, size: 1, info: 1, exits: [48, 48] }, fault)?.coarse)
      .toBe('hv.access.memory_fault -> hv_exit memory_fault (exits taken differ)');
    // a different exit that does not continue the model's exits is not "past"
    expect(hvCase(read, { kind: 'hv_exit', exit: 'intercept', gpa: 0x400000, size: 1, info: 1, exits: [] }, fault)?.coarse).toBe('hv.access.memory_fault -> hv_exit intercept');
  });

  it('a dispute over whether an EPT violation applies names the access kind; a qualification dispute names the family', () => {
    const exit = (qual: number, gpa: number): Outcome => ({ kind: 'exit', reason: 48, qual, gpa, gla: 0x1000 });
    const run = (actual: Outcome, expected: Outcome, rule: number) =>
      runWith(traceOf([read]), fakeTarget(() => ({ outcome: actual }), () => ({ allowed: [{ outcome: expected, rule }] }))).first?.coarse;
    expect(run({ kind: 'data', value: 0n }, exit(0x8b, 0x7f0), RULE.eptDeny[3][4])).toBe('ept.violation.table-read -> completes');
    expect(run({ kind: 'data', value: 0n }, exit(0x181, 0x2000), RULE.eptDeny[0][1])).toBe('ept.violation.read -> completes');
    expect(run(exit(0x81, 0x2000), exit(0x181, 0x2000), RULE.eptDeny[0][1])).toBe('ept.violation -> ept violation (gla/xlat bits differ)');
  });
});
