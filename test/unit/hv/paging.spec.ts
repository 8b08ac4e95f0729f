/**
 * Guest paging in hv mode: guests build 4-level tables in their own memory with ordinary writes
 * (paging off), load CR3 and CR0.PG through the hypervisor, and the hardware's two-dimensional
 * walk runs. KVM XO through the stolen bit of guest PTEs (#PF codes of the RFC, CR2 = linear
 * address, U/S at CPL 3), SPP, VTL protections and attributes through real linear addresses,
 * walk exits on the tables themselves, stale cached translations; each checked against the model
 * and the invariants.
 */
import { describe, expect, it } from 'vitest';
import type { AnyOp } from '../../../src/trace/ops.js';
import { NP_SETUP, clean, fetch, hvConfig, read, rets, run, write } from './helpers.js';

const ALIAS = 2 ** 45; // XO bit = host MAXPHYADDR 46 − 1 (guest MAXPHYADDR 45)
const LA = 0x40000000; // PML4 0, PDPT 1, PD 0: PT index = page
const T = 0x300000; // tables in the memslot: PML4 at gfn 0x300, PDPT 0x301, PD 0x302, PT 0x303
const P_RW_US = 7n;
const P_RW = 3n;

/** Guest tables mapping LA + i * 4 KiB to each PTE of `ptes` (paging off: la = gpa), then paging on. */
function paging(cpu: number, ptes: bigint[]): AnyOp[] {
  return [
    write(cpu, T, BigInt(T + 0x1000) | P_RW_US),
    write(cpu, T + 0x1000 + 8, BigInt(T + 0x2000) | P_RW_US),
    write(cpu, T + 0x2000, BigInt(T + 0x3000) | P_RW_US),
    ...ptes.map((e, i) => write(cpu, T + 0x3000 + 8 * i, e)),
    { op: 'set_reg', cpu, reg: 'cr3', value: BigInt(T) },
    { op: 'set_reg', cpu, reg: 'cr0', value: 0x80010001n },
  ];
}

const setup = (ptes: bigint[]): AnyOp[] => [...NP_SETUP, ...paging(0, ptes)];
const tail = (ops: AnyOp[], n: number): string[] => rets(clean(ops)).slice(-n);
const cpl = (value: bigint): AnyOp => ({ op: 'set_reg', cpu: 0, reg: 'cpl', value });

describe('KVM XO through guest PTEs (ref §5.2)', () => {
  const xo = setup([BigInt(ALIAS + 0x210000) | P_RW_US, BigInt(ALIAS + 0x211000) | P_RW]);
  it('reads and writes of the alias are #PF P (| W) with CR2 = the linear address; fetches run', () => {
    expect(tail([...xo, read(0, LA + 0x10), write(0, LA + 0x18, 1n, 4), fetch(0, LA + 0x20), read(0, LA + 0x20)], 4)).toEqual([
      'pf code=0x1 cr2=0x40000010', 'pf code=0x3 cr2=0x40000018', 'handled exits=[48] ok', 'pf code=0x1 cr2=0x40000020',
    ]);
  });
  it('at CPL 3 the xo-pf path adds U/S on a user page; a supervisor page gives the ordinary #PF first', () => {
    expect(tail([...xo, cpl(3n), read(0, LA + 0x10), write(0, LA + 0x10, 1n), read(0, LA + 0x1010), write(0, LA + 0x1010, 1n), fetch(0, LA + 0x10)], 5)).toEqual([
      'pf code=0x5 cr2=0x40000010', 'pf code=0x7 cr2=0x40000010', 'pf code=0x5 cr2=0x40001010', 'pf code=0x7 cr2=0x40001010', 'handled exits=[48] ok',
    ]);
  });
  it('the hardware bug xo-pf-no-user-bit is caught through guest paging', () => {
    const r = run([...xo, cpl(3n), read(0, LA + 0x10)], hvConfig({ bugs: ['xo-pf-no-user-bit'] }));
    expect(r.violations.map((v) => v.invariant)).toContain('fault.pf-error-code');
  });
  it('a page-crossing read reports CR2 of the part that hit the alias', () => {
    const ops = setup([0x210000n | P_RW_US, BigInt(ALIAS + 0x211000) | P_RW_US]);
    expect(tail([...ops, read(0, LA + 0xffc)], 1)).toEqual(['pf code=0x1 cr2=0x40001000']);
  });
  it('the XO bit is an address bit to the walk; the bit above it is reserved (RSVD #PF)', () => {
    const ops = setup([BigInt(2 ** 46 + 0x210000) | P_RW_US]);
    expect(tail([...ops, read(0, LA)], 1)).toEqual(['pf code=0x9 cr2=0x40000000']);
  });
  it('CR3 at or above the guest MAXPHYADDR is #GP', () => {
    expect(tail([...NP_SETUP, { op: 'set_reg', cpu: 0, reg: 'cr3', value: BigInt(ALIAS) }, { op: 'set_reg', cpu: 0, reg: 'cr3', value: BigInt(ALIAS - 4096) }], 2)).toEqual(['gp', 'ok']);
  });
  it('xo.alias-not-readable holds through linear addresses (invariant sees the alias GPA)', () => {
    const r = run([...xo, read(0, LA + 0x10), fetch(0, LA)], hvConfig());
    expect(r.violations).toEqual([]);
  });
});

