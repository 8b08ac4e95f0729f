/**
 * The kvm-unit-tests guest page-walk ("paddr") matrix (ref §2.3, [KUT-vmx ept_access_test_paddr_*])
 * as data, plus its scenario builder: the EPT permission under test applies to the 4 KiB page
 * holding the guest PTE; the data page and the other guest tables are fully mapped. Violations
 * carry GLA but not XLAT, and their GPA is the guest PTE's address. Also the extra facts of the
 * same section (forced 2 MiB leaf, not-present leaf, not-present EPT PDE above the page table).
 */
import { EPT_XU, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../../src/hw/bits.js';
import { LAYOUT, ScenarioBuilder } from './builder.js';
import type { Expect, MatrixAccess } from './ept-matrix.js';
import { matrixOutcome } from './ept-matrix.js';
import { type Vector, config, data, exit48, ok } from './vector.js';

export type PtePerm = '---' | 'r--' | 'r-x' | 'rw-' | 'rwx';
export type PteAD = 'A=0' | 'A=1,D=0' | 'A=D=1' | 'A=D=0';

export interface PaddrRow {
  perm: PtePerm;
  eptAD: boolean;
  pte: PteAD;
  read: Expect;
  write: Expect;
  /** exec_S and exec_U alike. */
  exec: Expect;
}

/** ref §2.3 "Guest page-walk ('paddr') matrix", rows with "any"/"either" expanded. */
export const PADDR_MATRIX: readonly PaddrRow[] = [
  { perm: '---', eptAD: false, pte: 'A=D=1', read: 0x81, write: 0x81, exec: 0x81 },
  { perm: '---', eptAD: true, pte: 'A=D=1', read: 0x83, write: 0x83, exec: 0x83 },
  { perm: 'r--', eptAD: false, pte: 'A=0', read: 0x8b, write: 0x8b, exec: 0x8b },
  { perm: 'r--', eptAD: false, pte: 'A=1,D=0', read: 'ok', write: 0x8b, exec: 'ok' },
  { perm: 'r--', eptAD: false, pte: 'A=D=1', read: 'ok', write: 'ok', exec: 'ok' },
  ...(['A=0', 'A=1,D=0', 'A=D=1'] as const).map((pte) => ({ perm: 'r--' as const, eptAD: true, pte, read: 0x8b, write: 0x8b, exec: 0x8b })),
  { perm: 'r-x', eptAD: false, pte: 'A=0', read: 0xab, write: 0xab, exec: 0xab },
  { perm: 'r-x', eptAD: false, pte: 'A=1,D=0', read: 'ok', write: 0xab, exec: 'ok' },
  { perm: 'r-x', eptAD: false, pte: 'A=D=1', read: 'ok', write: 'ok', exec: 'ok' },
  ...(['A=0', 'A=1,D=0', 'A=D=1'] as const).map((pte) => ({ perm: 'r-x' as const, eptAD: true, pte, read: 0xab, write: 0xab, exec: 0xab })),
  ...(['rw-', 'rwx'] as const).flatMap((perm) => [false, true].map((eptAD) => ({ perm, eptAD, pte: 'A=D=0' as const, read: 'ok' as const, write: 'ok' as const, exec: 'ok' as const }))),
];

const PERM_BITS: Record<PtePerm, bigint> = { '---': 0n, 'r--': 1n, 'r-x': 5n, 'rw-': 3n, 'rwx': 7n };
const AD_BITS: Record<PteAD, number> = { 'A=0': 0, 'A=1,D=0': PTE_A, 'A=D=1': PTE_A | PTE_D, 'A=D=0': 0 };

export interface PaddrScenario {
  perm: PtePerm;
  eptAD: boolean;
  pte: PteAD;
  access: MatrixAccess;
  mbec?: boolean;
}

/** Builds one cell; the last op is the access; `pteGpa` is the guest PTE's GPA. */
export function buildPaddrScenario(s: PaddrScenario): { ops: ScenarioBuilder['ops']; pteGpa: number; la: number; gpa: number } {
  const b = new ScenarioBuilder({ eptAD: s.eptAD, mbec: s.mbec ?? false });
  const gpa = LAYOUT.dataGpa;
  b.eptMap(gpa, b.dataFrame(), b.full);
  const la = LAYOUT.dataLa;
  b.guestMap(la, gpa, BigInt(PTE_P | PTE_RW | PTE_US | AD_BITS[s.pte]));
  const ptPage = b.guestTableGpa(la, 1);
  b.eptMap(ptPage, ptPage, PERM_BITS[s.perm] | (s.mbec && s.perm.endsWith('x') ? BigInt(EPT_XU) : 0n));
  const fetchLa = la + 8;
  if (s.access === 'read') b.read(la, 8);
  else if (s.access === 'write') b.write(la, 8, 0x55n);
  else {
    if (s.access === 'exec_U') b.reg('cpl', 3);
    b.fetch(fetchLa, 1);
  }
  return { ops: b.ops, pteGpa: b.guestEntryGpa(la, 1), la: s.access.startsWith('exec') ? fetchLa : la, gpa };
}

export function paddrMatrixVectors(): Vector[] {
  const out: Vector[] = [];
  for (const r of PADDR_MATRIX) {
    for (const access of ['read', 'write', 'exec_S', 'exec_U'] as const) {
      const e = access === 'read' ? r.read : access === 'write' ? r.write : r.exec;
      const { ops, pteGpa, la } = buildPaddrScenario({ perm: r.perm, eptAD: r.eptAD, pte: r.pte, access });
      out.push({
        name: `paddr ${r.perm} eptAD=${r.eptAD} PTE ${r.pte} ${access}`,
        ref: '§2.3 paddr matrix [KUT-vmx ept_access_test_paddr_*]',
        config: config({ caps: { advExitInfo: false } }),
        ops,
        expect: e === 'ok' ? (access === 'read' ? data(0n) : ok) : exit48(e as number, pteGpa, la),
      });
    }
  }
  return out;
}

/** The extra facts of ref §2.3 (force_2m_page, ept_exit_handler_common stages 3-4). */
export function paddrExtraVectors(): Vector[] {
  const out: Vector[] = [];
  const cfg = config({ caps: { advExitInfo: false } });
  // 2 MiB forced leaf: r-- write -> WR|PR|GLA|XLAT; -w- -> misconfiguration
  for (const [perm, expect] of [[1n, 0x18a], [2n, 'MC']] as const) {
    const b = new ScenarioBuilder();
    b.eptMap(LAYOUT.dataGpa, 0x800000, perm, 2);
    b.guestMap(LAYOUT.dataLa, LAYOUT.dataGpa, BigInt(PTE_P | PTE_RW | PTE_A | PTE_D));
    b.write(LAYOUT.dataLa, 8, 1n);
    out.push({ name: `2 MiB leaf perm ${perm} write`, ref: '§2.3 [KUT-vmx ept_access_test_force_2m_page]', config: cfg, ops: b.ops, expect: matrixOutcome(expect, 'write', LAYOUT.dataGpa, LAYOUT.dataLa) });
  }
  {
    // a write to a not-present leaf -> 0x182
    const b = new ScenarioBuilder();
    b.eptMap(LAYOUT.dataGpa, b.dataFrame(), 0n);
    b.guestMap(LAYOUT.dataLa, LAYOUT.dataGpa, BigInt(PTE_P | PTE_RW | PTE_A | PTE_D));
    b.write(LAYOUT.dataLa, 4, 1n);
    out.push({ name: 'write to a not-present EPT leaf', ref: '§2.3 [KUT-vmx ept_exit_handler_common stage 3]', config: cfg, ops: b.ops, expect: exit48(0x182, LAYOUT.dataGpa, LAYOUT.dataLa) });
  }
  for (const eptAD of [false, true]) {
    // a not-present EPT PDE above the guest page table -> RD | (A/D on ? WR : 0) | GLA
    const b = new ScenarioBuilder({ eptAD });
    b.eptMap(LAYOUT.dataGpa, b.dataFrame(), b.full);
    b.guestMap(LAYOUT.dataLa, LAYOUT.dataGpa, BigInt(PTE_P | PTE_RW | PTE_A | PTE_D));
    b.eptUpper(b.guestTableGpa(LAYOUT.dataLa, 1), 2, 0n);
    b.read(LAYOUT.dataLa, 8);
    out.push({
      name: `not-present EPT PDE above the guest page table, eptAD=${eptAD}`,
      ref: '§2.3 [KUT-vmx ept_exit_handler_common stage 4]',
      config: cfg,
      ops: b.ops,
      expect: exit48(eptAD ? 0x83 : 0x81, b.guestEntryGpa(LAYOUT.dataLa, 1), LAYOUT.dataLa),
    });
  }
  return out;
}
