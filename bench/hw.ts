/**
 * Hardware speed figures (issue: guest accesses per second on one core):
 * - baseline: a bare 4-level table walk over the same PhysMemory (entries as two Uint32 halves,
 *   64 MiB sparsely mapped), the physical limit these figures are compared to;
 * - TLB-hit path: guest reads that hit the combined TLB (goal >= 5 M/s);
 * - full 2D walk: guest walk with every level through EPT, combined TLB missing every time,
 *   once with the guest-physical TLB warm and once with every cache off (goal >= 25 % of baseline).
 */
import { Machine, A_OK } from '../src/hw/machine.js';
import { normalizeConfig } from '../src/hw/config.js';
import { PhysMemory } from '../src/hw/memory.js';
import type { Op } from '../src/trace/ops.js';
import { fmtRate, interleavedRatio, rate } from './measure.js';

const PAGES = 16384; // 64 MiB
const MASK = 0xfffff000;

/**
 * The baseline walker: the leanest honest 4-level walk (frames in a holey array indexed by frame
 * number, 32-bit arithmetic, entries as two Uint32 halves). It does no permission logic at all.
 */
function buildBareTables(): { frames: Uint32Array[]; root: number } {
  const frames: Uint32Array[] = [];
  let next = 1;
  const alloc = (): number => { frames[next] = new Uint32Array(1024); return next++; };
  const root = alloc();
  const tableAt = (table: number, idx: number): number => {
    const lo = frames[table][idx * 2];
    if (lo & 1) return lo >>> 12;
    const t = alloc();
    frames[table][idx * 2] = (t << 12) | 7;
    return t;
  };
  for (let p = 0; p < PAGES; p++) {
    const la = 0x4000_0000 + p * 4096;
    const l3 = tableAt(root, Math.floor(la / 2 ** 39) % 512);
    const l2 = tableAt(l3, Math.floor(la / 2 ** 30) % 512);
    const l1 = tableAt(l2, Math.floor(la / 2 ** 21) % 512);
    frames[l1][(Math.floor(la / 4096) % 512) * 2] = ((0x8000 + p) << 12) | 7;
  }
  return { frames, root };
}

const SPANS = [549755813888, 1073741824, 2097152, 4096];

/** The baseline: a plain loop over the four levels (the form TOOLCHAIN.md measured at ~17 M/s). */
function bareWalk(frames: Uint32Array[], root: number, la: number): number {
  let table = root;
  for (let l = 0; l < 4; l++) {
    const f = frames[table];
    const i = (Math.floor(la / SPANS[l]) & 511) << 1;
    const lo = f[i];
    if ((lo & 1) === 0 || f[i + 1] !== 0) return -1;
    table = lo >>> 12;
  }
  return table;
}

/** For reference only: the same walk unrolled with constant divisors. */
function bareWalkUnrolled(frames: Uint32Array[], root: number, la: number): number {
  // Unrolled: the divisors are constants, so nothing but loads, masks and compares remain.
  let f = frames[root];
  let i = (Math.floor(la / 549755813888) & 511) << 1;
  if ((f[i] & 1) === 0 || f[i + 1] !== 0) return -1;
  f = frames[f[i] >>> 12];
  i = (Math.floor(la / 1073741824) & 511) << 1;
  if ((f[i] & 1) === 0 || f[i + 1] !== 0) return -1;
  f = frames[f[i] >>> 12];
  i = (Math.floor(la / 2097152) & 511) << 1;
  if ((f[i] & 1) === 0 || f[i + 1] !== 0) return -1;
  f = frames[f[i] >>> 12];
  i = (Math.floor(la / 4096) & 511) << 1;
  if ((f[i] & 1) === 0 || f[i + 1] !== 0) return -1;
  return f[i] >>> 12;
}

/** The same tables copied into the machine's own sparse memory representation. */
function toPhysMemory(frames: Uint32Array[]): PhysMemory {
  const mem = new PhysMemory(1 << 17);
  frames.forEach((f, frame) => { for (let i = 0; i < 1024; i++) if (f[i] !== 0) mem.write32(frame * 4096 + i * 4, f[i]); });
  return mem;
}

/** Baseline: a bare 4-level walk (present check only) over PhysMemory, the machine's memory. */
function bareWalkPhys(mem: PhysMemory, root: number, la: number): number {
  let table = root * 4096;
  for (let l = 0; l < 4; l++) {
    const a = table + ((Math.floor(la / SPANS[l]) & 511) << 3);
    const lo = mem.read32(a);
    const hi = mem.read32(a + 4);
    if ((lo & 1) === 0) return -1;
    table = (hi & 0xfffff) * 4294967296 + ((lo & 0xfffff000) >>> 0);
  }
  return table;
}

