/**
 * SPP vectors (ref §3.3 eligibility, §3.4 outcomes; docs/semantics.md "Guest access" step 6):
 * a 4 KiB EPT leaf with bit 61, SPP control on, an SPPT whose L1E gives per-sub-page write bits.
 * Expected: an allowed sub-page write succeeds; a denied one is an ordinary EPT violation with the
 * qualification of a write to a read-only page (0x18A for r--, 0x1AA for r-x) at the first byte
 * of the access in that sub-page; an invalid upper SPPT entry is exit 66 qual bit 11 = 1 (miss);
 * a reserved bit or an odd L1E bit is exit 66 qual 0 (misconfiguration); reads never consult the
 * SPPT; W = 1, R = 0, large leaves, SPP off and guest paging-structure writes are not eligible.
 */
import { PTE_A, PTE_D, PTE_P, PTE_RW } from '../../src/hw/bits.js';
import { LAYOUT, ScenarioBuilder } from './builder.js';
import { type Vector, config, data, exit48, exit66, ok } from './vector.js';

const SPP_BIT = 1n << 61n;
const GPA = LAYOUT.dataGpa;
const LA = LAYOUT.dataLa;
const GUEST_RW = BigInt(PTE_P | PTE_RW | PTE_A | PTE_D);

/** L1E with write permission for the listed sub-pages (bit 2i). */
export function subPageBits(writable: readonly number[]): bigint {
  let v = 0n;
  for (const i of writable) v |= 1n << BigInt(2 * i);
  return v;
}

interface SppSetup {
  eptPerms?: bigint;
  leafLevel?: number;
  sppOn?: boolean;
  sppBit?: boolean;
  l1e?: bigint;
  eptAD?: boolean;
}

function base(s: SppSetup = {}): ScenarioBuilder {
  const b = new ScenarioBuilder({ spp: s.sppOn ?? true, eptAD: s.eptAD });
  const level = s.leafLevel ?? 1;
  b.eptMap(GPA, level === 1 ? b.dataFrame() : 0x800000, s.eptPerms ?? 1n, level, (s.sppBit ?? true) ? SPP_BIT : 0n);
  b.guestMap(LA, GPA, GUEST_RW);
  b.spptLeaf(GPA, s.l1e ?? subPageBits([0, 2]));
  return b;
}

const cfg = config({ caps: { advExitInfo: false } });

export function sppVectors(): Vector[] {
  const v: Vector[] = [];
  const add = (name: string, b: ScenarioBuilder, expect: Vector['expect'], ref = '§3.4'): void => {
    v.push({ name, ref, config: cfg, ops: b.ops, expect });
  };
  add('write inside a writable sub-page', base().write(LA + 0x10, 8, 1n), ok);
  add('write inside a denied sub-page (r--)', base().write(LA + 0x90, 4, 1n), exit48(0x18a, GPA + 0x90, LA + 0x90));
  add('write inside a denied sub-page (r-x)', base({ eptPerms: 5n }).write(LA + 0x88, 2, 1n), exit48(0x1aa, GPA + 0x88, LA + 0x88));
  add('write crossing into a denied sub-page reports the first byte there',
    base().write(LA + 0x7c, 8, 1n), exit48(0x18a, GPA + 0x80, LA + 0x7c), '§3.4 [BOCHS-ISSUE-1]; semantics.md step 6');
  add('write crossing two writable sub-pages', base({ l1e: subPageBits([0, 1]) }).write(LA + 0x7c, 8, 1n), ok, '§3.4 [BOCHS-ISSUE-1]');
  add('read of a denied sub-page never consults the SPPT', base({ l1e: 0n }).read(LA + 0x100, 8), data(0n), '§3.3');
  add('fetch of an SPP page never consults the SPPT', base({ eptPerms: 5n, l1e: 0n }).fetch(LA + 0x100, 4), ok, '§3.3');
  add('W = 1: SPP ignored', base({ eptPerms: 3n, l1e: 0n }).write(LA + 0x100, 8, 1n), ok, '§3.3');
  add('SPP control off: ordinary violation', base({ sppOn: false }).write(LA, 8, 1n), exit48(0x18a, GPA, LA), '§3.3');
  add('no bit 61: ordinary violation', base({ sppBit: false }).write(LA, 8, 1n), exit48(0x18a, GPA, LA), '§3.3');
  add('2 MiB leaf with bit 61 is never SPP-checked', base({ leafLevel: 2 }).write(LA, 8, 1n), exit48(0x18a, GPA, LA), '§3.3');
  add('R = 0 (execute-only) is not eligible', base({ eptPerms: 4n }).write(LA, 8, 1n), exit48(0x1a2, GPA, LA), '§3.3');
  {
    const b = base();
    b.spptRaw(GPA, 2, 0n); // L2E not valid
    add('SPPT miss: exit 66, qualification bit 11 = 1', b.write(LA, 8, 1n), exit66(0x800, GPA, LA));
  }
  {
    const b = base();
    b.spptRaw(GPA, 3, BigInt(b.spptTable(GPA, 2)) | 1n | 2n); // reserved bit 1 in the L3E
    add('reserved bit in an upper SPPT entry: exit 66, qualification 0', b.write(LA, 8, 1n), exit66(0, GPA, LA));
  }
  {
    const b = base();
    b.spptRaw(GPA, 4, BigInt(b.spptTable(GPA, 3)) | 1n | (1n << 52n)); // bits 63:52 reserved
    add('reserved high bit in the L4E: exit 66, qualification 0', b.write(LA, 8, 1n), exit66(0, GPA, LA));
  }
  add('odd bit in the L1E: exit 66, qualification 0', base({ l1e: subPageBits([0]) | 2n }).write(LA, 8, 1n), exit66(0, GPA, LA), '§3.2');
  {
    // the guest PTE page is r-- with bit 61 and every sub-page writable: the A update is a
    // paging-structure write, never SPP-eligible -> RD|WR|PR|GLA at the PTE (EPT A/D off)
    const b = new ScenarioBuilder({ spp: true, eptAD: false });
    b.eptMap(GPA, b.dataFrame(), 7n);
    b.guestMap(LA, GPA, BigInt(PTE_P | PTE_RW)); // A = 0: the walk must set it
    const pt = b.guestTableGpa(LA, 1);
    b.eptMap(pt, pt, 1n, 1, SPP_BIT);
    b.spptLeaf(pt, subPageBits([...Array(32).keys()]));
    b.read(LA, 8);
    v.push({ name: 'guest A/D update to an SPP page is not eligible', ref: '§3.3 ("excludes guest paging structure")', config: cfg, ops: b.ops, expect: exit48(0x8b, b.guestEntryGpa(LA, 1), LA) });
  }
  return v;
}
