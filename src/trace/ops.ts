/**
 * The ops of a trace: plain data, the ground truth of every replay.
 * Contract: `OP_SCHEMAS` is the single description of every op and its fields; the decoders
 * validate against it, the docs are checked against it, the generator builds from it. Addresses
 * are JavaScript numbers (at most 52 bits, exact in a double); raw 64-bit values are bigint.
 * Levels count from the leaf: 1 = PTE / EPT PTE / SPPT L1E, 2 = PDE, 3 = PDPTE, 4 = PML4E.
 */

export type Reg = 'cr0' | 'cr3' | 'cr4' | 'efer' | 'rflags' | 'cpl' | 'pkru' | 'pkrs';
export const REGS: readonly Reg[] = ['cr0', 'cr3', 'cr4', 'efer', 'rflags', 'cpl', 'pkru', 'pkrs'];

/** A guest data read of `size` bytes (1..8) at linear address `la` (any alignment). */
export interface ReadOp { op: 'read'; cpu: number; la: number; size: number }
/** A guest data write; `value`'s low `size` bytes are stored little-endian. */
export interface WriteOp { op: 'write'; cpu: number; la: number; size: number; value: bigint }
/** A guest instruction fetch of `size` bytes (1..15): every byte must be executable. */
export interface FetchOp { op: 'fetch'; cpu: number; la: number; size: number }
/**
 * MOV to CR0/CR3/CR4, WRMSR to EFER / IA32_PKRS, WRPKRU, a change of CPL or of RFLAGS
 * (only AC is kept). Invalid values give #GP and change nothing; TLB side effects follow the SDM.
 */
export interface SetRegOp { op: 'set_reg'; cpu: number; reg: Reg; value: bigint }
/** INVLPG in the guest. */
export interface InvlpgOp { op: 'invlpg'; cpu: number; la: number }
/** INVVPID on logical processor `cpu`; type 0 individual address, 1 single context, 2 all contexts, 3 single context retaining globals. */
export interface InvvpidOp { op: 'invvpid'; cpu: number; type: number; vpid: number; la: bigint }
/** INVEPT on logical processor `cpu`; type 1 single context (descriptor EPTP), 2 all contexts. */
export interface InveptOp { op: 'invept'; cpu: number; type: number; eptp: bigint }
/** VMWRITE of the EPT pointer, checked as the next VM entry would check it (failure: VM-instruction error 7, no change). */
export interface SetEptpOp { op: 'set_eptp'; cpu: number; value: bigint }
/** VMWRITE of the SPP table pointer (field 0x2030), checked as at VM entry. */
export interface SetSpptpOp { op: 'set_spptp'; cpu: number; value: bigint }
/** VMWRITE of the secondary processor-based controls; only bits 22 (MBEC) and 23 (SPP) may vary. */
export interface SetCtls2Op { op: 'set_ctls2'; cpu: number; value: number }
/** A host-physical write by the hypervisor (no TLB effect): any table entry can be written this way. */
export interface PhysWriteOp { op: 'phys_write'; hpa: number; size: number; value: bigint }
/** A host-physical read by the hypervisor; the outcome carries the value. */
export interface PhysReadOp { op: 'phys_read'; hpa: number; size: number }
/**
 * Writes the raw EPT entry at `level` on the path of `gpa`, starting from `cpu`'s EPTP.
 * Every entry above `level` must already be a present non-leaf entry, else the outcome is `noent`.
 */
export interface EptSetOp { op: 'ept_set'; cpu: number; gpa: number; level: number; entry: bigint }
/**
 * Writes the raw guest paging entry at `level` on the path of `la`, starting from `cpu`'s CR3.
 * Table addresses are GPAs resolved through EPT without permission checks, A/D updates or TLBs;
 * a missing upper table or an untranslatable GPA gives `noent`.
 */