describe('SPP, VTLs and attributes through guest linear addresses', () => {
  const spp = [...setup([0x201000n | P_RW_US, 0x202000n | P_RW_US]), { op: 'spp_enable', vm: 2 } as AnyOp,
    { op: 'spp_set', vm: 2, gfn: 0x201, npages: 1, flags: 0, map: 0xfffffffe } as AnyOp];
  it('a write to a protected sub-page exits with its GPA and changes nothing; the next sub-page is written', () => {
    expect(tail([...spp, write(0, LA + 0x7c, 0x1111n), write(0, LA + 0x80, 0x2222n), read(0, LA + 0x78), read(0, LA + 0x80)], 4)).toEqual([
      'hv_exit spp gpa=0x20107c size=8 info=0x0 exits=[66,48]', 'ok', 'data 0x0', 'data 0x2222',
    ]);
  });
  it('the guest A/D update of a PTE in an SPP-protected page exits (paging-structure writes are never SPP-eligible)', () => {
    const ops = [...setup([0x201000n | P_RW_US]), { op: 'spp_enable', vm: 2 } as AnyOp,
      { op: 'spp_set', vm: 2, gfn: 0x303, npages: 1, flags: 0, map: 0xfffffffe } as AnyOp];
    const out = tail([...ops, read(0, LA)], 1)[0];
    expect(out).toMatch(/^hv_exit spp gpa=0x303000 /);
  });
  it('a VTL 1 protection stops VTL 0 at the data page and at its own page tables', () => {
    const ops = [...setup([0x201000n | P_RW_US]), { op: 'vcpu_load', cpu: 1, vm: 2 } as AnyOp, { op: 'vtl_call', cpu: 1 } as AnyOp];
    const prot = (gfn: number, flags: number): AnyOp => ({ op: 'vtl_protect', cpu: 1, target: 1, gfn, count: 1, flags });
    // The intercept goes to VTL 1, which now runs on cpu 0 (paging off there); back in VTL 0 reads run.
    expect(tail([...ops, prot(0x201, 0x1), write(0, LA + 8, 1n), read(0, LA + 8), { op: 'vtl_return', cpu: 0 }, read(0, LA + 8)], 5)).toEqual([
      'ret 0', 'hv_exit intercept gpa=0x201008 size=8 info=0x1 exits=[48]', 'hv_exit mmio gpa=0x40000008 size=8 info=0x0 exits=[48]', 'ok', 'data 0x0',
    ]);
    expect(tail([...ops, prot(0x302, 0x10000), read(0, LA)], 2)).toEqual(['ret 0', 'hv_exit intercept gpa=0x302000 size=8 info=0x1 exits=[48]']);
  });
  it('memory attributes are checked at the GPA, not the linear address', () => {
    const ops = setup([0x201000n | P_RW_US]);
    expect(tail([...ops, { op: 'set_mem_attrs', vm: 2, gpa: 0x201000n, size: 0x1000n, attrs: 2n, flags: 0n }, write(0, LA, 1n), read(0, LA)], 3)).toEqual([
      'ret 0', 'hv_exit memory_fault gpa=0x201000 size=8 info=0x2 exits=[48]', 'data 0x0',
    ]);
  });
});

describe('guest tables, TLBs and contexts', () => {
  it('A and D are set in guest memory; a changed PTE may serve stale until INVLPG', () => {
    const ops = setup([0x201000n | P_RW_US, 0x202000n | P_RW_US, BigInt(T + 0x3000) | P_RW_US]);
    expect(tail([...ops, write(0, LA + 8, 6n), read(0, LA + 0x2000), write(0, LA + 0x2000, 0x202007n), invlpgOp(LA), read(0, LA + 8)], 5)).toEqual([
      'ok', 'data 0x201067', 'ok', 'ok', 'data 0x0',
    ]);
    // Without INVLPG either the cached or the new mapping may serve; the model allows both.
    clean([...ops, write(0, LA + 8, 6n), write(0, LA + 0x2000, 0x202007n), read(0, LA + 8), read(0, LA + 8)]);
  });
  it('each VTL keeps its own registers: VTL 1 starts with paging off; VTL 0 finds its paging on return', () => {
    const ops = [...setup([0x201000n | P_RW_US]), write(0, LA + 8, 9n), { op: 'vtl_call', cpu: 0 } as AnyOp];
    expect(tail([...ops, read(0, 0x201008), { op: 'vtl_return', cpu: 0 } as AnyOp, read(0, LA + 8)], 3)).toEqual([
      'handled exits=[48] data 0x9', 'ok', 'data 0x9',
    ]);
  });
  it('CR0.PG needs PAE and LME; CR4 and EFER checks; PG off makes linear = guest-physical again', () => {
    const ops = setup([0x201000n | P_RW_US]);
    expect(tail([...ops, { op: 'set_reg', cpu: 0, reg: 'cr4', value: 0n }, { op: 'set_reg', cpu: 0, reg: 'efer', value: 0n },
      { op: 'set_reg', cpu: 0, reg: 'cr0', value: 0x10001n }, read(0, 0x201000)], 4)).toEqual(['gp', 'gp', 'ok', 'data 0x0']);
  });
});

function invlpgOp(la: number): AnyOp {
  return { op: 'invlpg', cpu: 0, la };
}
