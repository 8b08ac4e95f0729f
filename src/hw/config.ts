/**
 * Machine configuration: the capabilities of the emulated CPU and the size of the machine.
 * Contract: a trace header carries one of these; every field has a documented default, and
 * `normalizeConfig` is the only place defaults are filled in (the decoder and the CLI use it).
 */

/** Processor capabilities (IA32_VMX_EPT_VPID_CAP, IA32_VMX_PROCBASED_CTLS2 allowed-1, CPUID). */
export interface Capabilities {
  /** EPT_VPID_CAP bit 0: EPT execute-only translations (`--x`) are legal. */
  eptExecOnly: boolean;
  /** EPT_VPID_CAP bit 21: EPTP bit 6 may enable EPT accessed/dirty flags. */
  eptAD: boolean;
  /** EPT_VPID_CAP bit 17: 1 GiB EPT leaves (PS=1 in an EPT PDPTE); also 1 GiB guest pages (CPUID 80000001H:EDX[26]). */
  page1G: boolean;
  /** Secondary control bit 22 allowed: mode-based execute control for EPT (XS = bit 2, XU = bit 10). */
  mbec: boolean;
  /** Secondary control bit 23 allowed: sub-page write permissions for EPT. */
  spp: boolean;
  /** EPT_VPID_CAP bit 22: advanced VM-exit information for EPT violations (qualification bits 9-11). */
  advExitInfo: boolean;
  /** CPUID.7.0:ECX[3]: protection keys for user-mode pages (CR4.PKE, PKRU). */
  pku: boolean;
  /** CPUID.7.0:ECX[31]: protection keys for supervisor-mode pages (CR4.PKS, IA32_PKRS). */
  pks: boolean;
  /** CPUID.7.0:EBX[7] / [20]: SMEP and SMAP. */
  smep: boolean;
  smap: boolean;
  /** EPT_VPID_CAP bits 25 / 26: INVEPT single-context / all-context supported. */
  inveptSingle: boolean;
  inveptAll: boolean;
  /** EPT_VPID_CAP bits 40..43: INVVPID individual-address, single-context, all-context, single-context-retaining-globals. */
  invvpidTypes: [boolean, boolean, boolean, boolean];
}

/**
 * Where the reference documents disagree, the reference's stated choice is the default and the
 * alternative is selectable here.
 */