/** A machine whose vCPU 0 maps PAGES linear pages 4 KiB-for-4 KiB, guest and EPT. */
export function buildMachine(): Machine {
  const m = new Machine(normalizeConfig({ framesMax: 1 << 17 }));
  let nextHpa = 0x2000;
  const allocHpa = (): number => { const a = nextHpa; nextHpa += 0x1000; return a; };
  const eptTables = new Map<string, number>();
  const apply = (op: Op): void => { const o = m.apply(op); if (o.kind !== 'ok') throw new Error(`setup: ${op.op} -> ${o.kind}`); };
  const mapEpt = (gpa: number, hpa: number): void => {
    for (let level = 4; level >= 2; level--) {
      const key = `${level}:${Math.floor(gpa / 2 ** (12 + 9 * (level - 1)))}`;
      if (!eptTables.has(key)) {
        const t = allocHpa();
        eptTables.set(key, t);
        apply({ op: 'ept_set', cpu: 0, gpa, level, entry: BigInt(t | 7) });
      }
    }
    apply({ op: 'ept_set', cpu: 0, gpa, level: 1, entry: BigInt(hpa) | 0x37n });
  };
  // Guest tables live at GPA 0x100000.. identity-mapped; data GPAs 0x4000000.. -> HPA +0x1000000.
  let nextGpt = 0x10_0000;
  const allocGpt = (): number => { const g = nextGpt; nextGpt += 0x1000; mapEpt(g, allocHpa()); return g; };
  const cr3 = allocGpt();
  apply({ op: 'set_reg', cpu: 0, reg: 'cr3', value: BigInt(cr3) });
  const guestTables = new Map<string, number>();
  for (let p = 0; p < PAGES; p++) {
    const la = 0x4000_0000 + p * 4096;
    for (let level = 4; level >= 2; level--) {
      const key = `${level}:${Math.floor(la / 2 ** (12 + 9 * (level - 1)))}`;
      if (!guestTables.has(key)) {
        const t = allocGpt();
        guestTables.set(key, t);
        apply({ op: 'gpt_set', cpu: 0, la, level, entry: BigInt(t | 0x67) });
      }
    }
    const gpa = 0x400_0000 + (p ^ (p >>> 9)) * 4096; // a bijection: linear pages 512 apart get GPAs in different TLB slots
    mapEpt(gpa, 0x100_0000 + p * 4096);
    apply({ op: 'gpt_set', cpu: 0, la, level: 1, entry: BigInt(gpa | 0x67) }); // P RW US A D
  }
  return m;
}

export function benchHw(): string[] {
  const lines: string[] = [];
  const { frames, root } = buildBareTables();
  const addrs = new Float64Array(4096);
  let x = 12345;
  for (let i = 0; i < addrs.length; i++) { x = (x * 1103515245 + 12345) % 2 ** 31; addrs[i] = 0x4000_0000 + (x % PAGES) * 4096; }
  let sink = 0;
  const phys = toPhysMemory(frames);
  const baseline = rate((n) => { for (let i = 0; i < n; i++) sink += bareWalkPhys(phys, root, addrs[i & 4095]); }, 1);
  const dense = rate((n) => { for (let i = 0; i < n; i++) sink += bareWalk(frames, root, addrs[i & 4095]); }, 1);

  const unrolled = rate((n) => { for (let i = 0; i < n; i++) sink += bareWalkUnrolled(frames, root, addrs[i & 4095]); }, 1);
  const m = buildMachine();
  const hitAddrs = [0x4000_0000, 0x4000_1000, 0x4000_2000, 0x4000_3000];
  const tlbHit = rate((n) => { for (let i = 0; i < n; i++) sink += m.access(0, hitAddrs[i & 3] + 8, 8, 0, 0, 0); }, 1);
  // Combined TLB off: every access walks; the guest-physical TLB stays warm (4 pages, their tables).
  const v = m.vcpus[0];
  const missAddrs = [0x4000_0000, 0x4020_0000, 0x4040_0000, 0x4060_0000];
  v.ctlb.enabled = false;
  const warm = interleavedRatio(
    (n) => { for (let i = 0; i < n; i++) sink += bareWalkPhys(phys, root, addrs[i & 4095]); },
    (n) => { for (let i = 0; i < n; i++) sink += m.access(0, missAddrs[i & 3], 8, 0, 0, 0); },
  );
  const walkWarm = warm.rateB;
  v.gtlb.enabled = false;
  const walkCold = rate((n) => { for (let i = 0; i < n; i++) sink += m.access(0, addrs[i & 4095], 8, 0, 0, 0); }, 1);
  if (m.access(0, 0x4000_0000, 8, 0, 0, 0) !== A_OK || sink === 42) throw new Error('bench setup broken');

  lines.push('hardware (one core, medians of 7 rounds)');
  lines.push(`  baseline: bare 4-level walk over PhysMemory (64 MiB sparse)  ${fmtRate(baseline)}   1.00x`);
  lines.push(`  (reference: same walk, frames in a dense JS array  ${fmtRate(dense)}   ${(dense / baseline).toFixed(2)}x; unrolled ${fmtRate(unrolled)})`);
  lines.push(`  guest read, combined-TLB hit                       ${fmtRate(tlbHit)}   ${(tlbHit / baseline).toFixed(2)}x   goal >= 5 M/s: ${tlbHit >= 5e6 ? 'met' : 'NOT met'}`);
  lines.push(`  guest read, full 2D walk, guest-physical TLB warm  ${fmtRate(walkWarm)}   ${warm.ratio.toFixed(2)}x (rounds interleaved with the baseline)   goal >= 0.25x: ${warm.ratio >= 0.25 ? 'met' : 'NOT met'}`);
  lines.push(`  guest read, full 2D walk, every cache off (24 entry reads) ${fmtRate(walkCold)}   ${(walkCold / baseline).toFixed(2)}x`);
  return lines;
}
