/**
 * Hyper-V VSM style VTLs (pkvm-and-vtl.md §5): HvCallModifyVtlProtectionMask, VTL call and return.
 * Contract: a VTL sets protections only on lower VTLs; each protection is stored per (target,
 * setter, gfn), and VTL v's EPT view grants the intersection of what every higher VTL allows.
 * One change rewrites at most one leaf per page and flushes every logical processor's TLBs
 * before the hypercall returns (OpenHCL change_vtl_protections), so its cost does not depend on
 * how many pages are already protected.
 */
import type { Hypervisor } from './hypervisor.js';
import {
  HV_MAP_EXEC_A, HV_MAP_EXEC_B, HV_MAP_NO_ACCESS, HV_MAP_READ, HV_MAP_WRITE, HV_STATUS_ACCESS_DENIED,
  HV_STATUS_INSUFFICIENT_MEMORY, HV_STATUS_INVALID_PARAMETER, HV_STATUS_OPERATION_DENIED, HV_STATUS_SUCCESS,
  R, RWX, UX, W, X,
} from './consts.js';

const KNOWN = HV_MAP_READ | HV_MAP_WRITE | HV_MAP_EXEC_A | HV_MAP_EXEC_B | HV_MAP_NO_ACCESS;

/**
 * The EPT rights a HV_MAP_GPA_FLAGS value grants, or -1 when the combination is not allowed
 * (§5.1: none, R, R+X, R+W, R+W+X; with MBEC kernel and user execute apart, KMX=1 UMX=0 refused).
 * Without MBEC the two bits must agree (X, both modes); with MBEC kernel-execute gives X (EPT XS)
 * and user-execute UX (EPT XU), and the hypervisor runs the VM's views with MBEC on.
 */
export function vtlFlagsRights(flags: number, mbec: boolean, order: 'hv_map_gpa' | 'vsm_mask'): number {
  if ((flags & ~KNOWN) !== 0) return -1;
  if ((flags & HV_MAP_NO_ACCESS) !== 0) return (flags & ~HV_MAP_NO_ACCESS) === 0 ? 0 : -1;
  const r = (flags & HV_MAP_READ) !== 0;
  const w = (flags & HV_MAP_WRITE) !== 0;
  const kx = (flags & (order === 'hv_map_gpa' ? HV_MAP_EXEC_A : HV_MAP_EXEC_B)) !== 0;
  const ux = (flags & (order === 'hv_map_gpa' ? HV_MAP_EXEC_B : HV_MAP_EXEC_A)) !== 0;
  if (!r && (w || kx || ux)) return -1;
  if (mbec ? kx && !ux : kx !== ux) return -1;
  return (r ? R : 0) | (w ? W : 0) | (kx ? X : 0) | (mbec && ux ? UX : 0);
}

export function vtlProtect(hv: Hypervisor, cpu: number, target: number, gfn: number, count: number, flags: number): number {
  const vm = hv.vmOf(cpu);
  if (vm === null) return HV_STATUS_INVALID_PARAMETER;
  const caller = hv.ctx[cpu].vtl;
  if (target >= hv.opts.vtls) return HV_STATUS_INVALID_PARAMETER;
  if (target >= caller) return HV_STATUS_ACCESS_DENIED; // "a VTL can only place protections on a lower VTL"
  const rights = vtlFlagsRights(flags, hv.opts.vtlMbec, hv.opts.vtlExecBits);
  if (rights < 0) return HV_STATUS_INVALID_PARAMETER;
  if (count === 0) return HV_STATUS_SUCCESS;
  const full = hv.opts.vtlMbec ? RWX | UX : RWX;
  for (let g = gfn; g < gfn + count; g++) {
    if (vm.slotOf(g) === null && !vm.pages.has(g)) { // not RAM of this VM (memslots first: a few, vs a map of every page)
      return hv.opts.vtlNonRam === 'tlfs' ? HV_STATUS_INVALID_PARAMETER : HV_STATUS_OPERATION_DENIED;
    }
  }
  if (target === 0 && hv.splitNeed(vm, gfn, count) > hv.pool.available) return HV_STATUS_INSUFFICIENT_MEMORY;
  const m = vm.protMap(target, caller, true)!;
  const t = vm.views[target];
  for (let g = gfn; g < gfn + count; g++) {
    if (rights === full) m.delete(g);
    else m.set(g, rights);
    // One walk per page: split a covering 2 MiB leaf of VTL0's view, then rewrite the leaf.
    if (t.find(g * 4096)) {
      if (t.level === 2 && target === 0) {
        hv.splitAt(vm, g);
        hv.refreshLeaf(vm, target, g * 4096);
      } else hv.refreshRightsFound(vm, target, g * 4096);
    }
    if (hv.aliasBit !== 0) hv.refreshLeaf(vm, target, (g + hv.aliasGfn) * 4096);
    hv.touchGfn(vm, g);
  }
  hv.mutations++;
  if (!hv.bugs.vtlProtectNoFlush) hv.flushAll();
  return HV_STATUS_SUCCESS;
}

/** HvCallVtlCall: to the next higher VTL, from CPL 0 only (#UD otherwise). */
export function vtlCall(hv: Hypervisor, cpu: number): boolean {
  const vm = hv.vmOf(cpu);
  const c = hv.ctx[cpu];
  if (vm === null || hv.machine.vcpus[cpu].cpl !== 0 || c.vtl + 1 >= hv.opts.vtls) return false;
  hv.switchTo(cpu, vm.id, c.vtl + 1);
  return true;
}

/** HvCallVtlReturn: back to the next lower VTL (#UD in VTL 0 or at CPL > 0). */
export function vtlReturn(hv: Hypervisor, cpu: number): boolean {
  const vm = hv.vmOf(cpu);
  const c = hv.ctx[cpu];
  if (vm === null || hv.machine.vcpus[cpu].cpl !== 0 || c.vtl === 0) return false;
  hv.switchTo(cpu, vm.id, c.vtl - 1);
  return true;
}