export interface Choices {
  /**
   * A user-mode access to a supervisor page whose PKRS key denies it
   * (x86-memory-protection.md §4.3 "Divergence"): 'sdm' sets PK (Bochs, the KVM PKS design,
   * the SDM's address-type wording); 'qemu' stops at the U/S violation and leaves PK clear.
   */
  pkOnUserToSupervisor: 'sdm' | 'qemu';
  /**
   * What a cached translation that DENIES an access may do (docs/semantics.md "TLBs",
   * x86-memory-protection.md §6.3). Optional: absent means 'rewalk', and absent stays absent
   * (normalizeConfig does not add it), so traces written before the field existed keep their
   * bytes. 'rewalk': such an entry is dropped and the walk redone (a stale entry can only allow);
   * the built-in machine does this. 'sdm': the reference model also allows the fault the cached
   * entry gives: a "spurious" #PF after R/W 0->1, U/S 0->1 or XD 1->0 without INVLPG
   * (SDM Vol. 3A §4.10.4.3 "Optional Invalidation"), or an EPT violation after EPT rights 0->1
   * without INVEPT (SDM Vol. 3C "Guidelines for Use of the INVEPT Instruction"). Use it to judge
   * real implementations; 'rewalk' allows a subset of it.
   */
  staleDenial?: StaleDenial;
  /**
   * The guest accessed flags a faulting guest walk may leave set (docs/semantics.md "Guest
   * access" step 4, x86-memory-protection.md §4.4). Optional like staleDenial: absent means
   * 'none', and absent stays absent. 'none': nothing is set on a fault (the built-in machine).
   * 'sdm': the reference model also allows A set, in walk order, in a prefix of the entries the
   * walk used before the fault (SDM Vol. 3A §4.8: "Whenever the processor uses a paging-structure
   * entry as part of linear-address translation, it sets the accessed flag in that entry (if it
   * is not already set)."), as Bochs does; never D. 'none' allows a subset of it.
   */
  guestAccessedOnFault?: GuestAccessedOnFault;
  /**
   * How the translations after a guest A/D update in the same access are made (docs/semantics.md
   * "Guest access" step 4, x86-memory-protection.md §6.1). Optional like staleDenial: absent
   * means 'fresh', and absent stays absent. 'fresh': each A/D update's paging-structure write, and
   * every later translation of that access, walks EPT from memory (the built-in machine), so an
   * update that rewrote an EPT entry (guest tables aliased onto EPT tables) is seen at once.
   * 'sdm': the reference model also allows them to use a guest-physical mapping cached before the
   * access or filled earlier in it (ref §6.1: the processor "may enforce rights from cached
   * entries instead of memory"; SDM Vol. 3C "Guidelines for Use of the INVEPT Instruction": a
   * changed EPT entry need not be seen until INVEPT), as Bochs does. 'fresh' allows a subset.
   */
  adUpdateMapping?: AdUpdateMapping;
  /**
   * The EPT accessed flags (bit 8, under EPTP[6]) an EPT walk that ends in an EPT exit may leave
   * set (docs/semantics.md "EPT translation of one GPA"). Optional like staleDenial: absent means
   * 'none', and absent stays absent. 'none': EPT A/D flags are set only when a translation
   * succeeds (the built-in machine). 'sdm': the reference model also allows A set, in walk order,
   * in a prefix of the EPT entries the walk used before the exit: SDM Vol. 3C "Accessed and Dirty
   * Flags for EPT": "Whenever the processor uses an EPT paging-structure entry as part of
   * guest-physical-address translation, it sets the accessed flag in that entry (if it is not
   * already set)", and a walk that exits below an entry has used it, as Bochs does; never D.
   */
  eptAccessedOnFault?: EptAccessedOnFault;
}

export type StaleDenial = 'rewalk' | 'sdm';
export type GuestAccessedOnFault = 'none' | 'sdm';
export type AdUpdateMapping = 'fresh' | 'sdm';
export type EptAccessedOnFault = 'none' | 'sdm';

/**
 * Choices that are optional in a trace header, with the meaning of their absence. The trace
 * writers emit them only when present and the validator accepts them (src/trace/canonical.ts,
 * validate.ts), so adding one leaves every existing trace byte-identical.
 */
export const OPTIONAL_CHOICE_DEFAULTS: Readonly<Required<Pick<Choices, 'staleDenial' | 'guestAccessedOnFault' | 'adUpdateMapping' | 'eptAccessedOnFault'>>> =
  Object.freeze({ staleDenial: 'rewalk', guestAccessedOnFault: 'none', adUpdateMapping: 'fresh', eptAccessedOnFault: 'none' });

/** The configuration's stale-denial choice (absent means 'rewalk'). */
export function staleDenialOf(config: MachineConfig): StaleDenial {
  return config.choices.staleDenial ?? OPTIONAL_CHOICE_DEFAULTS.staleDenial;
}

/** The configuration's guest-accessed-on-fault choice (absent means 'none'). */
export function guestAccessedOnFaultOf(config: MachineConfig): GuestAccessedOnFault {
  return config.choices.guestAccessedOnFault ?? OPTIONAL_CHOICE_DEFAULTS.guestAccessedOnFault;
}

/** The configuration's A/D-update mapping choice (absent means 'fresh'). */
export function adUpdateMappingOf(config: MachineConfig): AdUpdateMapping {
  return config.choices.adUpdateMapping ?? OPTIONAL_CHOICE_DEFAULTS.adUpdateMapping;
}

/** The configuration's EPT-accessed-on-fault choice (absent means 'none'). */
export function eptAccessedOnFaultOf(config: MachineConfig): EptAccessedOnFault {
  return config.choices.eptAccessedOnFault ?? OPTIONAL_CHOICE_DEFAULTS.eptAccessedOnFault;
}

/**
 * Options of the hypervisor model (hv mode, docs/hypervisor.md). Where the references offer
 * alternatives (pkvm-and-vtl.md), the reference's stated choice is the default.
 */
