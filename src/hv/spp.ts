/**
 * The KVM SPP API, v12 semantics (x86-memory-protection.md §3.5): enable, set and get sub-page
 * access for a gfn range, lazy SPPT construction.
 * Contract: access maps are kept per gfn (absent = all writable); SET marks existing 4 KiB leaves
 * with bit 61 (W cleared) and splits a covering 2 MiB leaf so the page gets its own; the SPPT is
 * built per 2 MiB region at the SPPT-miss exit or when a protected page is mapped at fault time,
 * its 512 leaves filled from the maps; SPP survives write protection and access tracking through
 * a saved software bit (hypervisor.ts). Returns follow the series (count of pages on SET).
 */
import type { Hypervisor } from './hypervisor.js';
import type { Vm } from './vm.js';
import { EEXIST, EFAULT, EINVAL, ENOMEM, KVM_SUBPAGE_MAX_PAGES, SPP_ALL_WRITABLE } from './consts.js';

/** The hardware L1E layout: bit 2i = sub-page i writable (§3.2); `map` has bit i for sub-page i. */
function spread16(bits: number): number {
  let out = 0;
  for (let i = 0; i < 16; i++) if ((bits >>> i) & 1) out |= 1 << (2 * i);
  return out >>> 0;
}

function writeLeaf(hv: Hypervisor, table: number, gfn: number, map: number): void {
  const a = table * 4096 + (gfn % 512) * 8;
  hv.machine.mem.write32(a, spread16(map & 0xffff));
  hv.machine.mem.write32(a + 4, spread16(map >>> 16));
}

/** The L1 table frame of gfn's region, or -1 when the region is not built. */
export function spptLeafTable(hv: Hypervisor, vm: Vm, gfn: number): number {
  if (vm.spptRoot < 0) return -1;
  const mem = hv.machine.mem;
  let table = vm.spptRoot;
  for (let level = 4; level >= 2; level--) {
    const idx = Math.floor(gfn / 512 ** (level - 1)) % 512;
    const lo = mem.read32(table * 4096 + idx * 8);
    if ((lo & 1) === 0) return -1;
    table = (lo & 0xfffff000) >>> 12;
  }
  return table;
}

/**
 * SPPT table pages `buildSpptRegion(gfn)` would allocate: the missing tables on gfn's path, the
 * leaf table of its 2 MiB region included (0 when the region is built or SPP is off).
 */
export function spptNeed(hv: Hypervisor, vm: Vm, gfn: number): number {
  if (vm.spptRoot < 0) return 0;
  const mem = hv.machine.mem;
  let table = vm.spptRoot;
  for (let level = 4; level >= 2; level--) {
    const idx = Math.floor(gfn / 512 ** (level - 1)) % 512;
    const lo = mem.read32(table * 4096 + idx * 8);
    if ((lo & 1) === 0) return level - 1;
    table = (lo & 0xfffff000) >>> 12;
  }
  return 0;
}

/**
 * Builds the SPPT path and the leaf table of gfn's 2 MiB region (leaves from the maps). False on
 * ENOMEM, with nothing written. `made` (optional) receives (entry address, frame) of each table
 * it adds, in order, so an access answered -ENOMEM can take them back (`dropSpptTables`).
 */
export function buildSpptRegion(hv: Hypervisor, vm: Vm, gfn: number, made?: number[]): boolean {
  if (vm.spptRoot < 0) return true;
  const need = spptNeed(hv, vm, gfn);
  if (need === 0) return true;
  if (need > hv.pool.available) return false;
  const mem = hv.machine.mem;
  let table = vm.spptRoot;
  for (let level = 4; level >= 2; level--) {
    const idx = Math.floor(gfn / 512 ** (level - 1)) % 512;
    const a = table * 4096 + idx * 8;
    let lo = mem.read32(a);
    if ((lo & 1) === 0) {
      const f = hv.pool.alloc();
      vm.spptFrames.add(f);
      made?.push(a, f);
      if (level === 2) {
        const base = gfn - (gfn % 512);
        for (let i = 0; i < 512; i++) writeLeaf(hv, f, base + i, vm.sppVectors.get(base + i) ?? SPP_ALL_WRITABLE);
      }
      lo = (f * 4096) | 1;
      mem.write32(a, lo >>> 0);
      mem.write32(a + 4, 0);
    }
    table = (lo & 0xfffff000) >>> 12;
  }
  hv.mutations++;
  return true;
}

