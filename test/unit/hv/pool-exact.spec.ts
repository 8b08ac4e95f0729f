/**
 * The page pool is counted exactly (docs/hypervisor.md "The page pool"): an op fails with -ENOMEM
 * (status 11 for vtl_protect) exactly when the table pages it needs outnumber the free pool
 * frames. Each sequence below needs a known number of table pages beyond the host EPT's, counted
 * by hand in the comments; with exactly that many every op succeeds, with one fewer the last
 * allocating op fails and every earlier outcome is unchanged. The reference model alone must
 * allow exactly one outcome per step (no "-ENOMEM or success" alternative), and the hypervisor
 * must agree with it, `hv_query` reporting the same free count.
 */
import { describe, expect, it } from 'vitest';
import { hostEptFrames, type MachineConfig } from '../../../src/hw/config.js';
import { makeHvModel } from '../../../src/model/hv/model.js';
import type { AnyOutcome } from '../../../src/hw/outcome.js';
import type { AnyOp } from '../../../src/trace/ops.js';
import { clean, fmt, hvConfig, read, write } from './helpers.js';

const FRAMES = 8192;

/** The model's allowed outcomes per step, committing the first (paging is off: one variant). */
function modelSteps(config: MachineConfig, ops: readonly AnyOp[]): AnyOutcome[][] {
  const m = makeHvModel(config);
  return ops.map((op) => {
    const s = m.step(op);
    m.commit(s.allowed[0]);
    return s.allowed.map((c) => c.outcome);
  });
}

/** Runs `ops` with `pool` frames: the model allows one outcome per step, and the hypervisor agrees. */
function outcomesWith(ops: readonly AnyOp[], pool: number, hugePages: boolean): string[] {
  const config = hvConfig({ framesMax: FRAMES, hv: { poolFrames: pool, hugePages } });
  const allowed = modelSteps(config, ops);
  allowed.forEach((a, i) => expect(a.map(fmt), `step ${i} (${ops[i].op}) allows one outcome`).toHaveLength(1));
  const outs = clean([...ops], config).map(fmt);
  expect(outs).toEqual(allowed.map((a) => fmt(a[0])));
  return outs;
}

const query: AnyOp = { op: 'hv_query', vm: 2, pfn: 0x400, gfn: 0x200 };

describe('faults, an SPPT region, VM and SPPT roots (huge pages off)', () => {
  // hugePages off: the host EPT has a page table under every 2 MiB region from boot (no host split).
  const ops: AnyOp[] = [
    { op: 'vm_create', vm: 2, type: 'np' }, // 2 roots (VTL 0 and 1)
    { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x200, pfn: 0x400, pages: 1024, flags: 0 },
    { op: 'memslot_set', vm: 2, slot: 1, gfn: 0x40000, pfn: 0x1000, pages: 512, flags: 0 },
    { op: 'spp_enable', vm: 2 }, // the SPPT root: 1
    { op: 'spp_set', vm: 2, gfn: 0x202, npages: 1, flags: 0, map: 0xfffffffe }, // no 2 MiB leaf: 0
    { op: 'vcpu_load', cpu: 0, vm: 2 },
    read(0, 0x200000), // view 0: PDPT, PD and page table: 3
    read(0, 0x201000), // same page table: 0
    read(0, 0x400000), // next 2 MiB region: its page table: 1
    read(0, 0x40000000), // 1 GiB further: a PD and a page table: 2
    write(0, 0x202000, 1n), // mapped with tables in place (0); the SPPT miss builds level 3, 2 and the leaf table: 3
    query,
  ];
  const needed = hostEptFrames(FRAMES - 31, false) + 2 + 1 + 3 + 1 + 2 + 3; // 19 + 12 = 31

  it(`needs exactly ${needed} frames: all succeed with them, the last fault is -ENOMEM with one fewer`, () => {
    expect(needed).toBe(31);
    const ok = outcomesWith(ops, needed, false);
    expect(ok[10]).toMatch(/^hv_exit spp /); // sub-page 0 is write-protected: the SPP exit, SPPT built
    expect(ok[11]).toMatch(/ pool=0$/);
    const short = outcomesWith(ops, needed - 1, false);
    expect(short.slice(0, 10)).toEqual(ok.slice(0, 10));
    expect(short[10]).toBe('ret -12');
    // The failed write took back whatever it took: the 2 frames free before it are free again.
    expect(short[11]).toMatch(/ pool=2$/);
  });

  it('for every pool size, the first -ENOMEM is at the step whose need first exceeds what is left', () => {
    // Free after the host EPT, the 2 roots and the SPPT root: pool - 22. The faults need 3, 0, 1, 2
    // and 3 (a failed fault changes nothing, so the next one needs its own tables still): with 9
    // free none fails; 6 to 8 leave too few for the write; 5 (1 left) and 4 (0 left) for the far
    // fault; 3 for the region fault; 0 to 2 for the first. A share reserving one page more than it
    // takes (the old `+1`) moves the failure earlier at 28 and 25.
    const firstFail: Record<number, number> = { 31: -1, 30: 10, 29: 10, 28: 10, 27: 9, 26: 9, 25: 8, 24: 6, 23: 6, 22: 6 };
    for (const [pool, step] of Object.entries(firstFail)) {
      const outs = outcomesWith(ops, Number(pool), false);
      expect(outs.slice(6, 11).findIndex((o) => o === 'ret -12'), `pool ${pool}`).toBe(step < 0 ? -1 : step - 6);
    }
  });

  it('an earlier shortage fails the fault that needs two pages, not the one before it', () => {
    // 27 frames: 8 after the host EPT; 2 roots, the SPPT root, 3 and 1 for the first faults leave 1.
    const outs = outcomesWith(ops, needed - 4, false);
    expect(outs[8]).toMatch(/^handled exits=\[48\] data/);
    expect(outs[9]).toBe('ret -12');
    expect(outs[11]).toMatch(/ pool=1$/);
  });
});

