/**
 * Regressions for cases where the correct hypervisor and the reference model used to disagree
 * (false failures of `fuzz --mode hv`).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runHv } from '../../../src/check/hv/run.js';
import { loadTrace } from '../../../src/trace/load.js';
import type { AnyOp } from '../../../src/trace/ops.js';
import { clean, fmt, hvConfig, read, write } from './helpers.js';
import { validateConfig } from '../../../src/hw/config.js';

describe('hv model/hypervisor agreement regressions', () => {
  it('paging off, a GPA at 2^MAXPHYADDR (XO bit clear) is an EPT violation, not the XO #PF (semantics.md step 7)', () => {
    const ops: AnyOp[] = [
      { op: 'vm_create', vm: 3, type: 'protected' },
      { op: 'host_donate_guest', vm: 3, pfn: 0x40, gfn: 1 },
      { op: 'vcpu_load', cpu: 1, vm: 3 },
      write(1, 0x400000000000, 0n, 1),
      read(1, 0x400000000000, 1),
      read(1, 0x200000000000, 1),
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'vcpu_load', cpu: 0, vm: 2 },
      read(0, 0x400000001000, 1),
      write(0, 0x600000002000, 0n, 1),
    ];
    const outs = clean(ops, hvConfig({ maxPhyAddr: 46 }));
    // Protected VM: every access is private; the gfn has no PRIVATE attribute (§4).
    expect(fmt(outs[3])).toContain('hv_exit memory_fault gpa=0x400000000000 size=1 info=0xa');
    expect(fmt(outs[4])).toContain('hv_exit memory_fault gpa=0x400000000000 size=1 info=0x9');
    expect(fmt(outs[5])).toBe('pf code=0x1 cr2=0x200000000000');
    // np VM: outside every memslot is MMIO to user space; bit 45 set is the XO #PF.
    expect(fmt(outs[8])).toContain('hv_exit mmio gpa=0x400000001000');
    expect(fmt(outs[9])).toBe('pf code=0x3 cr2=0x600000002000');
  });

  it('a page-crossing access whose second page finds the pool empty is -ENOMEM with the first lazy mapping taken back', () => {
    const ops: AnyOp[] = [
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x200, pfn: 0x400, pages: 1024, flags: 0 },
      { op: 'spp_enable', vm: 2 },
      { op: 'vm_create', vm: 3, type: 'protected' },
      { op: 'host_donate_guest', vm: 3, pfn: 0x40, gfn: 1 },
      { op: 'host_donate_guest', vm: 3, pfn: 0x43, gfn: 0x201 },
      { op: 'vcpu_load', cpu: 0, vm: 2 },
      { op: 'vtl_call', cpu: 0 },
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x3ff, count: 2, flags: 0xd },
      write(0, 0x201080, 0n, 1),
      read(0, 0x400ffc, 8), // gfn 0x400 maps (in VTL 1), gfn 0x401 finds the pool empty
      { op: 'vcpu_load', cpu: 0, vm: 1 },
      { op: 'vm_teardown_start', vm: 2 },
      { op: 'vm_reclaim', vm: 2, gfn: 0x400 },
    ];
    // The read needs exactly the 24th frame (docs/hypervisor.md "The page pool"): with 24 it
    // completes, with 23 it is -ENOMEM and nothing of it stays.
    const enough = clean(ops, hvConfig({ maxPhyAddr: 46, hv: { poolFrames: 24 } }));
    expect(fmt(enough[10])).toMatch(/^handled exits=\[48,48\] data/);
    expect(fmt(enough[13])).toBe('ret 0');
    const outs = clean(ops, hvConfig({ maxPhyAddr: 46, hv: { poolFrames: 23 } }));
    expect(fmt(outs[10])).toBe('ret -12');
    // Nothing of the failed access stays: gfn 0x400 was never shared with the guest.
    expect(fmt(outs[13])).toBe('ret -2');
  });

  it('-ENOMEM at a later allocating exit keeps the guest A/D bits the walks set before it (docs/hypervisor.md)', () => {
    // Op 11 (0-based) crosses from PTE0 (A|D already set) to PTE1 (A|D clear): the first part's
    // exit maps lazily, the second part's walk sets A|D in PTE1, its exit needs two table pages
    // the 18-frame pool lacks. Op 13 reads PTE1 through the self-mapping PTE2.
    const t = loadTrace(fileURLToPath(new URL('./traces/enomem-guest-ad.txt', import.meta.url)));
    const r = runHv(t.machine, t.ops, { stopAtFirst: false });
    expect(r.violations).toEqual([]);
    expect(fmt(r.outcomes[11])).toBe('ret -12');
    expect(fmt(r.outcomes[13])).toBe('data 0x600067');
    // One frame more and the write completes (the pool is counted exactly: no spurious -ENOMEM).
    const more = { ...t.machine, hv: { ...t.machine.hv!, poolFrames: t.machine.hv!.poolFrames + 1 } };
    const ok = runHv(more, t.ops, { stopAtFirst: false });
    expect(ok.violations).toEqual([]);
    expect(fmt(ok.outcomes[11])).toBe('handled exits=[48,48] ok');
  });

  it('issue 12: set_mem_attrs at GPA 2^48 + x is stored and touches no leaf (it used to split and rewrite the leaf of x)', () => {
    const t = loadTrace(fileURLToPath(new URL('./traces/memattr-beyond-gpa-space.txt', import.meta.url)));
    const r = runHv(t.machine, t.ops, { stopAtFirst: false, sweepEveryOps: 1 });
    expect(r.violations.map((v) => `${v.step} ${v.invariant}: ${v.detail}`)).toEqual([]);
    expect(r.outcomes.slice(4).map(fmt)).toEqual(['ret 0', 'ok', 'ok']);
  });

  it('issue 12: a gfn at or above 2^36 reaches no leaf through dirty logging or aging, and is no share target', () => {
    const t = loadTrace(fileURLToPath(new URL('./traces/gfn-beyond-gpa-space.txt', import.meta.url)));
    const r = runHv(t.machine, t.ops, { stopAtFirst: false, sweepEveryOps: 1 });
    expect(r.violations.map((v) => `${v.step} ${v.invariant}: ${v.detail}`)).toEqual([]);
    expect(r.outcomes.slice(4).map(fmt)).toEqual(['ret 0', 'ret 0', 'ok', 'ret -22', 'ret -22', 'data 0x2']);
  });

  it('hv mode refuses MAXPHYADDR above 48: 4-level EPT cannot keep GPAs 2^48 apart', () => {
    expect(() => hvConfig({ maxPhyAddr: 49 })).not.toThrow();
    expect(validateConfig(hvConfig({ maxPhyAddr: 49 }))).toMatch(/hv mode needs maxPhyAddr <= 48/);
    expect(validateConfig(hvConfig({ maxPhyAddr: 48 }))).toBeNull();
  });
});
