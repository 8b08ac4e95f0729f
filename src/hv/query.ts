/**
 * State you can see (docs/hypervisor.md): the hypervisor's answer to `hv_query` / `hv_expect`,
 * read from its own structures: the host page's state and owner from its host EPT leaf, the
 * hypervisor's share, pin and FF-A records, every guest page holding it from the VMs' page
 * records, and the rights each VTL's view may have at the queried gfn.
 * Contract: changes nothing; the reference model computes the same view from its plain maps
 * (src/model/hv/model.ts `pageView`) and the runner compares the two like any outcome.
 */
import type { Hypervisor } from './hypervisor.js';
import type { GuestPageState, HostPageState, HypPageState, PageView } from '../hw/outcome.js';
import { OWNER_HOST, PS_NOPAGE, PS_OWNED, PS_SHARED_BORROWED, PS_SHARED_OWNED, R, UX, W, X } from './consts.js';

const HOST_NAMES: readonly HostPageState[] = ['NOPAGE', 'O', 'SO', 'SB'];

/** A guest record's state as the view names it. */
export function guestStateName(state: number): GuestPageState {
  return state === PS_OWNED ? 'O' : state === PS_SHARED_OWNED ? 'SO' : state === PS_SHARED_BORROWED ? 'SB' : 'none';
}

/** EPT rights in the view's encoding: R 1, W 2, X (kernel execute) 4, user execute 8. */
function viewRights(r: number): number {
  return (r & (R | W | X)) | ((r & UX) !== 0 ? 8 : 0);
}

export function pageView(hv: Hypervisor, vmId: number, pfn: number, gfn: number): PageView {
  const memory = pfn < hv.config.framesMax;
  const hs = hv.hostState(pfn);
  const annotated = hv.hostOwner;
  const guests: Array<{ vm: number; gfn: number; state: GuestPageState }> = [];
  let sharedOwner = -1;
  for (const id of [...hv.vms.keys()].sort((a, b) => a - b)) {
    const vm = hv.vms.get(id)!;
    for (const g of [...vm.pages.gfnsOf(pfn)].sort((a, b) => a - b)) {
      const rec = vm.pages.get(g)!;
      guests.push({ vm: id, gfn: g, state: guestStateName(rec.state) });
      if (rec.state === PS_SHARED_OWNED && sharedOwner < 0) sharedOwner = id;
    }
  }
  const hypOwned = hv.pool.contains(pfn) || hv.hypDonated.has(pfn) || hv.cacheOwner(pfn) !== null;
  const hyp: HypPageState = hypOwned ? 'O' : hv.hypShared.has(pfn) ? 'SB' : 'NOPAGE';
  const owner = !memory ? -1 : hs === PS_NOPAGE ? annotated : hs === PS_SHARED_BORROWED ? sharedOwner : OWNER_HOST;
  const vm = hv.vms.get(vmId);
  const rec = vm?.pages.get(gfn);
  const vtl: number[] = [];
  if (vm !== undefined) {
    for (let v = 0; v < vm.views.length; v++) vtl.push(rec === undefined ? 0 : viewRights(hv.baseRights(vm, v, gfn, false, rec)));
  }
  return {
    host: memory ? HOST_NAMES[hs] : 'NOPAGE',
    owner,
    hyp: memory ? hyp : 'NOPAGE',
    pins: hv.pinCount(pfn),
    shares: hv.shareCount(pfn),
    ffa: hv.ffaShared.has(pfn),
    guests,
    guest: rec !== undefined ? guestStateName(rec.state) : vm?.poisoned.has(gfn) === true ? 'POISON' : 'none',
    gpfn: rec === undefined ? -1 : rec.pfn,
    attrs: vm?.attrs.get(gfn) ?? 0,
    vtl,
    cache: vm !== undefined && hv.memcacheVm ? vm.cache.free.map((l) => l.length) : [],
    cacheTables: vm !== undefined && hv.memcacheVm ? vm.cache.inUse.size : 0,
    pool: hv.pool.available,
  };
}