describe('2 MiB leaves and the splits of vtl_protect, spp_set and set_mem_attrs (huge pages on)', () => {
  const ops: AnyOp[] = [
    { op: 'vm_create', vm: 3, type: 'np' }, { op: 'vm_create', vm: 4, type: 'np' }, { op: 'vm_create', vm: 5, type: 'np' }, // 6 roots
    { op: 'vm_create', vm: 2, type: 'np' }, // 2 roots
    { op: 'memslot_set', vm: 2, slot: 0, gfn: 0x200, pfn: 0x400, pages: 1536, flags: 0 },
    { op: 'vcpu_load', cpu: 0, vm: 2 },
    read(0, 0x200000), // a 2 MiB block: the host leaf changes in place (0); view 0: PDPT and PD: 2
    read(0, 0x400000), // the next block: 0
    read(0, 0x600000), // and the next: 0
    { op: 'spp_enable', vm: 2 }, // 1
    { op: 'spp_set', vm: 2, gfn: 0x203, npages: 1, flags: 0, map: 0xfffffffe }, // splits block 0x200: 1
    { op: 'set_mem_attrs', vm: 2, gpa: 0x401000n, size: 0x1000n, attrs: 2n, flags: 0n }, // splits block 0x400: 1
    { op: 'vtl_call', cpu: 0 },
    { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x601, count: 1, flags: 1 }, // splits block 0x600: 1
    query,
  ];
  // RAM 8192 - 18 frames: 15 whole 2 MiB leaves and a partial tail region with a page table.
  const needed = hostEptFrames(FRAMES - 18, true) + 6 + 2 + 2 + 1 + 1 + 1 + 1; // 4 + 14 = 18

  it(`needs exactly ${needed} frames; one fewer fails vtl_protect with status 11, two fewer set_mem_attrs with -ENOMEM`, () => {
    expect(needed).toBe(18);
    const ok = outcomesWith(ops, needed, true);
    expect(ok[13]).toBe('ret 0');
    expect(ok[14]).toMatch(/ pool=0$/);
    const short1 = outcomesWith(ops, needed - 1, true);
    expect(short1.slice(0, 13)).toEqual(ok.slice(0, 13));
    expect(short1[13]).toBe('ret 11'); // HV_STATUS_INSUFFICIENT_MEMORY
    const short2 = outcomesWith(ops, needed - 2, true);
    expect(short2.slice(0, 11)).toEqual(ok.slice(0, 11));
    expect(short2[11]).toBe('ret -12');
    expect(short2[13]).toBe('ret 11');
  });

  it('teardown gives every frame back: the same VM fits again', () => {
    const life: AnyOp[] = [...ops, { op: 'vcpu_load', cpu: 0, vm: 1 }, { op: 'vm_teardown_start', vm: 2 },
      { op: 'vm_reclaim', vm: 2, gfn: 0x200 }, { op: 'vm_reclaim', vm: 2, gfn: 0x400 }, { op: 'vm_reclaim', vm: 2, gfn: 0x600 },
      { op: 'vm_teardown_finish', vm: 2 }, { op: 'hv_query', vm: 1, pfn: 0x400, gfn: 0 }];
    const outs = outcomesWith(life, needed, true);
    expect(outs.slice(-6, -1)).toEqual(['ret 0', 'ret 0', 'ret 0', 'ret 0', 'ret 0']);
    // The VM's 2 roots, 2 view-0 tables, 3 split page tables and its SPPT root: 8 frames back.
    expect(outs[outs.length - 1]).toMatch(/ pool=8$/);
  });
});