export interface GptSetOp { op: 'gpt_set'; cpu: number; la: number; level: number; entry: bigint }
/** Writes the raw SPPT entry at `level` on the path of `gpa`, starting from `cpu`'s SPPTP. */
export interface SpptSetOp { op: 'sppt_set'; cpu: number; gpa: number; level: number; entry: bigint }

export type HwOp =
  | ReadOp | WriteOp | FetchOp | SetRegOp | InvlpgOp | InvvpidOp | InveptOp
  | SetEptpOp | SetSpptpOp | SetCtls2Op | PhysWriteOp | PhysReadOp | EptSetOp | GptSetOp | SpptSetOp;

/** Every op a trace may carry: hardware ops (bare and hv mode) and hypervisor ops (hv mode only). */
export type Op = HwOp | HvOp;
export type OpName = Op['op'];
export type HwOpName = HwOp['op'];

/** Field kinds: how a field is validated and printed. */
export type FieldKind =
  | { kind: 'int'; min: number; max: number } //  small integer, printed in decimal
  | { kind: 'addr'; max: number } //              address (number), printed in hex
  | { kind: 'u64' } //                            raw 64-bit value (bigint), printed in hex
  | { kind: 'u32' } //                            32-bit value (number), printed in hex
  | { kind: 'enum'; values: readonly string[] };

export interface OpSchema {
  name: OpName;
  /** Field order is the canonical order in every form. */
  fields: ReadonlyArray<{ name: string; type: FieldKind; doc: string }>;
  doc: string;
}

const CPU = { name: 'cpu', type: { kind: 'int', min: 0, max: 7 } as FieldKind, doc: 'vCPU / logical processor index' };
const LA = { name: 'la', type: { kind: 'addr', max: 2 ** 48 - 1 } as FieldKind, doc: 'guest linear address, bits 47:0 (bits 63:48 are the sign extension of bit 47)' };
const GPA = { name: 'gpa', type: { kind: 'addr', max: 2 ** 52 - 1 } as FieldKind, doc: 'guest-physical address' };
const HPA = { name: 'hpa', type: { kind: 'addr', max: 2 ** 52 - 1 } as FieldKind, doc: 'host-physical address' };
const LEVEL = { name: 'level', type: { kind: 'int', min: 1, max: 4 } as FieldKind, doc: '1 = PTE .. 4 = PML4E' };
const DATA_SIZE = { name: 'size', type: { kind: 'int', min: 1, max: 8 } as FieldKind, doc: 'bytes: 1..8, any alignment' };

