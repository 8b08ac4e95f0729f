/**
 * Guest access-rights and #PF error-code vectors (ref §4.1, §4.2, §4.4; docs/semantics.md step 2):
 * U/S, R/W with CR0.WP, SMAP with EFLAGS.AC, SMEP, XD, reserved bits, not-present codes, the
 * I flag, permissions per walk (access.c check_effective_sp_permissions), and guest A/D results.
 */
import { CR4_PAE, CR4_SMAP, CR4_SMEP, PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW, PTE_US } from '../../src/hw/bits.js';
import { G_UPPER, LAYOUT, ScenarioBuilder } from './builder.js';
import { type Vector, config, data, ok, pf } from './vector.js';

const GPA = LAYOUT.dataGpa;
const LA = LAYOUT.dataLa;
const XD = 1n << 63n;

interface RightsSetup {
  leaf?: number;
  hi?: bigint;
  cpl?: number;
  cr0?: number;
  cr4?: number;
  efer?: number;
  ac?: boolean;
}

function page(s: RightsSetup = {}): ScenarioBuilder {
  const b = new ScenarioBuilder();
  b.eptMap(GPA, b.dataFrame(), 7n);
  b.guestMap(LA, GPA, BigInt(s.leaf ?? (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)) | (s.hi ?? 0n));
  if (s.cr4 !== undefined) b.reg('cr4', s.cr4);
  if (s.cr0 !== undefined) b.reg('cr0', s.cr0);
  if (s.efer !== undefined) b.reg('efer', s.efer);
  if (s.ac) b.reg('rflags', 1 << 18);
  if (s.cpl !== undefined) b.reg('cpl', s.cpl);
  return b;
}

const P = PTE_P, RW = PTE_RW, US = PTE_US, AD = PTE_A | PTE_D;

