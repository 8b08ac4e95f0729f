import { describe, expect, it } from 'vitest';
import { Coverage, FeatureSet, GFN_SHAPE, gfnShapeFeatureOf } from '../../../src/fuzz/coverage.js';
import { Hypervisor } from '../../../src/hv/hypervisor.js';
import type { AnyOp, Op } from '../../../src/trace/ops.js';
import { hvConfig } from '../hv/helpers.js';

const read: Op = { op: 'read', cpu: 0, la: 0x1000, size: 8 };
const write: Op = { op: 'write', cpu: 0, la: 0x1000, size: 8, value: 1n };

describe('Coverage', () => {
  it('counts new features per run and never twice', () => {
    const c = new Coverage();
    c.beginRun();
    c.observe(read, { kind: 'pf', code: 5, cr2: 0x1000 });
    c.observe(read, { kind: 'pf', code: 5, cr2: 0x2000 }); // cr2 is not a feature; the transition read→read is
    expect(c.endRun()).toBe(3);
    c.beginRun();
    c.observe(read, { kind: 'pf', code: 5, cr2: 0x1000 });
    expect(c.endRun()).toBe(0);
  });

  it('separates error-code bits, qualification bits and op kinds', () => {
    const c = new Coverage();
    c.beginRun();
    c.observe(read, { kind: 'pf', code: 5, cr2: 0 });
    const base = c.count;
    c.observe(read, { kind: 'pf', code: 0x25, cr2: 0 });
    c.observe(read, { kind: 'exit', reason: 48, qual: 0x181, gpa: 0, gla: 0 });
    c.observe(read, { kind: 'exit', reason: 48, qual: 0x189, gpa: 0, gla: 0 });
    c.observe(write, { kind: 'exit', reason: 48, qual: 0x189, gpa: 0, gla: 0 });
    expect(c.count - base).toBeGreaterThanOrEqual(4);
  });

  it('hv: a table left empty and a huge leaf written over it are shapes of their own', () => {
    const ops: AnyOp[] = [
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 9, nr: 1, prot: 7 },
      { op: 'host_share_guest', vm: 2, pfn: 0x41, gfn: 10, nr: 1, prot: 7 },
      { op: 'host_unshare_guest', vm: 2, gfn: 9, nr: 1 },
      { op: 'host_unshare_guest', vm: 2, gfn: 10, nr: 1 },
      { op: 'host_share_guest', vm: 2, pfn: 0x400, gfn: 0, nr: 512, prot: 7 },
    ];
    const hv = new Hypervisor(hvConfig());
    const fs = new FeatureSet();
    for (const op of ops) {
      fs.observe(op as Op, hv.apply(op));
      fs.observeState(hv);
    }
    const f = (name: string, before: number, after: number): boolean => fs.features.has(gfnShapeFeatureOf(name, before, after));
    expect(f('host_share_guest', GFN_SHAPE.none, GFN_SHAPE.leaf4k)).toBe(true);
    // The first unshare leaves gfn 10 mapped: an empty slot; the second empties the table.
    expect(f('host_unshare_guest', GFN_SHAPE.leaf4k, GFN_SHAPE.slot)).toBe(true);
    // Nothing in the region has rights of its own: view 0 could hold it as one 2 MiB leaf.
    expect(f('host_unshare_guest', GFN_SHAPE.leaf4k, GFN_SHAPE.emptyTableBlock)).toBe(true);
    expect(f('host_unshare_guest', GFN_SHAPE.leaf4k, GFN_SHAPE.emptyTable)).toBe(false);
    expect(f('host_share_guest', GFN_SHAPE.emptyTableBlock, GFN_SHAPE.huge)).toBe(true);
    // The block's 512 gfns sit under one entry: the first one stands for the region.
    expect(f('host_share_guest', GFN_SHAPE.none, GFN_SHAPE.huge)).toBe(false);
  });

  it('hv: an empty table in a region with a page of its own rights (a memory attribute) cannot take a huge leaf', () => {
    const ops: AnyOp[] = [
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'set_mem_attrs', vm: 2, gpa: 0x20000n, size: 0x1000n, attrs: 2n, flags: 0n },
      { op: 'host_share_guest', vm: 2, pfn: 0x40, gfn: 9, nr: 1, prot: 7 },
      { op: 'host_unshare_guest', vm: 2, gfn: 9, nr: 1 },
    ];
    const hv = new Hypervisor(hvConfig());
    const fs = new FeatureSet();
    for (const op of ops) {
      fs.observe(op as Op, hv.apply(op));
      fs.observeState(hv);
    }
    expect(fs.features.has(gfnShapeFeatureOf('host_unshare_guest', GFN_SHAPE.leaf4k, GFN_SHAPE.emptyTable))).toBe(true);
    expect(fs.features.has(gfnShapeFeatureOf('host_unshare_guest', GFN_SHAPE.leaf4k, GFN_SHAPE.emptyTableBlock))).toBe(false);
  });
});