/** The hardware ops' schemas (every mode). */
export const HW_OP_SCHEMAS: readonly OpSchema[] = [
  { name: 'read', fields: [CPU, LA, DATA_SIZE], doc: 'guest data read' },
  { name: 'write', fields: [CPU, LA, DATA_SIZE, { name: 'value', type: { kind: 'u64' }, doc: 'little-endian data' }], doc: 'guest data write' },
  { name: 'fetch', fields: [CPU, LA, { name: 'size', type: { kind: 'int', min: 1, max: 15 }, doc: 'instruction length in bytes' }], doc: 'guest instruction fetch' },
  { name: 'set_reg', fields: [CPU, { name: 'reg', type: { kind: 'enum', values: REGS }, doc: 'register' }, { name: 'value', type: { kind: 'u64' }, doc: 'new value' }], doc: 'register write (MOV CR, WRMSR, WRPKRU, CPL, RFLAGS.AC)' },
  { name: 'invlpg', fields: [CPU, LA], doc: 'INVLPG' },
  { name: 'invvpid', fields: [CPU, { name: 'type', type: { kind: 'int', min: 0, max: 15 }, doc: 'INVVPID type' }, { name: 'vpid', type: { kind: 'int', min: 0, max: 0xffff }, doc: 'VPID' }, { name: 'la', type: { kind: 'u64' }, doc: 'descriptor linear address (full 64 bits: may be non-canonical)' }], doc: 'INVVPID' },
  { name: 'invept', fields: [CPU, { name: 'type', type: { kind: 'int', min: 0, max: 15 }, doc: 'INVEPT type' }, { name: 'eptp', type: { kind: 'u64' }, doc: 'descriptor EPTP' }], doc: 'INVEPT' },
  { name: 'set_eptp', fields: [CPU, { name: 'value', type: { kind: 'u64' }, doc: 'EPT pointer' }], doc: 'VMWRITE EPTP' },
  { name: 'set_spptp', fields: [CPU, { name: 'value', type: { kind: 'u64' }, doc: 'SPPT pointer' }], doc: 'VMWRITE SPPTP' },
  { name: 'set_ctls2', fields: [CPU, { name: 'value', type: { kind: 'u32' }, doc: 'secondary controls' }], doc: 'VMWRITE secondary processor-based controls' },
  { name: 'phys_write', fields: [HPA, DATA_SIZE, { name: 'value', type: { kind: 'u64' }, doc: 'little-endian data' }], doc: 'host-physical write' },
  { name: 'phys_read', fields: [HPA, DATA_SIZE], doc: 'host-physical read' },
  { name: 'ept_set', fields: [CPU, GPA, LEVEL, { name: 'entry', type: { kind: 'u64' }, doc: 'raw EPT entry' }], doc: 'set an EPT entry on the path of gpa' },
  { name: 'gpt_set', fields: [CPU, LA, LEVEL, { name: 'entry', type: { kind: 'u64' }, doc: 'raw guest paging entry' }], doc: 'set a guest paging entry on the path of la' },
  { name: 'sppt_set', fields: [CPU, GPA, LEVEL, { name: 'entry', type: { kind: 'u64' }, doc: 'raw SPPT entry' }], doc: 'set an SPPT entry on the path of gpa' },
];

// ---------------------------------------------------------------------------------------------
// Hypervisor ops (hv mode, docs/hypervisor.md): KVM ioctls issued by the VMM, pKVM hypercalls,
// Hyper-V VSM hypercalls. Part of `Op` and `OP_SCHEMAS`; the validator (validate.ts) refuses them
// in a bare-mode trace, and the hardware ops the hypervisor refuses in a hv-mode trace.