export interface HvOptions {
  /** Host frames at the top of RAM reserved for the hypervisor (EPT/SPPT table pages): hyp-owned from boot. */
  poolFrames: number;
  /** Map 2 MiB EPT leaves where a memslot region allows it (and split them on demand). */
  hugePages: boolean;
  /** VTLs per VM (TLFS: 2 implemented, up to 16 architected). */
  vtls: number;
  /** MBEC-aware VTL protections: user and kernel execute are separate (KMX=1, UMX=0 is refused). */
  vtlMbec: boolean;
  /**
   * Bit order of the execute bits in vtl_protect flags (pkvm-and-vtl.md §5.1, the TLFS pages
   * disagree): 'hv_map_gpa' = 0x4 kernel-exec, 0x8 user-exec (HV_MAP_GPA_FLAGS);
   * 'vsm_mask' = 0x4 user-exec, 0x8 kernel-exec (the DefaultVtlProtectionMask table).
   */
  vtlExecBits: 'hv_map_gpa' | 'vsm_mask';
  /**
   * Status of vtl_protect on a GPA that is not RAM: 'tlfs' = HV_STATUS_INVALID_PARAMETER,
   * 'openhcl' = HV_STATUS_OPERATION_DENIED (pkvm-and-vtl.md §5.2).
   */
  vtlNonRam: 'tlfs' | 'openhcl';
  /** The RWX memory-attribute extension of the VSM series (NR/NW/NX bits). */
  memattrRwx: boolean;
  /**
   * Source profile of pKVM where upstream arm64 and the x86 RFC disagree (docs/hypervisor.md
   * "Source profiles"): errnos for an absent page, multi-sharing of one host page with np
   * guests, FF-A sharing and force reclaim. Optional: absent means 'x86-rfc', and absent stays
   * absent (normalizeConfig does not add it), so older traces keep their bytes.
   */
  pkvm?: PkvmProfile;
  /**
   * What a KVM_EXIT_MEMORY_FAULT carries: 'vsm' the access's R/W/X flags (bits 0-2, the VSM
   * series) with PRIVATE (bit 3); 'upstream' only PRIVATE (include/uapi/linux/kvm.h has no RWX
   * flags). Optional like `pkvm`: absent means 'vsm'.
   */
  memFaultFlags?: MemFaultFlags;
  /**
   * Where the page-table pages of a VM's stage 2 come from when the host shares or donates a page
   * to it (docs/hypervisor.md "Memory caches"): 'pool' the hypervisor's one pool; 'vm' the VM's
   * own memory cache, which the host tops up with pages it donates (hv_topup), as upstream arm64
   * pKVM's per-vCPU hyp memcache (topup_hyp_memcache / refill_memcache, and
   * __guest_check_pgtable_memcache before a share or donation). Under 'vm' the host EPT is built
   * at 4 KiB granularity from boot (upstream's host stage-2 pool covers all memory at page
   * granularity), and share_guest / donate_guest need a loaded vCPU of the VM (the memcache is
   * the loaded vCPU's). Optional like `pkvm`: absent means 'pool'.
   */
  memcache?: MemcacheMode;
  /**
   * A host MMIO window (docs/hypervisor.md "Host MMIO"): frames [mmioPfn, mmioPfn + mmioPages) of
   * host RAM's range are device memory, not memory: the host reaches them (identity-mapped
   * uncacheable), no pKVM transition takes them (upstream arm64 check_range_allowed_memory). Both
   * multiples of 512 (whole 2 MiB regions), inside RAM. Optional: absent or 0 pages = no window.
   */
  mmioPfn?: number;
  mmioPages?: number;
}

export type MemcacheMode = 'pool' | 'vm';

export type PkvmProfile = 'x86-rfc' | 'arm64';
export type MemFaultFlags = 'vsm' | 'upstream';

/** Optional hv options with the meaning of their absence (written only when present, as OPTIONAL_CHOICE_DEFAULTS). */
export const OPTIONAL_HV_DEFAULTS: Readonly<Required<Pick<HvOptions, 'pkvm' | 'memFaultFlags' | 'memcache' | 'mmioPfn' | 'mmioPages'>>> =
  Object.freeze({ pkvm: 'x86-rfc', memFaultFlags: 'vsm', memcache: 'pool', mmioPfn: 0, mmioPages: 0 });

