/**
 * kvm.spp.parked-bit-restored: the hv model names the SPP check of a write through a leaf whose
 * EPT bit 61 write protection or aging parked and restored, so the two planted SPP bugs of the
 * hypervisor (bit 61 lost on write protection; a 2 MiB leaf never split) file under different
 * signatures (docs/rules.md "Rule ids").
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';
import type { AnyOp } from '../../../src/trace/ops.js';
import { HvModel } from '../../../src/model/hv/model.js';
import { ruleOfCandidate } from '../../../src/check/classify.js';
import { ruleId } from '../../../src/model/rules.js';
import { NP_SETUP, hvConfig, run, write } from './helpers.js';

const PROTECT: AnyOp[] = [...NP_SETUP, { op: 'spp_enable', vm: 2 }, { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe }, write(0, 0x201080, 1n)];

/** The rule of the model's first allowed outcome of the last op. */
function lastRule(ops: AnyOp[]): string {
  const m = new HvModel(hvConfig());
  for (const op of ops.slice(0, -1)) m.commit(m.step(op).allowed[0]);
  const last = ops[ops.length - 1];
  return ruleId(ruleOfCandidate(last.op, m.step(last).allowed[0]));
}

describe('kvm.spp.parked-bit-restored', () => {
  it('labels the SPP check after write protection or aging, and only then', () => {
    expect(lastRule([...PROTECT, write(0, 0x201000, 2n)])).toBe('hv.access.write.spp');
    expect(lastRule([...PROTECT, { op: 'vm_write_protect', vm: 2, gfn: 0x201, pages: 1 }, write(0, 0x201000, 2n)])).toBe('kvm.spp.parked-bit-restored');
    expect(lastRule([...PROTECT, { op: 'vm_age', vm: 2, gfn: 0x201, pages: 1 }, write(0, 0x201000, 2n)])).toBe('kvm.spp.parked-bit-restored');
    // write protection before the page was protected parks nothing
    expect(lastRule([...NP_SETUP, { op: 'spp_enable', vm: 2 }, write(0, 0x201080, 1n), { op: 'vm_write_protect', vm: 2, gfn: 0x201, pages: 1 },
      { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe }, write(0, 0x201000, 2n)])).not.toBe('kvm.spp.parked-bit-restored');
  });

  it('labels the SPP exit of a guest A/D update through a restored leaf too (a minimized spp-lost-on-wrprotect run)', () => {
    const t = parseText(readFileSync(new URL('./fixtures/spp-parked-ad-update.txt', import.meta.url), 'utf8'));
    expect(checkTrace(t, TARGETS.model).first?.coarse).toBe('kvm.spp.parked-bit-restored -> completes');
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });

  it('spp-lost-on-wrprotect and spp-hugepage-not-split are filed under different rules', () => {
    const lost = run([...PROTECT, { op: 'vm_write_protect', vm: 2, gfn: 0x201, pages: 1 }, write(0, 0x201080, 2n), write(0, 0x201000, 3n)], hvConfig({ bugs: ['spp-lost-on-wrprotect'] }));
    const huge = run([...NP_SETUP, { op: 'spp_enable', vm: 2 }, write(0, 0x200000, 1n), { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe }, write(0, 0x201000, 2n)],
      hvConfig({ bugs: ['spp-hugepage-not-split'] }));
    const firstAccess = (r: typeof lost) => r.violations.find((v) => v.invariant === 'fault.exit-reason');
    expect(firstAccess(lost)?.coarse).toMatch(/^kvm\.spp\.parked-bit-restored -> /);
    expect(firstAccess(huge)?.coarse).toMatch(/^hv\.access\./);
  });
});