/** KVM_CREATE_VM with a chosen handle (2.. = pKVM owner id); `type` np = non-protected, protected = pVM. */
export interface VmCreateOp { op: 'vm_create'; vm: number; type: 'np' | 'protected' }
/** __pkvm_start_teardown_vm: the VM must exist, not be loaded on any cpu, and not be dying. */
export interface VmTeardownStartOp { op: 'vm_teardown_start'; vm: number }
/** __pkvm_reclaim_dying_guest_page: returns one guest page to the host (zeroed if it was private). */
export interface VmReclaimOp { op: 'vm_reclaim'; vm: number; gfn: number }
/** __pkvm_finalize_teardown_vm: frees the VM's tables; every guest page must have been reclaimed. */
export interface VmTeardownFinishOp { op: 'vm_teardown_finish'; vm: number }
/** KVM_SET_USER_MEMORY_REGION: add (pages > 0, new slot), move (new gfn), flags change, delete (pages = 0). */
export interface MemslotSetOp { op: 'memslot_set'; vm: number; slot: number; gfn: number; pfn: number; pages: number; flags: number }
/** Loads `vm` (1 = the host) on logical processor `cpu`; later guest ops on `cpu` run in it. */
export interface VcpuLoadOp { op: 'vcpu_load'; cpu: number; vm: number }
/** Dirty-logging write protection (KVM_CLEAR_DIRTY_LOG): every mapped leaf in the range loses W. */
export interface VmWriteProtectOp { op: 'vm_write_protect'; vm: number; gfn: number; pages: number }
/** Access tracking (mmu-notifier clear_young): every mapped leaf in the range becomes not-present, rights saved. */
export interface VmAgeOp { op: 'vm_age'; vm: number; gfn: number; pages: number }
/** __pkvm_host_donate_hyp(pfn, nr). */
export interface HostDonateHypOp { op: 'host_donate_hyp'; pfn: number; nr: bigint }
/** __pkvm_hyp_donate_host(pfn, nr). */
export interface HypDonateHostOp { op: 'hyp_donate_host'; pfn: number; nr: bigint }
/** __pkvm_host_share_hyp(pfn). */
export interface HostShareHypOp { op: 'host_share_hyp'; pfn: number }
/** __pkvm_host_unshare_hyp(pfn). */
export interface HostUnshareHypOp { op: 'host_unshare_hyp'; pfn: number }
/** __pkvm_host_share_guest(pfn, gfn, nr, prot) to a non-protected VM; nr is 1 or 512 (one 2 MiB block). */
export interface HostShareGuestOp { op: 'host_share_guest'; vm: number; pfn: number; gfn: number; nr: number; prot: number }
/** __pkvm_host_unshare_guest(gfn, nr). */
export interface HostUnshareGuestOp { op: 'host_unshare_guest'; vm: number; gfn: number; nr: number }
/** __pkvm_host_donate_guest(pfn, gfn) to a protected VM. */
export interface HostDonateGuestOp { op: 'host_donate_guest'; vm: number; pfn: number; gfn: number }
/** The protected guest loaded on `cpu` shares its page `gfn` with the host (MEM_SHARE). */
export interface GuestShareHostOp { op: 'guest_share_host'; cpu: number; gfn: number }
/** The protected guest loaded on `cpu` takes back a page it shared (MEM_UNSHARE). */
export interface GuestUnshareHostOp { op: 'guest_unshare_host'; cpu: number; gfn: number }
/** KVM_ENABLE_CAP(KVM_CAP_X86_SPP) on a VM. */
export interface SppEnableOp { op: 'spp_enable'; vm: number }
/** KVM_SUBPAGES_SET_ACCESS: `npages` pages from `gfn`, every page given the 32-bit map `map` (bit i = sub-page i writable). */
export interface SppSetOp { op: 'spp_set'; vm: number; gfn: number; npages: number; flags: number; map: number }
/** KVM_SUBPAGES_GET_ACCESS of one page: the return value is its map. */
export interface SppGetOp { op: 'spp_get'; vm: number; gfn: number }
/** KVM_SET_MEMORY_ATTRIBUTES {address, size, attributes, flags}. */
export interface SetMemAttrsOp { op: 'set_mem_attrs'; vm: number; gpa: bigint; size: bigint; attrs: bigint; flags: bigint }
/**
 * HvCallModifyVtlProtectionMask from the VTL `cpu` runs in, for `count` pages from `gfn`: sets the
 * protections of VTL `target` (the ABI's TargetVtl: at most the caller's VTL, not 0) for every VTL
 * below it. A VTL1 kernel restricting VTL0 passes 1. Schema 1 named the protected VTL instead.
 */
export interface VtlProtectOp { op: 'vtl_protect'; cpu: number; target: number; gfn: number; count: number; flags: number }
/** HvCallVtlCall: `cpu` enters the next higher VTL (#UD unless CPL 0 and a higher VTL exists). */
export interface VtlCallOp { op: 'vtl_call'; cpu: number }
/** HvCallVtlReturn: `cpu` returns to the next lower VTL (#UD in VTL 0 or at CPL > 0). */
export interface VtlReturnOp { op: 'vtl_return'; cpu: number }

/**
 * Reports the state of host page `pfn` and of guest page (`vm`, `gfn`) as a `page` outcome
 * (docs/hypervisor.md "State you can see"); changes nothing. `vm` 1 (the host) has no guest part.
 */
export interface HvQueryOp { op: 'hv_query'; vm: number; pfn: number; gfn: number }
/**
 * `hv_query` plus an assertion written in the trace: the state must be the one given (host state,
 * owner, hyp state, pins, shares, guest state at gfn, VTL 0's rights there), else the invariant
 * hv.expected-state fires.
 */
