/**
 * Protection-key vectors (ref §4.3, facts from kvm-unit-tests pku.c / pks.c / access.c and the
 * KVM PKS review): key = leaf bits 62:59; PKRU for user-mode addresses (CR4.PKE), IA32_PKRS for
 * supervisor-mode addresses (CR4.PKS); AD denies data reads and writes; WD denies writes by
 * user-mode accesses or with CR0.WP = 1; fetches are never subject to keys; PK is set whenever
 * the key alone would deny, even with an ordinary violation (0x27); never for not-present or
 * RSVD faults; keys in non-leaf entries are ignored; user access to a supervisor page with a
 * denying PKRS key sets PK under 'sdm' (0x25) and not under 'qemu' (0x05).
 */
import { CR4_PAE, CR4_PKE, CR4_PKS, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../../src/hw/bits.js';
import { LAYOUT, ScenarioBuilder } from './builder.js';
import { type Vector, config, data, ok, pf } from './vector.js';

const GPA = LAYOUT.dataGpa;
const LA = LAYOUT.dataLa;
const key = (k: number): bigint => BigInt(k) << 59n;
const AD = (k: number): number => 1 << (2 * k);
const WD = (k: number): number => 2 << (2 * k);

interface PkSetup {
  user: boolean;
  rw?: boolean;
  pkey: number;
  pkru?: number;
  pkrs?: number;
  cpl?: number;
  wp?: boolean;
  cr4?: number;
  present?: boolean;
  extraHi?: bigint;
  pdeKey?: number;
}

function pk(s: PkSetup): ScenarioBuilder {
  const b = new ScenarioBuilder();
  b.eptMap(GPA, b.dataFrame(), 7n);
  const flags = ((s.present ?? true) ? PTE_P : 0) | ((s.rw ?? true) ? PTE_RW : 0) | (s.user ? PTE_US : 0) | PTE_A | PTE_D;
  b.guestMap(LA, GPA, BigInt(flags) | key(s.pkey) | (s.extraHi ?? 0n));
  if (s.pdeKey !== undefined) b.guestUpper(LA, 2, BigInt(PTE_P | PTE_RW | PTE_US | PTE_A) | key(s.pdeKey) | BigInt(b.guestTableGpa(LA, 1)));
  b.reg('cr4', s.cr4 ?? (CR4_PAE | CR4_PKE | CR4_PKS));
  if (s.pkru !== undefined) b.reg('pkru', s.pkru);
  if (s.pkrs !== undefined) b.reg('pkrs', s.pkrs);
  if (s.wp === false) b.reg('cr0', 0x80000001);
  if (s.cpl !== undefined) b.reg('cpl', s.cpl);
  return b;
}

export function pkVectors(): Vector[] {
  const sdm = config();
  const qemu = config({ choices: { pkOnUserToSupervisor: 'qemu' } });
  const v = (name: string, ref: string, b: ScenarioBuilder, expect: Vector['expect'], c = sdm): Vector => ({ name, ref, config: c, ops: b.ops, expect });
  return [
    v('CPL3 write to a read-only user page whose key has WD -> 0x27', '§4.3 [KUT-access ac_test_permissions]',
      pk({ user: true, rw: false, pkey: 1, pkru: 0x30 | WD(1), cpl: 3 }).write(LA, 4, 1n), pf(0x27, LA)),
    v('access.c PKRU 0x30|AD1<<2: CPL3 read -> P|U|PK', '§4.5 [KUT-access]',
      pk({ user: true, pkey: 1, pkru: 0x30 | AD(1), cpl: 3 }).read(LA, 8), pf(0x25, LA)),
    v('CPL0 write to a user page with WD2 and WP = 1 -> P|W|PK', '§4.3 [KUT-pku]',
      pk({ user: true, pkey: 2, pkru: WD(2) }).write(LA, 8, 1n), pf(0x23, LA)),
    v('CPL0 read of a user page with AD2 -> P|PK', '§4.3 [KUT-pku]',
      pk({ user: true, pkey: 2, pkru: AD(2) }).read(LA, 8), pf(0x21, LA)),
    v('write to a user page when PKRU WD and WP = 0 -> no fault', '§4.3 [KUT-pku]',
      pk({ user: true, pkey: 2, pkru: WD(2), wp: false }).write(LA, 8, 1n), ok),
    v('CPL3 write to a user page with WD even when WP = 0 -> P|W|U|PK', '§4.3 (WD: user-mode access or WP)',
      pk({ user: true, pkey: 2, pkru: WD(2), wp: false, cpl: 3 }).write(LA, 8, 1n), pf(0x27, LA)),
    v('write to a supervisor page when PKRS WD and WP = 0 -> no fault', '§4.3 [KUT-pks]',
      pk({ user: false, pkey: 3, pkrs: WD(3), wp: false }).write(LA, 8, 1n), ok),
    v('write to a supervisor page when PKRS WD and WP = 1 -> P|W|PK', '§4.3 [KUT-pks]',
      pk({ user: false, pkey: 3, pkrs: WD(3) }).write(LA, 8, 1n), pf(0x23, LA)),
    v('read of a supervisor page with PKRS AD -> P|PK', '§4.3 [KUT-pks]',
      pk({ user: false, pkey: 3, pkrs: AD(3) }).read(LA, 8), pf(0x21, LA)),
    v('PKRS does not apply to user pages', '§4.3 (register by address type)',
      pk({ user: true, pkey: 3, pkrs: AD(3) }).read(LA, 8), data(0n)),
    v('PKRU does not apply to supervisor pages', '§4.3 (register by address type)',
      pk({ user: false, pkey: 3, pkru: AD(3) }).read(LA, 8), data(0n)),
    v('user read of a supervisor page with PKRS AD, sdm -> 0x25', '§4.3 Divergence',
      pk({ user: false, pkey: 1, pkrs: AD(1), cpl: 3 }).read(LA, 8), pf(0x25, LA)),
    v('user read of a supervisor page with PKRS AD, qemu -> 0x05', '§4.3 Divergence',
      pk({ user: false, pkey: 1, pkrs: AD(1), cpl: 3 }).read(LA, 8), pf(0x05, LA), qemu),
    v('fetches are never subject to keys', '§4.3 ("PKRU never rejects instruction fetches")',
      pk({ user: true, pkey: 1, pkru: AD(1) | WD(1), cpl: 3 }).fetch(LA, 4), ok),
    v('a key in a non-leaf PDE is ignored', '§4.3 [KUT-access key 2 in the PDE]',
      pk({ user: true, pkey: 0, pdeKey: 2, pkru: AD(2) | WD(2), cpl: 3 }).write(LA, 8, 1n), ok),
    v('not-present: no PK', '§4.3 ("terminal page faults")',
      pk({ user: true, pkey: 1, pkru: AD(1), present: false, cpl: 3 }).read(LA, 8), pf(0x4, LA)),
    v('reserved bit: no PK', '§4.3 ("terminal page faults")',
      pk({ user: true, pkey: 1, pkru: AD(1), extraHi: 1n << 51n }).read(LA, 8), pf(0x9, LA)),
    v('CR4.PKE = 0: PKRU ignored', '§4.3',
      pk({ user: true, pkey: 1, pkru: AD(1), cr4: CR4_PAE, cpl: 3 }).read(LA, 8), data(0n)),
  ];
}
