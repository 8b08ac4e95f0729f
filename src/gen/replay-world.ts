/**
 * Rebuilds an approximate generator world from a trace's ops, so that a trace loaded from the
 * corpus (which carries no world) can be mutated with the same biased op makers.
 * Contract: reads only the ops; pages are the guest leaves gpt_set wrote, resolved through the
 * EPT leaves ept_set wrote (unresolved GPAs map to HPA = GPA). Never fails: an empty trace gives
 * one default page.
 */
import type { MachineConfig } from '../hw/config.js';
import { CTL2_MBEC, CTL2_SPP, PTE_PS } from '../hw/bits.js';
import type { Op } from '../trace/ops.js';
import type { Feature } from './features.js';
import type { Rng } from './rng.js';
import { World, PAGE, LARGE_PAGE, LA_BASES } from './world.js';

const ADDR_MASK = ((1n << 52n) - 1n) & ~0xfffn;

export function worldFromOps(ops: readonly Op[], config: MachineConfig, features: ReadonlySet<Feature>, rng: Rng): World {
  const w = new World(config, features, rng);
  const hpaOfGpa = new Map<number, number>();
  const sppGpas = new Set<number>();
  const leaves: Array<{ la: number; gpa: number; large: boolean }> = [];
  for (const op of ops) {
    switch (op.op) {
      case 'ept_set':
        if (op.level <= 2) hpaOfGpa.set(Math.floor(op.gpa / PAGE) * PAGE, Number(op.entry & ADDR_MASK));
        break;
      case 'gpt_set': {
        const large = op.level === 2 && (Number(op.entry & 0xffn) & PTE_PS) !== 0;
        if (op.level === 1 || large) leaves.push({ la: Math.floor(op.la / PAGE) * PAGE, gpa: Number(op.entry & ADDR_MASK), large });
        break;
      }
      case 'sppt_set':
        if (op.level === 1) sppGpas.add(Math.floor(op.gpa / PAGE) * PAGE);
        break;
      case 'set_reg':
        if (op.reg === 'cr3') w.cr3 = Number(op.value & ADDR_MASK);
        break;
      case 'set_ctls2':
        w.mbec = (op.value & CTL2_MBEC) !== 0;
        w.sppOn = (op.value & CTL2_SPP) !== 0;
        break;
      default:
        break;
    }
  }
  const seen = new Set<number>();
  for (const l of leaves) {
    if (seen.has(l.la)) continue;
    seen.add(l.la);
    const la = l.large ? Math.floor(l.la / LARGE_PAGE) * LARGE_PAGE : l.la;
    w.pages.push({ la, gpa: l.gpa, hpa: hpaOfGpa.get(l.gpa) ?? l.gpa, large: l.large, spp: sppGpas.has(l.gpa) });
  }
  if (w.pages.length === 0) w.pages.push({ la: LA_BASES[0], gpa: 0x4000_0000, hpa: 0x100_0000, large: false, spp: false });
  return w;
}
