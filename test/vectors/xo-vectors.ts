/**
 * Execute-only vectors. §5.1 native EPT execute-only: an `--x` leaf with the capability gives
 * read -> 0x1A1, write -> 0x1A2, fetch ok (with MBEC a user-mode fetch needs XU -> 0x1A4); without
 * the capability `--x` is a misconfiguration. §5.2 the KVM XO RFC as docs/semantics.md step 7
 * models it: the guest PTE bit MAXPHYADDR-1 selects the execute-only alias; a data read is #PF
 * P, a write P|W, plus U at CPL 3, CR2 = the linear address; fetches run; normal #PF reasons win;
 * other exits stay exits.
 */
import { PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../../src/hw/bits.js';
import { LAYOUT, ScenarioBuilder } from './builder.js';
import { type Vector, config, data, exit48, exit49, ok, pf } from './vector.js';

const GPA = LAYOUT.dataGpa;
const LA = LAYOUT.dataLa;

export function nativeXoVectors(): Vector[] {
  const out: Vector[] = [];
  const build = (mbec: boolean, user: boolean): ScenarioBuilder => {
    const b = new ScenarioBuilder({ mbec });
    b.eptMap(GPA, b.dataFrame(), 4n);
    b.guestMap(LA, GPA, BigInt(PTE_P | PTE_RW | PTE_A | PTE_D | (user ? PTE_US : 0)));
    if (user) b.reg('cpl', 3);
    return b;
  };
  const xo = config({ caps: { eptExecOnly: true, advExitInfo: false } });
  const noXo = config({ caps: { eptExecOnly: false, advExitInfo: false } });
  out.push({ name: '--x read', ref: '§5.1', config: xo, ops: build(false, false).read(LA, 8).ops, expect: exit48(0x1a1, GPA, LA) });
  out.push({ name: '--x write', ref: '§5.1', config: xo, ops: build(false, false).write(LA, 8, 1n).ops, expect: exit48(0x1a2, GPA, LA) });
  out.push({ name: '--x fetch', ref: '§5.1', config: xo, ops: build(false, false).fetch(LA + 8, 4).ops, expect: ok });
  out.push({ name: '--x user fetch, MBEC off', ref: '§5.1', config: xo, ops: build(false, true).fetch(LA + 8, 4).ops, expect: ok });
  out.push({ name: '--x user fetch, MBEC on: needs XU', ref: '§5.1', config: xo, ops: build(true, true).fetch(LA + 8, 4).ops, expect: exit48(0x1a4, GPA + 8, LA + 8) });
  out.push({ name: '--x supervisor fetch, MBEC on', ref: '§5.1', config: xo, ops: build(true, false).fetch(LA + 8, 4).ops, expect: ok });
  out.push({ name: '--x without the capability: misconfiguration', ref: '§5.1, §1.3 (2)', config: noXo, ops: build(false, false).fetch(LA + 8, 4).ops, expect: exit49(GPA + 8) });
  return out;
}

const MAXPHY = 46;
/** Guest PTE bit MAXPHYADDR-1: the XO alias of guest-physical space (§5.2). */
export const XO_BIT = 2 ** (MAXPHY - 1);

interface KvmXoSetup {
  cpl?: number;
  leaf?: bigint;
  aliasPerms?: bigint;
}

function kvmXo(s: KvmXoSetup = {}): ScenarioBuilder {
  const b = new ScenarioBuilder();
  const hpa = b.dataFrame();
  b.eptMap(GPA, hpa, 7n); // normal alias
  b.eptMap(GPA + XO_BIT, hpa, s.aliasPerms ?? 4n); // XO alias: execute-only (KVM_MEM_EXECONLY)
  b.guestMap(LA, GPA + XO_BIT, s.leaf ?? BigInt(PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D));
  if (s.cpl !== undefined) b.reg('cpl', s.cpl);
  return b;
}

export function kvmXoVectors(): Vector[] {
  const on = config({ maxPhyAddr: MAXPHY, kvmXo: true, caps: { advExitInfo: false } });
  const off = config({ maxPhyAddr: MAXPHY, kvmXo: false, caps: { advExitInfo: false } });
  const ref = '§5.2 [KVM-XO 05]; semantics.md step 7';
  return [
    { name: 'XO read at CPL0 -> #PF P', ref, config: on, ops: kvmXo().read(LA + 0x10, 8).ops, expect: pf(0x1, LA + 0x10) },
    { name: 'XO write at CPL0 -> #PF P|W', ref, config: on, ops: kvmXo().write(LA, 4, 1n).ops, expect: pf(0x3, LA) },
    { name: 'XO read at CPL3 -> #PF P|U', ref, config: on, ops: kvmXo({ cpl: 3 }).read(LA, 8).ops, expect: pf(0x5, LA) },
    { name: 'XO write at CPL3 -> #PF P|W|U', ref, config: on, ops: kvmXo({ cpl: 3 }).write(LA, 8, 1n).ops, expect: pf(0x7, LA) },
    { name: 'XO fetch proceeds', ref, config: on, ops: kvmXo().fetch(LA + 8, 4).ops, expect: ok },
    { name: 'XO read through the normal alias is ordinary', ref, config: on, ops: (() => { const b = kvmXo(); b.guestMap(LA, GPA, BigInt(PTE_P | PTE_RW | PTE_A | PTE_D)); return b.read(LA, 8).ops; })(), expect: data(0n) },
    {
      name: 'normal #PF reasons win (reserved bit 51)', ref, config: on,
      ops: kvmXo({ leaf: BigInt(PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D) | (1n << 51n) }).read(LA, 8).ops, expect: pf(0x9, LA),
    },
    { name: 'misconfigured XO alias stays an exit', ref, config: on, ops: kvmXo({ aliasPerms: 2n }).read(LA, 8).ops, expect: exit49(GPA + XO_BIT) },
    { name: 'without kvmXo the violation stays an exit', ref: '§5.1', config: off, ops: kvmXo().read(LA, 8).ops, expect: exit48(0x1a1, GPA + XO_BIT, LA) },
  ];
}