export interface HvExpectOp {
  op: 'hv_expect'; vm: number; pfn: number; gfn: number;
  host: 'O' | 'SO' | 'SB' | 'NOPAGE'; owner: number; hyp: 'O' | 'SB' | 'NOPAGE'; pins: number; shares: number;
  guest: 'none' | 'O' | 'SO' | 'SB' | 'POISON'; vtl0: number;
}

/** hyp_pin_shared_mem on behalf of `vm`'s hypervisor state (1: the hypervisor's own): one pin on each of `nr` pages shared with the hypervisor. */
export interface HypPinOp { op: 'hyp_pin'; vm: number; pfn: number; nr: number }
/** hyp_unpin_shared_mem: drops one pin `vm` holds on each of `nr` pages. */
export interface HypUnpinOp { op: 'hyp_unpin'; vm: number; pfn: number; nr: number }
/** __pkvm_host_share_ffa(pfn, nr): the host shares pages with the secure world (arm64 profile). */
export interface HostShareFfaOp { op: 'host_share_ffa'; pfn: number; nr: bigint }
/** __pkvm_host_unshare_ffa(pfn, nr). */
export interface HostUnshareFfaOp { op: 'host_unshare_ffa'; pfn: number; nr: bigint }
/** __pkvm_host_force_reclaim_page_guest(phys): takes a private page back from a protected guest, poisoning its gfn (arm64 profile). */
export interface HostForceReclaimOp { op: 'host_force_reclaim'; pfn: number }

/**
 * Host tops up the memory cache of vCPU `cpu` of `vm` with `nr` pages from `pfn` (hv.memcache
 * 'vm'): each page is donated to the hypervisor and pushed on that vCPU's cache
 * (topup_hyp_memcache on vcpu->arch.pkvm_memcache + admit_host_page).
 */
export interface HvTopupOp { op: 'hv_topup'; vm: number; cpu: number; pfn: number; nr: number }
/** Host takes back `nr` unused pages from the memory cache of vCPU `cpu` of `vm` (the hypervisor undonates them: __pkvm_hyp_donate_host). */
export interface HvUndonateOp { op: 'hv_undonate'; vm: number; cpu: number; pfn: number; nr: number }
/** __pkvm_host_relax_perms_guest(gfn, prot) on the loaded vCPU of np VM `vm` (arm64 profile). */
export interface HostRelaxPermsOp { op: 'host_relax_perms'; vm: number; gfn: number; prot: number }
/** __pkvm_host_wrprotect_guest(gfn, nr) by VM handle (arm64 profile). */
export interface HostWrprotectOp { op: 'host_wrprotect'; vm: number; gfn: number; nr: number }
/** __pkvm_host_mkyoung_guest(gfn) on the loaded vCPU of np VM `vm` (arm64 profile). */
export interface HostMkyoungOp { op: 'host_mkyoung'; vm: number; gfn: number }

export type HvOp =
  | HvTopupOp | HvUndonateOp | HostRelaxPermsOp | HostWrprotectOp | HostMkyoungOp
  | HvQueryOp | HvExpectOp | HypPinOp | HypUnpinOp | HostShareFfaOp | HostUnshareFfaOp | HostForceReclaimOp
  | VmCreateOp | VmTeardownStartOp | VmReclaimOp | VmTeardownFinishOp | MemslotSetOp | VcpuLoadOp
  | VmWriteProtectOp | VmAgeOp | HostDonateHypOp | HypDonateHostOp | HostShareHypOp | HostUnshareHypOp
  | HostShareGuestOp | HostUnshareGuestOp | HostDonateGuestOp | GuestShareHostOp | GuestUnshareHostOp
  | SppEnableOp | SppSetOp | SppGetOp | SetMemAttrsOp | VtlProtectOp | VtlCallOp | VtlReturnOp;