/**
 * Takes back the SPPT tables `buildSpptRegion` recorded in `made` (newest first): each entry that
 * pointed at one is cleared and the frame goes back to the pool, so an access answered -ENOMEM
 * leaves the SPPT and the pool as they were. Flushing is the caller's.
 */
export function dropSpptTables(hv: Hypervisor, vm: Vm, made: readonly number[]): void {
  const mem = hv.machine.mem;
  for (let i = made.length - 2; i >= 0; i -= 2) {
    mem.write32(made[i], 0);
    mem.write32(made[i] + 4, 0);
    vm.spptFrames.delete(made[i + 1]);
    hv.pool.release(made[i + 1]);
  }
  hv.mutations++;
}

/** KVM_ENABLE_CAP(KVM_CAP_X86_SPP): allocates the SPPT root; every vCPU of the VM gets SPPTP and control bit 23. */
export function sppEnable(hv: Hypervisor, vmId: number): number {
  const vm = hv.vms.get(vmId);
  if (!hv.config.caps.spp || vm === undefined || vm.type !== 'np' || vm.dying) return -EINVAL;
  if (vm.sppEnabled) return -EEXIST;
  const root = hv.pool.alloc();
  if (root < 0) return -ENOMEM;
  vm.spptFrames.add(root);
  vm.spptRoot = root;
  vm.sppEnabled = true;
  hv.mutations++;
  for (let c = 0; c < hv.ctx.length; c++) if (hv.ctx[c].vm === vm.id) hv.loadEptp(c);
  return 0;
}

/** KVM_SUBPAGES_SET_ACCESS: every page of the range gets `map`; returns the number of pages. */
export function sppSet(hv: Hypervisor, vmId: number, gfn: number, npages: number, flags: number, map: number): number {
  const vm = hv.vms.get(vmId);
  if (vm === undefined || !vm.sppEnabled) return -EINVAL;
  if (flags !== 0) return -EINVAL;
  if (npages < 1 || npages > KVM_SUBPAGE_MAX_PAGES) return -EINVAL;
  for (let g = gfn; g < gfn + npages; g++) if (vm.slotOf(g) === null) return -EFAULT;
  const protect = map !== SPP_ALL_WRITABLE;
  if (protect && !hv.bugs.sppHugepageNotSplit && hv.splitNeed(vm, gfn, npages) > hv.pool.available) return -ENOMEM;
  for (let g = gfn; g < gfn + npages; g++) {
    // ref §3.5: a covering 2 MiB leaf cannot carry bit 61; the page needs its own 4 KiB leaf.
    if (protect && !hv.bugs.sppHugepageNotSplit) hv.splitAt(vm, g);
    if (protect) vm.sppVectors.set(g, map >>> 0);
    else vm.sppVectors.delete(g);
    const table = spptLeafTable(hv, vm, g);
    if (table >= 0) writeLeaf(hv, table, g, map >>> 0);
    hv.refreshGfn(vm, g);
    hv.touchGfn(vm, g);
  }
  hv.mutations++;
  hv.flushAll();
  return npages;
}

/** KVM_SUBPAGES_GET_ACCESS of one page: its map. */
export function sppGet(hv: Hypervisor, vmId: number, gfn: number): number {
  const vm = hv.vms.get(vmId);
  if (vm === undefined || !vm.sppEnabled) return -EINVAL;
  if (vm.slotOf(gfn) === null) return -EFAULT;
  return vm.sppVectors.get(gfn) ?? SPP_ALL_WRITABLE;
}
