/**
 * Hyper-V VSM style VTLs (pkvm-and-vtl.md §5): HvCallModifyVtlProtectionMask, VTL call and return.
 * Contract: `target` is the hypercall's TargetVtl, the VTL whose protections are set; they apply
 * to every VTL below it ("A VTL can only place protections on a lower VTL", TLFS
 * HvCallModifyVtlProtectionMask). Each protection is stored per (setting VTL, gfn), and VTL v's EPT
 * view grants the intersection of what every higher VTL allows. One change rewrites at most one
 * leaf per page in each lower view and flushes every logical processor's TLBs before the hypercall
 * returns (OpenHCL change_vtl_protections), so its cost does not depend on how many pages are
 * already protected.
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
 * (§5.1: none, R, R+X, R+W, R+W+X). §5.1 MBEC: "with MBEC off, UMX is ignored and KMX governs
 * both modes", so without MBEC the user-execute bit is dropped and kernel-execute gives X. With
 * MBEC kernel and user execute are apart: KMX gives X (EPT XS), UMX gives UX (EPT XU), and KMX=1
 * UMX=0 is refused (the TLFS leaves it undefined); the hypervisor runs the VM's views with MBEC on.
 */
export function vtlFlagsRights(flags: number, mbec: boolean, order: 'hv_map_gpa' | 'vsm_mask'): number {
  if ((flags & ~KNOWN) !== 0) return -1;
  if ((flags & HV_MAP_NO_ACCESS) !== 0) return (flags & ~HV_MAP_NO_ACCESS) === 0 ? 0 : -1;
  const r = (flags & HV_MAP_READ) !== 0;
  const w = (flags & HV_MAP_WRITE) !== 0;
  const kx = (flags & (order === 'hv_map_gpa' ? HV_MAP_EXEC_A : HV_MAP_EXEC_B)) !== 0;
  const ux = mbec && (flags & (order === 'hv_map_gpa' ? HV_MAP_EXEC_B : HV_MAP_EXEC_A)) !== 0; // ignored without MBEC
  if (!r && (w || kx || ux)) return -1;
  if (mbec && kx && !ux) return -1;
  return (r ? R : 0) | (w ? W : 0) | (kx ? X : 0) | (ux ? UX : 0);
}

/**
 * HvCallModifyVtlProtectionMask from the VTL `cpu` runs in, setting VTL `target`'s protections of
 * `count` pages from `gfn` for every VTL below `target`. A VTL1 kernel restricting VTL0 names its
 * own VTL, 1 (heki-linux/lvbs-linux `target_vtl.as_uint8 = 1`; microsoft/litebox hvcall_mm.rs
 * `set_target_vtl(HV_VTL_SECURE)` or `HvInputVtl::current()`, HV_INPUT_VTL's "caller's VTL"). Checks in OpenHCL's order (microsoft/openvmm
 * openhcl/virt_mshv_vtl/src/processor/hardware_cvm/mod.rs `modify_vtl_protection_mask`, whose
 * interface vm/hv1/hv1_hypercall/src/imp.rs documents: "`map_flags` represents the desired
 * permissions for VTLs lower than `target_vtl`. `target_vtl` must be lower or equal to the
 * current VTL. It cannot be VTL0."): a target above the caller → ACCESS_DENIED
 * (`target_vtl_no_higher`); VTL 0 → INVALID_PARAMETER; then the flags, the pages (§5.1 non-RAM,
 * `vtlNonRam`) and the table pages a split needs.
 */
export function vtlProtect(hv: Hypervisor, cpu: number, target: number, gfn: number, count: number, flags: number): number {
  const vm = hv.vmOf(cpu);
  if (vm === null) return HV_STATUS_INVALID_PARAMETER;
  const caller = hv.ctx[cpu].vtl;
  if (target > caller) return HV_STATUS_ACCESS_DENIED;
  if (target === 0) return HV_STATUS_INVALID_PARAMETER; // VTL 0 has no lower VTL to protect
  const rights = vtlFlagsRights(flags, hv.opts.vtlMbec, hv.opts.vtlExecBits);
  if (rights < 0) return HV_STATUS_INVALID_PARAMETER;
  if (count === 0) return HV_STATUS_SUCCESS;
  const full = hv.opts.vtlMbec ? RWX | UX : RWX;
  for (let g = gfn; g < gfn + count; g++) {
    if (vm.slotOf(g) === null && !vm.pages.has(g)) { // not RAM of this VM (memslots first: a few, vs a map of every page)
      return hv.opts.vtlNonRam === 'tlfs' ? HV_STATUS_INVALID_PARAMETER : HV_STATUS_OPERATION_DENIED;
    }
  }
  // VTL 0's view is always below the target: its 2 MiB leaves over the range are split first.
  if (hv.splitNeed(vm, gfn, count) > hv.pool.available) return HV_STATUS_INSUFFICIENT_MEMORY;
  const m = vm.protMap(target, true)!;
  for (let g = gfn; g < gfn + count; g++) {
    if (rights === full) m.delete(g);
    else m.set(g, rights);
    for (let v = 0; v < target; v++) {
      // One walk per page and view: split a covering 2 MiB leaf of VTL0's view, then rewrite the leaf.
      const t = vm.views[v];
      if (t.find(g * 4096)) {
        if (t.level === 2 && v === 0) {
          hv.splitAt(vm, g);
          hv.refreshLeaf(vm, v, g * 4096);
        } else hv.refreshRightsFound(vm, v, g * 4096);
      }
      if (hv.aliasBit !== 0) hv.refreshLeaf(vm, v, (g + hv.aliasGfn) * 4096);
    }
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
