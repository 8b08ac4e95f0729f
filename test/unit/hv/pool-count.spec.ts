/**
 * hv.pool-count: the runner compares the hypervisor's free pool frames with the model's exact count
 * after every op (src/check/runner.ts), so a table page taken or kept where the model does not is
 * filed at the op that did it, under that op's rule (docs/hypervisor.md "The page pool").
 */
import { describe, expect, it } from 'vitest';
import type { AnyOp } from '../../../src/trace/ops.js';
import { NP_SETUP, hvConfig, read, run, write } from './helpers.js';

const SPLIT: AnyOp[] = [...NP_SETUP, { op: 'spp_enable', vm: 2 }, write(0, 0x200000, 1n), { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe }, write(0, 0x201000, 2n)];

describe('hv.pool-count', () => {
  it('files a 2 MiB leaf left unsplit at the spp_set that must split it', () => {
    const r = run(SPLIT, hvConfig({ bugs: ['spp-hugepage-not-split'] }));
    const first = r.violations[0];
    expect(first.invariant).toBe('hv.pool-count');
    expect(first.op).toBe('spp_set');
    expect(first.coarse).toBe('kvm.spp_set.ok: pool frames differ (machine more free)');
    expect(run(SPLIT, hvConfig()).violations).toEqual([]);
  });

  it('files tables not given back at the vm_teardown_finish that must free them', () => {
    // VTL 1's view gets tables too (the leak keeps VTL 0's only, src/bugs/catalogue.ts)
    const ops: AnyOp[] = [...NP_SETUP, write(0, 0x200000, 1n), { op: 'vtl_call', cpu: 0 }, read(0, 0x200000), { op: 'vcpu_load', cpu: 0, vm: 1 },
      { op: 'vm_teardown_start', vm: 2 }, { op: 'vm_reclaim', vm: 2, gfn: 0x200 }, { op: 'vm_teardown_finish', vm: 2 }];
    const r = run(ops, hvConfig({ bugs: ['hv-teardown-table-leak'] }));
    const counts = r.violations.filter((v) => v.invariant === 'hv.pool-count');
    expect(counts.map((v) => `${v.op}: ${v.coarse}`)).toContain('vm_teardown_finish: pkvm.vm_teardown_finish.ok: pool frames differ (machine fewer free)');
    expect(run(ops, hvConfig()).violations).toEqual([]);
  });
});