export type HvOpName = HvOp['op'];
/** Kept for the hv layer's signatures: the same union as `Op`. */
export type AnyOp = Op;

export interface HvOpSchema extends OpSchema {
  name: HvOpName;
}

/** The vCPU of a VM whose memory cache an op names: its logical processor index (a VM's vCPU i runs on cpu i). */
const VCPU_OF_VM = { name: 'cpu', type: { kind: 'int', min: 0, max: 7 } as FieldKind, doc: "the VM's vCPU (logical processor index) whose memory cache is meant" };
const VM = { name: 'vm', type: { kind: 'int', min: 1, max: 255 } as FieldKind, doc: 'VM handle = pKVM owner id (1 = host, 2.. guests)' };
const GFN = { name: 'gfn', type: { kind: 'addr', max: 2 ** 40 - 1 } as FieldKind, doc: 'guest frame number (gpa >> 12)' };
const PFN = { name: 'pfn', type: { kind: 'addr', max: 2 ** 40 - 1 } as FieldKind, doc: 'host frame number (hpa >> 12)' };
const PAGES = { name: 'pages', type: { kind: 'int', min: 0, max: 1 << 20 } as FieldKind, doc: 'number of 4 KiB pages' };
const NR64 = { name: 'nr', type: { kind: 'u64' } as FieldKind, doc: 'page count (64-bit: a wrapping pfn + nr must be refused)' };

