/**
 * KVM_SET_MEMORY_ATTRIBUTES with the RWX extension (pkvm-and-vtl.md §4): validation in the
 * kernel's order, the no-op fast path, all-or-nothing storage, then the leaves of the range are
 * recomputed and TLBs flushed before the ioctl returns (the pre-hook's zap and flush_on_ret).
 * Contract: attributes are stored per gfn (0 = absent); storage holds at most
 * MEMATTR_ENTRIES_MAX non-zero entries per VM, and a set that would exceed it fails with -ENOMEM
 * having changed nothing (xa_reserve); the planted memattr-partial-update stores a prefix first.
 */
import type { Hypervisor } from './hypervisor.js';
import { EINVAL, ENOMEM, MEMATTR_NR, MEMATTR_NW, MEMATTR_NX, MEMATTR_PRIVATE } from './consts.js';

/** Stored attribute entries per VM (the xarray's reservation limit in this model). */
export const MEMATTR_ENTRIES_MAX = 1024;
const RWX_BITS = MEMATTR_NR | MEMATTR_NW | MEMATTR_NX;
const U64 = 2n ** 64n;

/** Attribute bits a VM supports (KVM_CAP_MEMORY_ATTRIBUTES on the VM). */
export function supportedAttrs(rwx: boolean, type: 'np' | 'protected'): number {
  return (rwx ? RWX_BITS : 0) | (type === 'protected' ? MEMATTR_PRIVATE : 0);
}

/** kvm_mem_attributes_valid (§4.4): PRIVATE excludes NR/NW/NX; NR needs NW and NX. */
export function attrsValid(a: number): boolean {
  if ((a & MEMATTR_PRIVATE) !== 0 && (a & RWX_BITS) !== 0) return false;
  if ((a & MEMATTR_NR) !== 0 && (a & (MEMATTR_NW | MEMATTR_NX)) !== (MEMATTR_NW | MEMATTR_NX)) return false;
  return true;
}

export function setMemAttrs(hv: Hypervisor, vmId: number, gpa: bigint, size: bigint, attrs: bigint, flags: bigint): number {
  const vm = hv.vms.get(vmId);
  if (vm === undefined) return -EINVAL;
  // §4.1 validation order, each -EINVAL: flags; unsupported bits (+ validity); size 0 or wrap; alignment.
  if (flags !== 0n) return -EINVAL;
  const supported = BigInt(supportedAttrs(hv.opts.memattrRwx, vm.type));
  if ((attrs & ~supported) !== 0n) return -EINVAL;
  const a = Number(attrs);
  if (!attrsValid(a)) return -EINVAL;
  // Planted memattr-range-wrap: address + size is not checked for wrapping; the range
  // [address >> 12, (address + size) mod 2^64 >> 12) is then empty and the call "succeeds".
  const wraps = gpa + size >= U64;
  if (size === 0n || (wraps && !hv.bugs.memattrRangeWrap)) return -EINVAL;
  if ((gpa & 0xfffn) !== 0n || (size & 0xfffn) !== 0n) return -EINVAL;
  if (wraps) return 0;
  const first = Number(gpa >> 12n);
  const count = Number(size >> 12n);
  // Which gfns change, without walking a huge range: deletions visit the stored entries only.
  let changing: number[];
  if (a === 0) {
    changing = [];
    for (const g of vm.attrs.keys()) if (g >= first && g < first + count) changing.push(g);
    changing.sort((x, y) => x - y);
  } else {
    let stored = 0;
    for (const [g, v] of vm.attrs) if (g >= first && g < first + count && v === a) stored++;
    if (stored === count) return 0; // §4.2 no-op fast path: no invalidation
    // §4.2 all-or-nothing: reserve every entry first.
    let outside = 0;
    for (const g of vm.attrs.keys()) if (g < first || g >= first + count) outside++;
    if (outside + count > MEMATTR_ENTRIES_MAX) {
      if (!hv.bugs.memattrPartialUpdate) return -ENOMEM;
      // Planted: store entry by entry, stop at the first one that does not fit.
      const room = MEMATTR_ENTRIES_MAX - vm.attrs.size;
      let done = 0;
      for (let g = first; g < first + count && done < room; g++) {
        if (vm.attrs.get(g) === a) continue;
        if (!vm.attrs.has(g)) done++;
        vm.attrs.set(g, a);
        if (g < hv.gfnLimit) {
          hv.refreshGfn(vm, g);
          hv.touchGfn(vm, g);
        }
      }
      hv.mutations++;
      hv.flushAll();
      return -ENOMEM;
    }
    changing = [];
    for (let g = first; g < first + count; g++) if ((vm.attrs.get(g) ?? 0) !== a) changing.push(g);
  }
  if (changing.length === 0) return 0;
  let need = 0;
  const regions = new Set<number>();
  for (const g of changing) {
    if (g >= hv.gfnLimit || regions.has(Math.floor(g / 512))) continue;
    regions.add(Math.floor(g / 512));
    need += hv.splitNeed(vm, g, 1);
  }
  if (need > hv.pool.available) return -ENOMEM;
  for (const g of changing) {
    // §4.2: the zap/recompute hooks run only over gfns memslots cover, which lie in guest memory;
    // a gfn beyond it (up to 2^52 here) is stored and touches no leaf.
    const leaves = g < hv.gfnLimit;
    if (leaves) hv.splitAt(vm, g);
    if (a === 0) vm.attrs.delete(g);
    else vm.attrs.set(g, a);
    if (leaves) {
      hv.refreshGfn(vm, g);
      hv.touchGfn(vm, g);
    }
  }
  hv.mutations++;
  hv.flushAll();
  return 0;
}
