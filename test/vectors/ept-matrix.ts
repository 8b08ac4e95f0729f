/**
 * The kvm-unit-tests EPT access matrix (ref §2.3, [KUT-vmx ept_access_test_*]) as data, plus the
 * scenario builder that reproduces one cell: the permission under test written into ONE EPT level
 * (1..4, or as a 2 MiB / 1 GiB leaf), every other level full (RWX, plus XU with MBEC); `read` and
 * `write` are CPL0 data accesses to a supervisor page; `exec_S` a CPL0 fetch from a U/S = 0 page;
 * `exec_U` a CPL3 fetch from a U/S = 1 page. Fetches run at offset 8 (the faulting GPA is gpa + 8).
 * Qualifications include GLA|XLAT = 0x180 and exclude the advanced bits 9-11 (kvm-unit-tests
 * masks them; the vectors run with caps.advExitInfo = false).
 */
import { EPT_XU, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../../src/hw/bits.js';
import type { Outcome } from '../../src/hw/outcome.js';
import { LAYOUT, ScenarioBuilder } from './builder.js';
import { type Vector, config, data, exit48, exit49, ok } from './vector.js';

/** 'ok': no exit; 'MC': EPT misconfiguration; a number: EPT-violation qualification. */
export type Expect = 'ok' | 'MC' | number;
export type MatrixAccess = 'read' | 'write' | 'exec_S' | 'exec_U';
export const MATRIX_ACCESSES: readonly MatrixAccess[] = ['read', 'write', 'exec_S', 'exec_U'];

export interface EptMatrixRow {
  /** EPT bits R W X(XS) XU. */
  r: 0 | 1; w: 0 | 1; x: 0 | 1; xu: 0 | 1;
  mbec: 'any' | 'off' | 'on';
  /** Execute-only capability (IA32_VMX_EPT_VPID_CAP bit 0). */
  xo: 'any' | 'yes' | 'no';
  read: Expect; write: Expect; exec_S: Expect; exec_U: Expect;
}

const row = (bits: string, mbec: EptMatrixRow['mbec'], xo: EptMatrixRow['xo'], read: Expect, write: Expect, exec_S: Expect, exec_U: Expect): EptMatrixRow => {
  const [r, w, x, xu] = bits.split(' ').map(Number) as [0 | 1, 0 | 1, 0 | 1, 0 | 1];
  return { r, w, x, xu, mbec, xo, read, write, exec_S, exec_U };
};

/** ref §2.3, row by row. */
export const EPT_MATRIX: readonly EptMatrixRow[] = [
  row('0 0 0 0', 'any', 'any', 0x181, 0x182, 0x184, 0x184),
  row('1 0 0 0', 'any', 'any', 'ok', 0x18a, 0x18c, 0x18c),
  row('0 1 0 0', 'any', 'any', 'MC', 'MC', 'MC', 'MC'),
  row('1 1 0 0', 'any', 'any', 'ok', 'ok', 0x19c, 0x19c),
  row('0 0 1 0', 'off', 'yes', 0x1a1, 0x1a2, 'ok', 'ok'),
  row('0 0 1 0', 'on', 'yes', 0x1a1, 0x1a2, 'ok', 0x1a4),
  row('0 0 1 0', 'any', 'no', 'MC', 'MC', 'MC', 'MC'),
  row('0 0 0 1', 'on', 'yes', 0x1c1, 0x1c2, 0x1c4, 'ok'),
  row('0 0 1 1', 'on', 'yes', 0x1e1, 0x1e2, 'ok', 'ok'),
  row('0 0 0 1', 'on', 'no', 'MC', 'MC', 'MC', 'MC'),
  row('0 0 1 1', 'on', 'no', 'MC', 'MC', 'MC', 'MC'),
  row('1 0 1 0', 'off', 'any', 'ok', 0x1aa, 'ok', 'ok'),
  row('1 0 1 0', 'on', 'any', 'ok', 0x1aa, 'ok', 0x1ac),
  row('1 0 0 1', 'on', 'any', 'ok', 0x1ca, 0x1cc, 'ok'),
  row('1 0 1 1', 'on', 'any', 'ok', 0x1ea, 'ok', 'ok'),
  row('0 1 1 0', 'any', 'any', 'MC', 'MC', 'MC', 'MC'),
  row('1 1 1 0', 'off', 'any', 'ok', 'ok', 'ok', 'ok'),
  row('1 1 1 0', 'on', 'any', 'ok', 'ok', 'ok', 0x1bc),
  row('1 1 0 1', 'on', 'any', 'ok', 'ok', 0x1dc, 'ok'),
  row('1 1 1 1', 'on', 'any', 'ok', 'ok', 'ok', 'ok'),
];

/** Where the permission under test goes: an EPT level, with the leaf at `leaf` (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB). */
export interface Placement {
  level: 1 | 2 | 3 | 4;
  leaf: 1 | 2 | 3;
}

export const PLACEMENTS: readonly Placement[] = [
  { level: 1, leaf: 1 }, { level: 2, leaf: 1 }, { level: 3, leaf: 1 }, { level: 4, leaf: 1 },
  { level: 2, leaf: 2 }, { level: 3, leaf: 3 },
];

export interface EptScenario {
  mbec: boolean;
  /** Raw EPT permission bits under test (bits 2:0 and 10). */
  perms: bigint;
  placement: Placement;
  access: MatrixAccess;
  eptAD?: boolean;
}

/** Builds the ops of one matrix cell; the last op is the access under test. */
export function buildEptScenario(s: EptScenario): { ops: ScenarioBuilder['ops']; gpa: number; la: number } {
  const b = new ScenarioBuilder({ mbec: s.mbec, eptAD: s.eptAD });
  const { level, leaf } = s.placement;
  const gpa = LAYOUT.dataGpa;
  // the leaf frame must be aligned to the leaf size; a 1 GiB leaf maps HPA 0 (frame 0 is unused)
  const hpa = leaf === 3 ? 0 : leaf === 2 ? 0x800000 : b.dataFrame();
  if (level === leaf) b.eptMap(gpa, hpa, s.perms, leaf);
  else b.eptMap(gpa, hpa, b.full, leaf).eptUpper(gpa, level, s.perms);
  const user = s.access === 'exec_U';
  const flags = BigInt(PTE_P | PTE_RW | PTE_A | PTE_D | (user ? PTE_US : 0));
  b.guestMap(LAYOUT.dataLa, gpa, flags);
  if (user) b.reg('cpl', 3);
  const fetch = s.access === 'exec_S' || s.access === 'exec_U';
  const la = LAYOUT.dataLa + (fetch ? 8 : 0);
  if (s.access === 'read') b.read(la, 8);
  else if (s.access === 'write') b.write(la, 8, 0x0123456789abcdefn);
  else b.fetch(la, 1);
  return { ops: b.ops, gpa: gpa + (fetch ? 8 : 0), la };
}

/** The outcome a cell expects. */
export function matrixOutcome(e: Expect, access: MatrixAccess, gpa: number, la: number): Outcome {
  if (e === 'ok') return access === 'read' ? data(0n) : ok;
  if (e === 'MC') return exit49(gpa);
  return exit48(e, gpa, la);
}

/** Every cell of the matrix as vectors (rows expanded over 'any', every placement, every access). */
export function eptMatrixVectors(): Vector[] {
  const out: Vector[] = [];
  for (const r of EPT_MATRIX) {
    for (const mbec of r.mbec === 'any' ? [false, true] : [r.mbec === 'on']) {
      for (const xo of r.xo === 'any' ? [true, false] : [r.xo === 'yes']) {
        const perms = BigInt(r.r | (r.w << 1) | (r.x << 2)) | (r.xu ? BigInt(EPT_XU) : 0n);
        for (const placement of PLACEMENTS) {
          for (const access of MATRIX_ACCESSES) {
            const { ops, gpa, la } = buildEptScenario({ mbec, perms, placement, access });
            out.push({
              name: `EPT ${r.r}${r.w}${r.x}${r.xu} mbec=${mbec ? 'on' : 'off'} xo=${xo} level ${placement.level} leaf ${placement.leaf} ${access}`,
              ref: '§2.3 [KUT-vmx ept_access_test_*]',
              config: config({ caps: { eptExecOnly: xo, advExitInfo: false } }),
              ops,
              expect: matrixOutcome(r[access], access, gpa, la),
            });
          }
        }
      }
    }
  }
  return out;
}