export const HV_OP_SCHEMAS: readonly HvOpSchema[] = [
  { name: 'vm_create', fields: [VM, { name: 'type', type: { kind: 'enum', values: ['np', 'protected'] }, doc: 'np: non-protected VM; protected: pVM' }], doc: 'create a VM' },
  { name: 'vm_teardown_start', fields: [VM], doc: 'start tearing a VM down' },
  { name: 'vm_reclaim', fields: [VM, GFN], doc: 'reclaim one page of a dying VM' },
  { name: 'vm_teardown_finish', fields: [VM], doc: 'finish tearing a VM down' },
  { name: 'memslot_set', fields: [VM, { name: 'slot', type: { kind: 'int', min: 0, max: 31 }, doc: 'memslot id' }, GFN, PFN, PAGES, { name: 'flags', type: { kind: 'int', min: 0, max: 255 }, doc: 'KVM_MEM_* flags: 2 READONLY, 4 EXECONLY' }], doc: 'KVM_SET_USER_MEMORY_REGION' },
  { name: 'vcpu_load', fields: [CPU, VM], doc: 'run a VM (1 = host) on a logical processor' },
  { name: 'vm_write_protect', fields: [VM, GFN, PAGES], doc: 'dirty-logging write protection of a gfn range' },
  { name: 'vm_age', fields: [VM, GFN, PAGES], doc: 'access tracking (clear young) of a gfn range' },
  { name: 'host_donate_hyp', fields: [PFN, NR64], doc: 'pKVM: host donates pages to the hypervisor' },
  { name: 'hyp_donate_host', fields: [PFN, NR64], doc: 'pKVM: hypervisor returns donated pages to the host' },
  { name: 'host_share_hyp', fields: [PFN], doc: 'pKVM: host shares a page with the hypervisor' },
  { name: 'host_unshare_hyp', fields: [PFN], doc: 'pKVM: host takes back a page shared with the hypervisor' },
  { name: 'host_share_guest', fields: [VM, PFN, GFN, { name: 'nr', type: { kind: 'int', min: 0, max: 1024 }, doc: '1 or 512' }, { name: 'prot', type: { kind: 'int', min: 0, max: 15 }, doc: 'EPT rights: 1 R, 2 W, 4 X' }], doc: 'pKVM: host shares pages with a non-protected guest' },
  { name: 'host_unshare_guest', fields: [VM, GFN, { name: 'nr', type: { kind: 'int', min: 0, max: 1024 }, doc: '1 or 512' }], doc: 'pKVM: host unshares pages from a non-protected guest' },
  { name: 'host_donate_guest', fields: [VM, PFN, GFN], doc: 'pKVM: host donates a page to a protected guest' },
  { name: 'guest_share_host', fields: [CPU, GFN], doc: 'pKVM: protected guest shares a page with the host' },
  { name: 'guest_unshare_host', fields: [CPU, GFN], doc: 'pKVM: protected guest unshares a page from the host' },
  { name: 'spp_enable', fields: [VM], doc: 'KVM_ENABLE_CAP(KVM_CAP_X86_SPP)' },
  { name: 'spp_set', fields: [VM, GFN, { name: 'npages', type: { kind: 'int', min: 0, max: 1024 }, doc: 'pages, 1..512' }, { name: 'flags', type: { kind: 'u32' }, doc: 'must be 0' }, { name: 'map', type: { kind: 'u32' }, doc: 'bit i = sub-page i writable' }], doc: 'KVM_SUBPAGES_SET_ACCESS' },
  { name: 'spp_get', fields: [VM, GFN], doc: 'KVM_SUBPAGES_GET_ACCESS (one page)' },
  { name: 'set_mem_attrs', fields: [VM, { name: 'gpa', type: { kind: 'u64' }, doc: 'address' }, { name: 'size', type: { kind: 'u64' }, doc: 'bytes' }, { name: 'attrs', type: { kind: 'u64' }, doc: '1 NR, 2 NW, 4 NX, 8 PRIVATE' }, { name: 'flags', type: { kind: 'u64' }, doc: 'must be 0' }], doc: 'KVM_SET_MEMORY_ATTRIBUTES' },
  { name: 'vtl_protect', fields: [CPU, { name: 'target', type: { kind: 'int', min: 0, max: 15 }, doc: 'TargetVtl: the VTL whose protections (for the VTLs below it) are set' }, GFN, { name: 'count', type: { kind: 'int', min: 0, max: 1 << 20 }, doc: 'pages' }, { name: 'flags', type: { kind: 'u32' }, doc: 'HV_MAP_GPA_* flags' }], doc: 'HvCallModifyVtlProtectionMask' },
  { name: 'vtl_call', fields: [CPU], doc: 'HvCallVtlCall' },
  { name: 'vtl_return', fields: [CPU], doc: 'HvCallVtlReturn' },
  { name: 'hyp_pin', fields: [VM, PFN, { name: 'nr', type: { kind: 'int', min: 0, max: 1024 }, doc: 'pages' }], doc: 'pKVM: the hypervisor pins pages the host shared with it (for VM vm; 1 = its own)' },
  { name: 'hyp_unpin', fields: [VM, PFN, { name: 'nr', type: { kind: 'int', min: 0, max: 1024 }, doc: 'pages' }], doc: 'pKVM: the hypervisor drops pins' },
  { name: 'host_share_ffa', fields: [PFN, NR64], doc: 'pKVM (arm64): host shares pages with the secure world through FF-A' },
  { name: 'host_unshare_ffa', fields: [PFN, NR64], doc: 'pKVM (arm64): host takes back pages shared through FF-A' },
  { name: 'host_force_reclaim', fields: [PFN], doc: 'pKVM (arm64): force-reclaim a private page of a protected guest (its gfn becomes POISON)' },
  { name: 'hv_query', fields: [VM, PFN, GFN], doc: 'report the state of a host page and a guest page (changes nothing)' },
  {
    name: 'hv_expect',
    fields: [
      VM, PFN, GFN,
      { name: 'host', type: { kind: 'enum', values: ['O', 'SO', 'SB', 'NOPAGE'] }, doc: "the host page's state" },
      { name: 'owner', type: { kind: 'int', min: 0, max: 255 }, doc: 'its one owner: 0 hyp, 1 host, 2.. a VM' },
      { name: 'hyp', type: { kind: 'enum', values: ['O', 'SB', 'NOPAGE'] }, doc: "the hypervisor's state of the page" },
      { name: 'pins', type: { kind: 'int', min: 0, max: 65535 }, doc: "the hypervisor's pin count (refcount)" },
      { name: 'shares', type: { kind: 'int', min: 0, max: 1 << 20 }, doc: 'np-guest leaves borrowing the page' },
      { name: 'guest', type: { kind: 'enum', values: ['none', 'O', 'SO', 'SB', 'POISON'] }, doc: "the VM's state at gfn" },
      { name: 'vtl0', type: { kind: 'int', min: 0, max: 15 }, doc: "the EPT rights VTL 0's view may have at gfn (R 1, W 2, X 4, user X 8; 0 for the host)" },
    ],
    doc: 'hv_query, and assert the state it reports',
  },
  // Appended (coverage layout: an op's index is its position in OP_SCHEMAS).
  { name: 'hv_topup', fields: [VM, VCPU_OF_VM, PFN, { name: 'nr', type: { kind: 'int', min: 0, max: 1024 }, doc: 'pages' }], doc: "pKVM (memcache vm): host donates pages into the memory cache of a VM's vCPU" },
  { name: 'hv_undonate', fields: [VM, VCPU_OF_VM, PFN, { name: 'nr', type: { kind: 'int', min: 0, max: 1024 }, doc: 'pages' }], doc: "pKVM (memcache vm): host takes back unused pages of the memory cache of a VM's vCPU" },
  { name: 'host_relax_perms', fields: [VM, GFN, { name: 'prot', type: { kind: 'int', min: 0, max: 15 }, doc: 'rights to add: 1 R, 2 W, 4 X' }], doc: 'pKVM (arm64): relax the rights of a page shared with a np guest (loaded vCPU)' },
  { name: 'host_wrprotect', fields: [VM, GFN, { name: 'nr', type: { kind: 'int', min: 0, max: 1024 }, doc: '1 or 512' }], doc: 'pKVM (arm64): write-protect pages shared with a np guest' },
  { name: 'host_mkyoung', fields: [VM, GFN], doc: 'pKVM (arm64): mark a np guest page young again (loaded vCPU)' },
];

