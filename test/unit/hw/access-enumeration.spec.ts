/**
 * Exhaustive enumeration of guest-paging flag combinations, as kvm-unit-tests' access.c does,
 * machine against the reference model (ref §4.5). Three products keep the default run within
 * seconds while every interacting pair of flags is enumerated in full:
 *  A. rights: PTE P/RW/US/A/D/NX x PDE RW/US/NX x PDPTE.RO x CR0.WP x EFER.NXE x SMEP x SMAP x AC
 *     x CPL x access (196,608 combinations, 122,880 legal: XD with NXE = 0 is section C's);
 *  B. keys: leaf RW/US x key x PKE x PKS x PKRU AD/WD x PKRS AD/WD x WP x CPL x access, with a
 *     denying key in the non-leaf PDE that must be ignored;
 *  C. reserved bits and large pages: bit 51, bit 36 (MAXPHYADDR 36), bit 13 with PSE, XD without
 *     NXE, at the PTE or the PDE, x P x PSE x access x twice.
 * A case passes when the runner finds no violation (outcome in the model's allowed set, memory
 * identical). The last test proves the enumeration can fail: with a planted bug it must.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../../src/hw/machine.js';
import { normalizeConfig, type MachineConfig } from '../../../src/hw/config.js';
import { ReferenceModel } from '../../../src/model/model.js';
import { runWith, type Target } from '../../../src/check/runner.js';
import { pagingCaseTrace, type PagingCase } from '../../support/paging-case.js';

const LONG = process.env.EPTFUZZ_LONG === '1';
const TARGET: Target = { makeMachine: (c) => new Machine(c), makeModel: (c) => new ReferenceModel(c) };
const ACCESSES = ['read', 'write', 'fetch'] as const;

function base(): PagingCase {
  return {
    pte: { p: true, rw: true, us: true, a: true, d: true, nx: false, rsvdBit: 0, pkey: 0 },
    pde: { p: true, rw: true, us: true, a: true, pse: false, nx: false, rsvdBit: 0, pkey: 0 },
    pdpteRo: false, cr0Wp: true, eferNx: true, smep: false, smap: false, ac: false,
    pke: false, pks: false, pkru: 0, pkrs: 0, cpl: 0, access: 'read', twice: false,
  };
}

const b = (n: number, i: number): boolean => ((n >> i) & 1) === 1;

function* rightsCases(): Generator<PagingCase> {
  for (let m = 0; m < 1 << 16; m++) {
    for (const access of ACCESSES) {
      const c = base();
      c.pte = { ...c.pte, p: b(m, 0), rw: b(m, 1), us: b(m, 2), a: b(m, 3), d: b(m, 4), nx: b(m, 5) };
      c.pde = { ...c.pde, rw: b(m, 6), us: b(m, 7), nx: b(m, 8) };
      c.pdpteRo = b(m, 9); c.cr0Wp = b(m, 10); c.eferNx = b(m, 11); c.smep = b(m, 12); c.smap = b(m, 13);
      c.ac = b(m, 14); c.cpl = b(m, 15) ? 3 : 0; c.access = access;
      // ref §4.1: XD is a reserved bit when EFER.NXE = 0; that case is section C's.
      if (!c.eferNx && (c.pte.nx || c.pde.nx)) continue;
      yield c;
    }
  }
}

function* keyCases(): Generator<PagingCase> {
  for (let m = 0; m < 1 << 13; m++) {
    for (const access of ACCESSES) {
      const c = base();
      c.pte = { ...c.pte, rw: b(m, 0), us: b(m, 1), pkey: b(m, 2) ? 1 : 0 };
      c.pde = { ...c.pde, pkey: 2 }; // key 2 denies everything; a non-leaf key must be ignored
      c.pke = b(m, 3); c.pks = b(m, 4);
      c.pkru = (b(m, 5) ? 1 << 2 : 0) | (b(m, 6) ? 1 << 3 : 0) | 0x30;
      c.pkrs = (b(m, 7) ? 1 << 2 : 0) | (b(m, 8) ? 1 << 3 : 0) | 0x30;
      c.cr0Wp = b(m, 9); c.cpl = b(m, 10) ? 3 : 0; c.smap = b(m, 11); c.ac = b(m, 12); c.access = access;
      yield c;
    }
  }
}

function* reservedCases(): Generator<PagingCase> {
  const bits = [0, 51, 36, 13];
  for (const where of ['pte', 'pde'] as const) {
    for (const rsvdBit of bits) {
      for (let m = 0; m < 1 << 5; m++) {
        for (const access of ACCESSES) {
          const c = base();
          c.pde.pse = b(m, 0);
          if (rsvdBit === 13 && !(where === 'pde' && c.pde.pse)) continue; // bit 13 is reserved only in a 2 MiB PDE
          if (where === 'pte' && c.pde.pse) continue;
          c[where] = { ...c[where], rsvdBit, p: !b(m, 1), nx: b(m, 2) } as never;
          c.eferNx = !b(m, 3); c.twice = b(m, 4); c.access = access;
          yield c;
        }
      }
    }
  }
}

function failures(cases: Iterable<PagingCase>, config: MachineConfig, stride: number, limit = 5): { run: number; failed: string[] } {
  const failed: string[] = [];
  let run = 0;
  let i = 0;
  for (const c of cases) {
    if (i++ % stride !== 0) continue;
    run++;
    const r = runWith(pagingCaseTrace(c, config), TARGET);
    if (r.first !== null && failed.length < limit) failed.push(`${r.first.invariant}: ${r.first.detail} :: ${JSON.stringify(c)}`);
  }
  return { run, failed };
}

const CONFIG = normalizeConfig({ maxPhyAddr: 36 });

describe('guest paging, enumerated (access.c)', () => {
  it('every case sets up cleanly: all ops before the access succeed (sampled)', () => {
    const bad: string[] = [];
    let i = 0;
    for (const gen of [rightsCases(), keyCases(), reservedCases()]) {
      for (const c of gen) {
        if (i++ % 97 !== 0) continue;
        const trace = pagingCaseTrace(c, CONFIG);
        const m = new Machine(trace.machine);
        const setup = trace.ops.slice(0, trace.ops.length - (c.twice ? 2 : 1));
        for (const op of setup) {
          const o = m.apply(op);
          if (o.kind !== 'ok' && bad.length < 3) bad.push(`${JSON.stringify(op, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))} -> ${o.kind}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('rights product: machine agrees with the model (all 122,880 legal cases)', () => {
    const { run, failed } = failures(rightsCases(), CONFIG, 1);
    expect(run).toBe(122_880);
    expect(failed).toEqual([]);
  }, 240_000); // 122,880 model and machine runs: a minute or two on a loaded 2-core machine

  it('protection-key product: machine agrees with the model (all 24,576)', () => {
    const { run, failed } = failures(keyCases(), CONFIG, 1);
    expect(run).toBe(24_576);
    expect(failed).toEqual([]);
  });

  it('protection-key product under the QEMU PK choice', () => {
    const cfg = normalizeConfig({ maxPhyAddr: 36, choices: { pkOnUserToSupervisor: 'qemu' } });
    const { failed } = failures(keyCases(), cfg, LONG ? 1 : 3);
    expect(failed).toEqual([]);
  });

  it('reserved-bit and large-page product: machine agrees with the model', () => {
    const { run, failed } = failures(reservedCases(), CONFIG, 1);
    expect(run).toBe(480);
    expect(failed).toEqual([]);
  });

  it('the enumeration can fail: a planted key bug is caught', () => {
    const buggy = normalizeConfig({ maxPhyAddr: 36, bugs: ['pks-wd-ignores-cr0wp'] });
    const { failed } = failures(keyCases(), buggy, 1, 1);
    expect(failed.length).toBe(1);
    expect(failed[0]).toMatch(/^fault\.(pf-error-code|exit-reason)/);
  });
});