/** The pKVM source profile of a configuration (absent: 'x86-rfc'). */
export function pkvmProfileOf(opts: HvOptions): PkvmProfile {
  return opts.pkvm ?? OPTIONAL_HV_DEFAULTS.pkvm;
}

/** The memory-cache mode of a configuration (absent: 'pool'). */
export function memcacheModeOf(opts: HvOptions): MemcacheMode {
  return opts.memcache ?? OPTIONAL_HV_DEFAULTS.memcache;
}

/** The memory-fault flag set of a configuration (absent: 'vsm'). */
export function memFaultFlagsOf(opts: HvOptions): MemFaultFlags {
  return opts.memFaultFlags ?? OPTIONAL_HV_DEFAULTS.memFaultFlags;
}

export const HV_POOL_FRAMES_MIN = 16;
export const HV_VTLS_MAX = 16;

export interface MachineConfig {
  /** MAXPHYADDR of the processor, 36..52. Address bits at and above it are reserved everywhere. */
  maxPhyAddr: number;
  /** Number of vCPUs (logical processors), 1..8. vCPU i has VPID i + 1. */
  vcpus: number;
  /** Upper bound on host 4 KiB frames that may be backed (memory is sparse; reads of absent frames give 0). */
  framesMax: number;
  caps: Capabilities;
  /**
   * The KVM XO design (x86-memory-protection.md §5.2): the guest sees MAXPHYADDR one smaller
   * (guestMaxPhyAddr = maxPhyAddr - 1); bit `maxPhyAddr - 1` of a guest paging entry is then the
   * XO bit instead of a reserved bit, and the VMM maps that alias execute-only.
   */
  kvmXo: boolean;
  choices: Choices;
  /** Planted bugs switched on (names from src/bugs/catalogue.ts). Empty for the correct machine. */
  bugs: string[];
  /**
   * 'bare' (absent = bare): the hardware alone, a VM exit is the outcome; 'hv': the hypervisor
   * model runs over it (docs/hypervisor.md).
   */
  mode?: 'bare' | 'hv';
  /** Hypervisor options (hv mode; absent = defaultHvOptions()). */
  hv?: HvOptions;
}

/** The configuration's mode (absent means bare). */
export function configMode(config: MachineConfig): 'bare' | 'hv' {
  return config.mode ?? 'bare';
}

/** The configuration's hypervisor options, defaults filled in. */
export function hvOptionsOf(config: MachineConfig): HvOptions {
  return config.hv ?? defaultHvOptions();
}

export function defaultHvOptions(): HvOptions {
  return { poolFrames: 1024, hugePages: true, vtls: 2, vtlMbec: false, vtlExecBits: 'hv_map_gpa', vtlNonRam: 'tlfs', memattrRwx: true };
}

export const DEFAULT_CAPABILITIES: Capabilities = {
  eptExecOnly: true,
  eptAD: true,
  page1G: true,
  mbec: true,
  spp: true,
  advExitInfo: true,
  pku: true,
  pks: true,
  smep: true,
  smap: true,
  inveptSingle: true,
  inveptAll: true,
  invvpidTypes: [true, true, true, true],
};

export const MAXPHYADDR_MIN = 36;
export const MAXPHYADDR_MAX = 52;
/**
 * Largest MAXPHYADDR hv mode runs: the hypervisor builds 4-level EPT, which translates GPA bits
 * 47:0 only, so its guests get at most 48 GPA bits (KVM arch/x86/kvm/cpuid.c caps the guest's
 * addressable GPA "at 48 bits if 5-level TDP isn't supported (hardware processes bits 51:48 only
 * when walking the fifth level page table)"). Beyond it, GPAs 2^48 apart would share EPT entries.
 */
export const HV_MAXPHYADDR_MAX = 48;
export const VCPUS_MAX = 8;
/** 1 GiB of backed host memory: bounds a hostile trace's memory use. */
export const FRAMES_MAX_LIMIT = 1 << 18;