export const HV_OP_NAMES: ReadonlySet<string> = new Set(HV_OP_SCHEMAS.map((s) => s.name));

/**
 * Every op's schema: the hardware ops, then the hypervisor ops. The text writer, the docs check
 * and the fuzzer's coverage layout (op index = position here) read this order.
 */
export const OP_SCHEMAS: readonly OpSchema[] = [...HW_OP_SCHEMAS, ...HV_OP_SCHEMAS];

/** Decoding and encoding look schemas up here, hardware and hypervisor ops alike. */
export const OP_SCHEMA_BY_NAME: ReadonlyMap<string, OpSchema> = new Map(OP_SCHEMAS.map((s) => [s.name, s] as const));

/** True for the ops only hv mode runs. */
export function isHvOp(op: Op): op is HvOp {
  return HV_OP_NAMES.has(op.op);
}

/**
 * Hardware ops the hypervisor refuses (a guest or the VMM cannot issue them: docs/hypervisor.md
 * "Machine shape"); the validator rejects them in a hv-mode trace.
 */
export const HV_REFUSED_OPS: ReadonlySet<HwOpName> = new Set<HwOpName>([
  'invept', 'invvpid', 'set_eptp', 'set_spptp', 'set_ctls2', 'phys_write', 'phys_read', 'ept_set', 'gpt_set', 'sppt_set',
]);

/** Whether `op` may appear in a trace of `mode` (see HV_REFUSED_OPS). */
export function opAllowedIn(name: string, mode: 'bare' | 'hv'): boolean {
  return mode === 'hv' ? !HV_REFUSED_OPS.has(name as HwOpName) : !HV_OP_NAMES.has(name);
}