export function rightsVectors(): Vector[] {
  const c = config();
  const v = (name: string, ref: string, b: ScenarioBuilder, expect: Vector['expect'], cfg = c): Vector => ({ name, ref, config: cfg, ops: b.ops, expect });
  const smap = CR4_PAE | CR4_SMAP;
  const out: Vector[] = [
    v('user read of a supervisor page', '§4.2', page({ leaf: P | RW | AD, cpl: 3 }).read(LA), pf(0x5, LA)),
    v('user write to a read-only user page', '§4.2', page({ leaf: P | US | AD, cpl: 3 }).write(LA, 8, 1n), pf(0x7, LA)),
    v('user write to a read-only user page ignores WP = 0', '§4.2', page({ leaf: P | US | AD, cpl: 3, cr0: 0x80000001 }).write(LA, 8, 1n), pf(0x7, LA)),
    v('supervisor write to a read-only page, WP = 1', '§4.2', page({ leaf: P | AD }).write(LA, 8, 1n), pf(0x3, LA)),
    v('supervisor write to a read-only page, WP = 0', '§4.2', page({ leaf: P | AD, cr0: 0x80000001 }).write(LA, 8, 1n), ok),
    v('SMAP: supervisor read of a user page, AC = 0', '§4.2', page({ cr4: smap }).read(LA), pf(0x1, LA)),
    v('SMAP: supervisor read of a user page, AC = 1', '§4.2', page({ cr4: smap, ac: true }).read(LA), data(0n)),
    v('SMAP with WP = 0 still blocks a supervisor read', '§4.2 [KUT-smap check_smap_nowp]', page({ cr4: smap, cr0: 0x80000001 }).read(LA), pf(0x1, LA)),
    v('SMAP: supervisor write of a user page, AC = 0', '§4.2', page({ cr4: smap }).write(LA, 8, 1n), pf(0x3, LA)),
    v('SMAP never blocks fetches', '§4.2 [KUT-smap]', page({ cr4: smap }).fetch(LA, 4), ok),
    v('SMEP: supervisor fetch from a user page', '§4.2', page({ cr4: CR4_PAE | CR4_SMEP }).fetch(LA, 4), pf(0x11, LA)),
    v('SMEP does not affect supervisor pages', '§4.2', page({ leaf: P | RW | AD, cr4: CR4_PAE | CR4_SMEP }).fetch(LA, 4), ok),
    v('XD: supervisor fetch', '§4.2', page({ hi: XD }).fetch(LA, 4), pf(0x11, LA)),
    v('XD: user fetch', '§4.2', page({ hi: XD, cpl: 3 }).fetch(LA, 4), pf(0x15, LA)),
    v('XD with EFER.NXE = 0 is a reserved bit', '§4.2 [KUT-access pte.nx && !efer.nx]', page({ hi: XD, efer: 0x100 }).read(LA), pf(0x9, LA)),
    v('I flag needs SMEP or NXE', '§4.1', page({ leaf: 0, efer: 0x100 }).fetch(LA, 1), pf(0x0, LA)),
    v('not-present read', '§4.1', page({ leaf: 0 }).read(LA), pf(0x0, LA)),
    v('not-present write', '§4.1', page({ leaf: 0 }).write(LA, 1, 1n), pf(0x2, LA)),
    v('not-present user fetch', '§4.1', page({ leaf: 0, cpl: 3 }).fetch(LA, 1), pf(0x14, LA)),
    v('reserved bit 51 (MAXPHYADDR 46)', '§4.1 RSVD', page({ hi: 1n << 51n }).read(LA), pf(0x9, LA)),
    v('reserved bit 51 on a write at CPL3', '§4.1 RSVD', page({ hi: 1n << 51n, cpl: 3 }).write(LA, 2, 1n), pf(0xf, LA)),
  ];
  {
    const b = new ScenarioBuilder();
    b.guestMap(LA, 0x200000, BigInt(P | RW | PTE_A) | (1n << 13n), 2); // 2 MiB leaf with bit 13 set
    out.push(v('2 MiB leaf alignment bit 13', '§4.5 pde.bit13; semantics.md step 2', b.read(LA), pf(0x9, LA)));
  }
  {
    const b = new ScenarioBuilder();
    b.eptMap(GPA, b.dataFrame(), 7n).guestMap(LA, GPA, BigInt(P | RW | AD));
    b.guestUpper(LA, 4, G_UPPER | BigInt(PTE_PS));
    out.push(v('PS in a PML4E is reserved', 'semantics.md step 2', b.read(LA), pf(0x9, LA)));
  }
  {
    const b = new ScenarioBuilder();
    b.guestMap(LA, 0x40000000, BigInt(P | RW | PTE_A), 3); // 1 GiB guest page without caps.page1G
    out.push(v('PS in a PDPTE without 1 GiB pages', 'semantics.md step 2', b.read(LA), pf(0x9, LA), config({ caps: { page1G: false } })));
  }
  {
    // check_effective_sp_permissions: two PDPTEs share one PD; the read-only one faults on writes
    const b = new ScenarioBuilder();
    b.eptMap(GPA, b.dataFrame(), 7n).guestMap(LA, GPA, BigInt(P | RW | AD));
    const la2 = LA + 2 ** 30; // next PDPTE, same PML4E
    b.guestRaw(la2, 3, BigInt(b.guestTableGpa(LA, 2)) | BigInt(P | PTE_A)); // R/W = 0, same PD
    out.push(v('permissions are per walk (read-only PDPTE)', '§4.5 check_effective_sp_permissions', b.write(la2, 8, 1n), pf(0x3, la2)));
    const b2 = new ScenarioBuilder();
    b2.eptMap(GPA, b2.dataFrame(), 7n).guestMap(LA, GPA, BigInt(P | RW | AD));
    b2.guestRaw(la2, 3, BigInt(b2.guestTableGpa(LA, 2)) | BigInt(P | PTE_A));
    out.push(v('permissions are per walk (writable PDPTE)', '§4.5 check_effective_sp_permissions', b2.write(LA, 8, 1n), ok));
  }
  return out;
}

/** ref §4.4: A/D results, as (ops, PTE GPA, PDE GPA, expected PTE/PDE low bytes after the access). */
export function adScenario(access: 'read' | 'write', leafFlags: number, cpl = 0): { ops: ScenarioBuilder['ops']; pteGpa: number; pdeGpa: number } {
  const b = new ScenarioBuilder({ eptAD: false });
  b.eptMap(GPA, b.dataFrame(), 7n);
  b.guestMap(LA, GPA, BigInt(leafFlags), 1, BigInt(P | RW | US)); // upper entries with A = 0
  if (cpl) b.reg('cpl', cpl);
  if (access === 'read') b.read(LA);
  else b.write(LA, 8, 1n);
  return { ops: b.ops, pteGpa: b.guestEntryGpa(LA, 1), pdeGpa: b.guestEntryGpa(LA, 2) };
}
