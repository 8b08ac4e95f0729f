/**
 * The VSM boot pattern (issue 3 "Speed"; pkvm-and-vtl.md §5.3: boot "issues 100000s (mostly
 * memory protections)", "generally with page granularity"): 100,000 single-page VTL protection
 * changes issued from VTL1, interleaved with VTL0 guest reads, on the hypervisor model.
 * Figures: total ms for the 100,000 changes (goal < 100 ms), the cost of one change measured
 * with few and with many pages already protected (must not grow), and the same pattern on a
 * naive per-page baseline in the same run: one that, like the memslot-update approach the VSM
 * RFC calls "complex, hard to generalize and slow", recomputes every protected page's leaf on
 * each change. The JIT is warmed first on a separate machine instance (WARMUP changes), as for
 * any steady-state figure; the first, cold run of the measured instance is reported too.
 */
import { Hypervisor } from '../src/hv/hypervisor.js';
import { normalizeConfig } from '../src/hw/config.js';
import type { AnyOp } from '../src/trace/ops.js';

const CHANGES = 100_000;
const BASE_GFN = 0x1000;
const SLOT_PAGES = 131_072; // 512 MiB of guest memory
const READ_EVERY = 10; // one VTL0 read per 10 protection changes
const NAIVE_CHANGES = 2_000; // the baseline is quadratic: measure it on fewer changes, compare per change
const WARMUP = 30_000; // changes on a throwaway instance before anything is measured
const ROUNDS = 3; // the 100,000 changes are measured on this many fresh instances; the median is reported

function boot(): Hypervisor {
  const hv = new Hypervisor(normalizeConfig({ mode: 'hv', framesMax: 1 << 18, vcpus: 2, hv: { poolFrames: 4096 } }));
  const setup: AnyOp[] = [
    { op: 'vm_create', vm: 2, type: 'np' },
    { op: 'memslot_set', vm: 2, slot: 0, gfn: BASE_GFN, pfn: BASE_GFN, pages: SLOT_PAGES, flags: 0 },
    { op: 'vcpu_load', cpu: 0, vm: 2 },
    { op: 'vcpu_load', cpu: 1, vm: 2 },
    { op: 'vtl_call', cpu: 1 },
  ];
  for (const op of setup) hv.apply(op);
  // VTL0 touches all of its memory once (2 MiB leaves), as a booted kernel would have.
  for (let g = 0; g < SLOT_PAGES; g += 512) hv.apply({ op: 'read', cpu: 0, la: (BASE_GFN + g) * 4096, size: 8 });
  return hv;
}

/** The i-th change: a page spread over the slot, alternately read-only and read-write. */
function change(i: number): AnyOp {
  return { op: 'vtl_protect', cpu: 1, target: 1, gfn: BASE_GFN + ((i * 7919) % CHANGES), count: 1, flags: i % 2 === 0 ? 0x1 : 0x3 };
}

/** Runs changes [from, to) with their interleaved reads; returns ms. */
function runChanges(hv: Hypervisor, from: number, to: number, afterChange?: (hv: Hypervisor) => void): number {
  const t0 = performance.now();
  for (let i = from; i < to; i++) {
    const op = change(i);
    const r = hv.apply(op);
    if (r.kind !== 'ret' || r.value !== 0) throw new Error(`vtl_protect ${i} failed: ${JSON.stringify(r)}`);
    if (afterChange) afterChange(hv);
    if (i % READ_EVERY === 0) hv.apply({ op: 'read', cpu: 0, la: (op as { gfn: number }).gfn * 4096, size: 8 });
  }
  return performance.now() - t0;
}

/** The naive baseline's extra work per change: every protected page's VTL0 leaf recomputed. */
function naiveRecompute(hv: Hypervisor): void {
  const vm = hv.vms.get(2)!;
  const prot = vm.protMap(1, false);
  if (prot === undefined) return;
  for (const g of prot.keys()) hv.refreshLeaf(vm, 0, g * 4096);
}

export function benchVsm(): string[] {
  const out: string[] = [];
  // Cold: the very first run in this process (JIT compilation included).
  const cold = boot();
  const coldMs = runChanges(cold, 0, CHANGES);
  runChanges(boot(), 0, WARMUP);
  const rounds: Array<{ allMs: number; firstMs: number; lateMs: number; protectedPages: number }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const hv = boot();
    // The first 1,000 changes also split most 2 MiB leaves (one table page per region, once);
    // changes 1,000..2,000 are the "few pages protected" sample.
    const splitsMs = runChanges(hv, 0, 1_000);
    const firstMs = runChanges(hv, 1_000, 2_000);
    const allMs = splitsMs + firstMs + runChanges(hv, 2_000, CHANGES);
    const protectedPages = hv.vms.get(2)!.protMap(1, false)!.size;
    const lateMs = runChanges(hv, CHANGES, CHANGES + 1_000);
    rounds.push({ allMs, firstMs, lateMs, protectedPages });
  }
  rounds.sort((a, b) => a.allMs - b.allMs);
  const { allMs, firstMs, lateMs, protectedPages } = rounds[Math.floor(ROUNDS / 2)];
  out.push(`vsm: ${CHANGES.toLocaleString('en-US')} single-page VTL protection changes + ${CHANGES / READ_EVERY} VTL0 reads: ${allMs.toFixed(1)} ms (goal < 100 ms; median of ${ROUNDS} after a ${WARMUP.toLocaleString('en-US')}-change warm-up, rounds ${rounds.map((x) => x.allMs.toFixed(0)).join('/')} ms; cold first run ${coldMs.toFixed(1)} ms)`);
  out.push(`vsm: one change with ~1,500 pages protected ${(firstMs * 1000 / 1_000).toFixed(2)} us, with ${protectedPages.toLocaleString('en-US')} protected ${(lateMs * 1000 / 1_000).toFixed(2)} us (ratio ${(lateMs / firstMs).toFixed(2)}, goal ~1)`);
  const naive = boot();
  const naiveEarly = runChanges(naive, 0, NAIVE_CHANGES / 2, naiveRecompute);
  const naiveLate = runChanges(naive, NAIVE_CHANGES / 2, NAIVE_CHANGES, naiveRecompute);
  const naivePer = (naiveEarly + naiveLate) / NAIVE_CHANGES;
  const ourPer = allMs / CHANGES;
  out.push(`vsm naive baseline (recompute every protected page per change): ${NAIVE_CHANGES} changes ${(naiveEarly + naiveLate).toFixed(1)} ms, second half ${(naiveLate / naiveEarly).toFixed(1)}x the first; projected for ${CHANGES.toLocaleString('en-US')}: ${(naivePer * CHANGES * (CHANGES / NAIVE_CHANGES) / 2 / 1000).toFixed(0)} s`);
  out.push(`vsm: per change ${(ourPer * 1000).toFixed(2)} us vs naive ${(naivePer * 1000).toFixed(2)} us over its first ${NAIVE_CHANGES} (${(naivePer / ourPer).toFixed(1)}x)`);
  return out;
}

if (process.argv[1]?.endsWith('vsm.js') || process.argv[1]?.endsWith('vsm.ts')) for (const line of benchVsm()) console.log(line);