export function defaultConfig(): MachineConfig {
  return {
    maxPhyAddr: 46,
    vcpus: 2,
    framesMax: 1 << 16,
    caps: { ...DEFAULT_CAPABILITIES, invvpidTypes: [...DEFAULT_CAPABILITIES.invvpidTypes] },
    kvmXo: false,
    choices: { pkOnUserToSupervisor: 'sdm' },
    bugs: [],
  };
}

/** Fills in defaults for absent fields of a partial configuration (deep for caps and choices). */
export function normalizeConfig(partial: Partial<Omit<MachineConfig, 'caps' | 'choices' | 'hv'>> & {
  caps?: Partial<Capabilities>;
  choices?: Partial<Choices>;
  hv?: Partial<HvOptions>;
} = {}): MachineConfig {
  const base = defaultConfig();
  return {
    maxPhyAddr: partial.maxPhyAddr ?? base.maxPhyAddr,
    vcpus: partial.vcpus ?? base.vcpus,
    framesMax: partial.framesMax ?? base.framesMax,
    caps: { ...base.caps, ...(partial.caps ?? {}) },
    kvmXo: partial.kvmXo ?? base.kvmXo,
    choices: { ...base.choices, ...(partial.choices ?? {}) },
    bugs: [...(partial.bugs ?? base.bugs)],
    // Bare configurations carry no mode/hv fields, so bare trace headers stay as they were.
    ...(partial.mode !== undefined ? { mode: partial.mode } : {}),
    ...(partial.mode === 'hv' || partial.hv !== undefined ? { hv: { ...defaultHvOptions(), ...(partial.hv ?? {}) } } : {}),
  };
}

/** The MAXPHYADDR the guest sees (CPUID.80000008H:EAX[7:0]); one smaller under the KVM XO design. */
export function guestMaxPhyAddr(config: MachineConfig): number {
  return config.kvmXo ? config.maxPhyAddr - 1 : config.maxPhyAddr;
}

/**
 * Table frames of the host EPT the hypervisor builds at boot (docs/hypervisor.md "Machine
 * shape"): PML4, PDPT and PD pages for RAM below 1 GiB, and one page table per 512 frames (all
 * of them without huge pages, else only for a tail that is not a whole 2 MiB).
 */
export function hostEptFrames(ramFrames: number, hugePages: boolean): number {
  const pds = Math.ceil(ramFrames / (512 * 512));
  const pdpts = Math.ceil(ramFrames / (512 * 512 * 512));
  const pts = hugePages ? (ramFrames % 512 !== 0 ? 1 : 0) : Math.ceil(ramFrames / 512);
  return 1 + pdpts + pds + pts;
}

