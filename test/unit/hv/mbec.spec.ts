/**
 * MBEC-aware VTL protections (pkvm-and-vtl.md §5.1, docs/hypervisor.md "VTLs"): with `vtlMbec` the
 * hypervisor runs the VM's views with MBEC, kernel-execute (KMX) becomes EPT XS and user-execute
 * (UMX) EPT XU; a fetch from a user-mode linear address (U/S at every guest paging level) needs
 * UMX, any other fetch KMX. Without MBEC one execute bit governs both. Each checked against the
 * model and the invariants.
 */
import { describe, expect, it } from 'vitest';
import type { AnyOp } from '../../../src/trace/ops.js';
import { CTL2_MBEC } from '../../../src/hw/bits.js';
import { Hypervisor } from '../../../src/hv/hypervisor.js';
import { NP_SETUP, clean, fetch, hvConfig, rets, write } from './helpers.js';

const LA = 0x40000000; // PTE 0: user-mode page; PTE 1: supervisor-mode page; both map gfn 0x201
const T = 0x300000;
const mbecOn = hvConfig({ hv: { vtlMbec: true } });
const mbecOff = hvConfig();

/** Guest paging on cpu 0 (U/S at every upper level; the PTE decides), VTL 1 entered on cpu 1. */
const setup: AnyOp[] = [
  ...NP_SETUP,
  write(0, T, BigInt(T + 0x1000) | 7n),
  write(0, T + 0x1000 + 8, BigInt(T + 0x2000) | 7n),
  write(0, T + 0x2000, BigInt(T + 0x3000) | 7n),
  write(0, T + 0x3000, 0x201000n | 7n), // user-mode
  write(0, T + 0x3008, 0x201000n | 3n), // supervisor-mode
  { op: 'set_reg', cpu: 0, reg: 'cr3', value: BigInt(T) },
  { op: 'set_reg', cpu: 0, reg: 'cr0', value: 0x80010001n },
  { op: 'vcpu_load', cpu: 1, vm: 2 },
  { op: 'vtl_call', cpu: 1 },
];
const prot = (flags: number): AnyOp => ({ op: 'vtl_protect', cpu: 1, target: 1, gfn: 0x201, count: 1, flags });
const user = fetch(0, LA + 0x10);
const sup = fetch(0, LA + 0x1010);
const tail = (ops: AnyOp[], n: number, config = mbecOn): string[] => rets(clean(ops, config)).slice(-n);
const INTERCEPT = 'hv_exit intercept gpa=0x201010 size=4 info=0x1 exits=[48]'; // the 4-byte fetch

describe('vtlMbec: KMX and UMX apart (hv_map_gpa order: 0x4 kernel, 0x8 user)', () => {
  it('UMX only (R | 0x8): a user-mode fetch runs, a supervisor-mode fetch is a secure intercept into VTL 1', () => {
    expect(tail([...setup, prot(0x9), user, sup], 3)).toEqual(['ret 0', 'ok', INTERCEPT]);
  });
  it('KMX and UMX (R | 0xc): both run; without execute (R): both are intercepted', () => {
    expect(tail([...setup, prot(0xd), user, sup], 3)).toEqual(['ret 0', 'ok', 'ok']);
    expect(tail([...setup, prot(0x1), user], 2)).toEqual(['ret 0', INTERCEPT]);
    expect(tail([...setup, prot(0x1), sup], 2)).toEqual(['ret 0', INTERCEPT]);
  });
  it('KMX only (R | 0x4) is refused (TLFS: undefined), so a user-mode fetch can never be the one denied by KMX alone; the page keeps its rights', () => {
    expect(tail([...setup, prot(0x5), user, sup], 3)).toEqual(['ret 5', 'ok', 'ok']);
  });
  it('a later UMX-only protection of a page already fetched from takes XS away at once', () => {
    expect(tail([...setup, prot(0xd), sup, user, prot(0x9), user, sup], 4)).toEqual(['ok', 'ret 0', 'ok', INTERCEPT]);
  });
  it('the hypervisor runs VM contexts with MBEC (not the host); a user-mode fetch passes the non-leaf entries (XU set)', () => {
    const hv = new Hypervisor(mbecOn);
    for (const op of [...setup, prot(0x9), user]) hv.apply(op);
    expect(hv.machine.vcpus[0].ctls2 & CTL2_MBEC).toBe(CTL2_MBEC);
    expect(hv.machine.vcpus[1].ctls2 & CTL2_MBEC).toBe(CTL2_MBEC);
    const off = new Hypervisor(mbecOff);
    for (const op of NP_SETUP) off.apply(op);
    expect(off.machine.vcpus[0].ctls2 & CTL2_MBEC).toBe(0);
    expect(hv.machine.vcpus[0].ctls2 & CTL2_MBEC).not.toBe(0);
  });
});

describe('without vtlMbec one execute bit (KMX) governs both modes', () => {
  it('R | KMX | UMX: user- and supervisor-mode fetches run; R: both are intercepted', () => {
    expect(tail([...setup, prot(0xd), user, sup], 3, mbecOff)).toEqual(['ret 0', 'ok', 'ok']);
    expect(tail([...setup, prot(0x1), user], 2, mbecOff)).toEqual(['ret 0', INTERCEPT]);
    expect(tail([...setup, prot(0x1), sup], 2, mbecOff)).toEqual(['ret 0', INTERCEPT]);
  });
  it('UMX is ignored and KMX governs both modes (§5.1; issue 12: R | KMX was refused with 5): R | KMX runs both, R | UMX neither', () => {
    expect(tail([...setup, prot(0x5), user, sup], 3, mbecOff)).toEqual(['ret 0', 'ok', 'ok']);
    expect(tail([...setup, prot(0x9), user], 2, mbecOff)).toEqual(['ret 0', INTERCEPT]);
    expect(tail([...setup, prot(0x9), sup], 2, mbecOff)).toEqual(['ret 0', INTERCEPT]);
    expect(tail([...setup, prot(0x8), prot(0xa)], 2, mbecOff)).toEqual(['ret 0', 'ret 5']); // UMX alone is no access; W+UMX is W without R
  });
});
