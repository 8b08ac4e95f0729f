/**
 * Dispatches one op in hv mode. Guest ops (read, write, fetch, set_reg, invlpg) run on the
 * context loaded on their cpu through the hypervisor's exit handling; hypervisor ops go to their
 * handlers; the hardware's privileged ops are not available to a guest or the VMM (-EPERM).
 * Contract: docs/hypervisor.md "Ops"; every branch returns exactly one outcome.
 */
import type { Hypervisor } from './hypervisor.js';
import type { AnyOp } from '../trace/ops.js';
import { OK, type AnyOutcome } from '../hw/outcome.js';
import { ACC_FETCH, ACC_READ, ACC_WRITE } from '../hw/rights.js';
import { EPERM } from './consts.js';
import { guestShareHost, guestUnshareHost, hostDonateGuest, hostDonateHyp, hostForceReclaim, hostShareFfa, hostShareGuest, hostShareHyp, hostUnshareFfa, hostUnshareGuest, hostUnshareHyp, hypDonateHost, hypPin, hypUnpin, vmReclaim } from './pkvm.js';
import { memslotSet, vcpuLoad, vmAge, vmCreate, vmTeardownFinish, vmTeardownStart, vmWriteProtect } from './kvm.js';
import { sppEnable, sppGet, sppSet } from './spp.js';
import { setMemAttrs } from './memattr.js';
import { vtlCall, vtlProtect, vtlReturn } from './vtl.js';
import { pageView } from './query.js';
import { hvTopup, hvUndonate } from './memcache.js';
import { hostMkyoung, hostRelaxPerms, hostWrprotect } from './pkvm.js';

const RET0: AnyOutcome = Object.freeze({ kind: 'ret', value: 0 });
const ret = (value: number): AnyOutcome => (value === 0 ? RET0 : { kind: 'ret', value });
const UD: AnyOutcome = Object.freeze({ kind: 'ud' });

export function applyHvOp(hv: Hypervisor, op: AnyOp): AnyOutcome {
  if ('cpu' in op && (op.cpu < 0 || op.cpu >= hv.ctx.length)) throw new RangeError(`cpu ${op.cpu} does not exist (machine has ${hv.ctx.length})`);
  switch (op.op) {
    case 'read': return hv.access(op.cpu, op.la, op.size, ACC_READ, 0n);
    case 'write': return hv.access(op.cpu, op.la, op.size, ACC_WRITE, op.value);
    case 'fetch': return hv.access(op.cpu, op.la, op.size, ACC_FETCH, 0n);
    case 'set_reg': return hv.setGuestReg(op.cpu, op.reg, op.value) ? OK : { kind: 'gp' };
    case 'invlpg':
      hv.invlpg(op.cpu, op.la);
      return OK;
    case 'invvpid': case 'invept': case 'set_eptp': case 'set_spptp': case 'set_ctls2':
    case 'phys_write': case 'phys_read': case 'ept_set': case 'gpt_set': case 'sppt_set':
      return ret(-EPERM);
    case 'vm_create': return ret(vmCreate(hv, op.vm, op.type));
    case 'vm_teardown_start': return ret(vmTeardownStart(hv, op.vm));
    case 'vm_reclaim': return ret(vmReclaim(hv, op.vm, op.gfn));
    case 'vm_teardown_finish': return ret(vmTeardownFinish(hv, op.vm));
    case 'memslot_set': return ret(memslotSet(hv, op.vm, op.slot, op.gfn, op.pfn, op.pages, op.flags));
    case 'vcpu_load': return ret(vcpuLoad(hv, op.cpu, op.vm));
    case 'vm_write_protect': return ret(vmWriteProtect(hv, op.vm, op.gfn, op.pages));
    case 'vm_age': return ret(vmAge(hv, op.vm, op.gfn, op.pages));
    case 'host_donate_hyp': return ret(hostDonateHyp(hv, op.pfn, op.nr));
    case 'hyp_donate_host': return ret(hypDonateHost(hv, op.pfn, op.nr));
    case 'host_share_hyp': return ret(hostShareHyp(hv, op.pfn));
    case 'host_unshare_hyp': return ret(hostUnshareHyp(hv, op.pfn));
    case 'host_share_guest': return ret(hostShareGuest(hv, op.vm, op.pfn, op.gfn, op.nr, op.prot));
    case 'host_unshare_guest': return ret(hostUnshareGuest(hv, op.vm, op.gfn, op.nr));
    case 'host_donate_guest': return ret(hostDonateGuest(hv, op.vm, op.pfn, op.gfn));
    case 'guest_share_host': return ret(guestShareHost(hv, op.cpu, op.gfn));
    case 'guest_unshare_host': return ret(guestUnshareHost(hv, op.cpu, op.gfn));
    case 'spp_enable': return ret(sppEnable(hv, op.vm));
    case 'spp_set': return ret(sppSet(hv, op.vm, op.gfn, op.npages, op.flags, op.map));
    case 'spp_get': return ret(sppGet(hv, op.vm, op.gfn));
    case 'set_mem_attrs': return ret(setMemAttrs(hv, op.vm, op.gpa, op.size, op.attrs, op.flags));
    case 'vtl_protect': return ret(vtlProtect(hv, op.cpu, op.target, op.gfn, op.count, op.flags));
    case 'vtl_call': return vtlCall(hv, op.cpu) ? OK : UD;
    case 'vtl_return': return vtlReturn(hv, op.cpu) ? OK : UD;
    case 'hyp_pin': return ret(hypPin(hv, op.vm, op.pfn, op.nr));
    case 'hyp_unpin': return ret(hypUnpin(hv, op.vm, op.pfn, op.nr));
    case 'host_share_ffa': return ret(hostShareFfa(hv, op.pfn, op.nr));
    case 'host_unshare_ffa': return ret(hostUnshareFfa(hv, op.pfn, op.nr));
    case 'host_force_reclaim': return ret(hostForceReclaim(hv, op.pfn));
    case 'hv_query': case 'hv_expect': return { kind: 'page', page: pageView(hv, op.vm, op.pfn, op.gfn) };
    case 'hv_topup': return ret(hvTopup(hv, op.vm, op.cpu, op.pfn, op.nr));
    case 'hv_undonate': return ret(hvUndonate(hv, op.vm, op.cpu, op.pfn, op.nr));
    case 'host_relax_perms': return ret(hostRelaxPerms(hv, op.vm, op.gfn, op.prot));
    case 'host_wrprotect': return ret(hostWrprotect(hv, op.vm, op.gfn, op.nr));
    case 'host_mkyoung': return ret(hostMkyoung(hv, op.vm, op.gfn));
  }
}