/** Returns a problem description, or null when the configuration is usable. */
export function validateConfig(config: MachineConfig): string | null {
  const { maxPhyAddr, vcpus, framesMax } = config;
  if (!Number.isInteger(maxPhyAddr) || maxPhyAddr < MAXPHYADDR_MIN || maxPhyAddr > MAXPHYADDR_MAX) {
    return `maxPhyAddr must be an integer in ${MAXPHYADDR_MIN}..${MAXPHYADDR_MAX}, got ${maxPhyAddr}`;
  }
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > VCPUS_MAX) {
    return `vcpus must be an integer in 1..${VCPUS_MAX}, got ${vcpus}`;
  }
  if (!Number.isInteger(framesMax) || framesMax < 16 || framesMax > FRAMES_MAX_LIMIT) {
    return `framesMax must be an integer in 16..${FRAMES_MAX_LIMIT}, got ${framesMax}`;
  }
  if (config.kvmXo && !config.caps.eptExecOnly) {
    return 'kvmXo needs caps.eptExecOnly (KVM_CAP_EXECONLY_MEM is advertised only with EPT execute-only)';
  }
  if (config.choices.pkOnUserToSupervisor !== 'sdm' && config.choices.pkOnUserToSupervisor !== 'qemu') {
    return `choices.pkOnUserToSupervisor must be 'sdm' or 'qemu'`;
  }
  const stale = config.choices.staleDenial;
  if (stale !== undefined && stale !== 'rewalk' && stale !== 'sdm') return `choices.staleDenial must be 'rewalk' or 'sdm'`;
  const aof = config.choices.guestAccessedOnFault;
  if (aof !== undefined && aof !== 'none' && aof !== 'sdm') return `choices.guestAccessedOnFault must be 'none' or 'sdm'`;
  const adm = config.choices.adUpdateMapping;
  if (adm !== undefined && adm !== 'fresh' && adm !== 'sdm') return `choices.adUpdateMapping must be 'fresh' or 'sdm'`;
  const eaof = config.choices.eptAccessedOnFault;
  if (eaof !== undefined && eaof !== 'none' && eaof !== 'sdm') return `choices.eptAccessedOnFault must be 'none' or 'sdm'`;
  if (config.mode !== undefined && config.mode !== 'bare' && config.mode !== 'hv') return `mode must be 'bare' or 'hv'`;
  if (configMode(config) !== 'hv') return null;
  if (maxPhyAddr > HV_MAXPHYADDR_MAX) return `hv mode needs maxPhyAddr <= ${HV_MAXPHYADDR_MAX} (the hypervisor builds 4-level EPT: GPA bits 47:0), got ${maxPhyAddr}`;
  const hv = hvOptionsOf(config);
  if (!Number.isInteger(hv.poolFrames) || hv.poolFrames < HV_POOL_FRAMES_MIN || hv.poolFrames > framesMax / 2) {
    return `hv.poolFrames must be an integer in ${HV_POOL_FRAMES_MIN}..framesMax/2 (${framesMax / 2}), got ${hv.poolFrames}`;
  }
  if (hv.memcache !== undefined && hv.memcache !== 'pool' && hv.memcache !== 'vm') return `hv.memcache must be 'pool' or 'vm'`;
  const mmioPfn = hv.mmioPfn ?? 0;
  const mmioPages = hv.mmioPages ?? 0;
  if (!Number.isInteger(mmioPfn) || !Number.isInteger(mmioPages) || mmioPfn < 0 || mmioPages < 0 || mmioPfn % 512 !== 0 || mmioPages % 512 !== 0 || mmioPfn + mmioPages > framesMax - hv.poolFrames) {
    return `hv.mmioPfn and hv.mmioPages must be multiples of 512 with the window inside RAM (frames below ${framesMax - hv.poolFrames}), got ${mmioPfn} and ${mmioPages}`;
  }
  // Under memcache 'vm' the host EPT has a page table for every 2 MiB of RAM from boot.
  const pageGranular = !hv.hugePages || hv.memcache === 'vm';
  const hostTables = hostEptFrames(framesMax - hv.poolFrames, !pageGranular);
  if (hv.poolFrames < hostTables) return `hv.poolFrames ${hv.poolFrames} is too small for the host EPT of ${framesMax - hv.poolFrames} RAM frames (needs ${hostTables}${pageGranular ? (hv.hugePages ? ' with memcache vm' : ' with hugePages false') : ''})`;
  if (!Number.isInteger(hv.vtls) || hv.vtls < 1 || hv.vtls > HV_VTLS_MAX) return `hv.vtls must be an integer in 1..${HV_VTLS_MAX}, got ${hv.vtls}`;
  if (hv.vtlExecBits !== 'hv_map_gpa' && hv.vtlExecBits !== 'vsm_mask') return `hv.vtlExecBits must be 'hv_map_gpa' or 'vsm_mask'`;
  if (hv.vtlNonRam !== 'tlfs' && hv.vtlNonRam !== 'openhcl') return `hv.vtlNonRam must be 'tlfs' or 'openhcl'`;
  if (hv.pkvm !== undefined && hv.pkvm !== 'x86-rfc' && hv.pkvm !== 'arm64') return `hv.pkvm must be 'x86-rfc' or 'arm64'`;
  if (hv.memFaultFlags !== undefined && hv.memFaultFlags !== 'vsm' && hv.memFaultFlags !== 'upstream') return `hv.memFaultFlags must be 'vsm' or 'upstream'`;
  if (hv.vtlMbec && !config.caps.mbec) return 'hv.vtlMbec needs caps.mbec';
  return null;
}
