/**
 * Reserved and ignored EPT entry bits at every level and leaf size (ref §1.2, §1.3;
 * kvm-unit-tests ept_access_test_reserved_bits / _ignored_bits / ept_reserved_bit_at_level).
 * Contract: vectors only; the expectation of each comes from the reference's tables:
 * ignored bits change nothing; a reserved bit in a present entry is an EPT misconfiguration at the
 * data GPA; the same bit in a not-present entry is ignored and the access is a violation.
 */
import { EPT_PS } from '../../src/hw/bits.js';
import { buildEptScenario, matrixOutcome, PLACEMENTS, type MatrixAccess, type Placement } from './ept-matrix.js';
import { LAYOUT, ScenarioBuilder } from './builder.js';
import { config, type Vector } from './vector.js';
import { PTE_A, PTE_D, PTE_P, PTE_RW } from '../../src/hw/bits.js';

const REF = '§1.2, §1.3 [KUT-vmx ept_access_test_reserved_bits/_ignored_bits]';
const CFG = config({ caps: { advExitInfo: false } }); // MAXPHYADDR 46
const ACCESSES: readonly MatrixAccess[] = ['read', 'write', 'exec_S'];
const bit = (n: number): bigint => 1n << BigInt(n);

/** Bits the hardware ignores with MBEC, #VE, SPP, HLAT and SSS all off (bits 8/9 are A/D flags, ignored by translation). */
export const IGNORED_BITS: readonly number[] = [8, 9, 10, 11, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63];

function vector(name: string, placement: Placement, perms: bigint, access: MatrixAccess, expect: 'ok' | 'MC' | number, eptAD = true): Vector {
  const { ops, gpa, la } = buildEptScenario({ mbec: false, perms, placement, access, eptAD });
  return { name, ref: REF, config: CFG, ops, expect: matrixOutcome(expect, access, gpa, la) };
}

/** A leaf with an explicit memory type (buildEptScenario always uses WB). */
function memtypeVector(leaf: 1 | 2 | 3, memtype: number): Vector {
  const b = new ScenarioBuilder({});
  const gpa = LAYOUT.dataGpa;
  const hpa = leaf === 3 ? 0 : leaf === 2 ? 0x800000 : b.dataFrame();
  b.eptMap(gpa, hpa, 7n, leaf, 0n, BigInt(memtype) << 3n);
  b.guestMap(LAYOUT.dataLa, gpa, BigInt(PTE_P | PTE_RW | PTE_A | PTE_D));
  b.read(LAYOUT.dataLa, 8);
  const bad = memtype === 2 || memtype === 3 || memtype === 7;
  return { name: `EPT leaf ${leaf} memory type ${memtype}`, ref: REF, config: CFG, ops: b.ops, expect: matrixOutcome(bad ? 'MC' : 'ok', 'read', gpa, LAYOUT.dataLa) };
}

export function eptBitVectors(): Vector[] {
  const out: Vector[] = [];
  for (const p of PLACEMENTS) {
    const where = `level ${p.level} leaf ${p.leaf}`;
    for (const b of IGNORED_BITS) {
      for (const access of ACCESSES) {
        for (const eptAD of [false, true]) out.push(vector(`ignored bit ${b} at ${where} ${access} A/D ${eptAD}`, p, 7n | bit(b), access, 'ok', eptAD));
      }
    }
    // Address bits [51 : MAXPHYADDR] are reserved at every level.
    for (let b = 46; b <= 51; b++) out.push(vector(`address bit ${b} at ${where}`, p, 7n | bit(b), 'read', 'MC'));
    if (p.level === 4) {
      for (let b = 3; b <= 7; b++) out.push(vector(`PML4E bit ${b}`, p, 7n | bit(b), 'read', 'MC'));
    } else if (p.level > p.leaf) {
      for (let b = 3; b <= 6; b++) out.push(vector(`non-leaf bit ${b} at ${where}`, p, 7n | bit(b), 'read', 'MC'));
    } else if (p.leaf > 1) {
      const top = p.leaf === 2 ? 20 : 29;
      for (let b = 12; b <= top; b++) out.push(vector(`alignment bit ${b} at ${where}`, p, 7n | bit(b), 'read', 'MC'));
    }
    // Not present: reserved bits are ignored, the access is an ordinary violation (ref §1.3 (b)).
    out.push(vector(`not-present entry with bit 51 at ${where}`, p, bit(51), 'read', 0x181));
    if (p.level === 4) out.push(vector('not-present PML4E with bit 7', p, BigInt(EPT_PS), 'read', 0x181));
  }
  for (const leaf of [1, 2, 3] as const) for (let mt = 0; mt < 8; mt++) out.push(memtypeVector(leaf, mt));
  return out;
}
