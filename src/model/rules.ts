/**
 * The rule catalogue: every rule the reference models apply, with a stable string id, the
 * mechanism it belongs to, a one-line meaning and its source (an SDM section by name, or the
 * public document or code it comes from). docs/rules.md lists the same table for readers.
 * Contract: string ids are stable (signatures, rule coverage and users' notes name them): rename
 * one only with a note in docs/traces.md. Numeric ids (`RULE.*`, the index in `RULES`) are for
 * hot paths only and may change between versions: never store them. `group` is the coarser id a
 * failure signature uses where a rule comes in per-level or per-access variants (one defect shows
 * at every level; docs/rules.md "Signatures").
 * Adding a rule: call `rule(...)` below (bare mode) or add the op's results to `HV_OP_RESULTS`
 * (hv mode); docs/rules.md is checked against this table by test/unit/model/rules.spec.ts.
 */

export type Mechanism =
  | 'access' | 'paging' | 'pk' | 'ept' | 'spp' | 'xo' | 'tlb' | 'vmx' | 'reg' | 'path'
  | 'pkvm' | 'kvm' | 'memattr' | 'vtl' | 'hv' | 'state';

export interface RuleInfo {
  /** Stable id, e.g. `ept.deny.write.l1`. */
  id: string;
  mechanism: Mechanism;
  /** What the rule says, in one line. */
  meaning: string;
  /** Where it comes from: SDM section names, public patches or docs. */
  source: string;
  /** The id a failure signature uses (the rule itself, or its family for per-level variants). */
  group: string;
  /**
   * The id a signature uses when the target's outcome is of another class than the rule's, i.e.
   * whether the check applies at all is in dispute (docs/rules.md "Signatures"): finer than
   * `group` where one family's checks differ by access kind (absent: `group`).
   */
  classGroup?: string;
  /** Why no generated trace can reach it (rule coverage lists it as such), if so. */
  unreachable?: string;
  /** The mode whose model applies it: bare (src/model) or hv (src/model/hv, labelled by op result). */
  mode: 'bare' | 'hv';
}

const list: RuleInfo[] = [];
const byId = new Map<string, number>();

function rule(id: string, mechanism: Mechanism, meaning: string, source: string, group = id, unreachable?: string, mode: 'bare' | 'hv' = 'bare'): number {
  if (byId.has(id)) throw new Error(`rules.ts: duplicate rule id ${id}`);
  const n = list.length;
  list.push(unreachable === undefined ? { id, mechanism, meaning, source, group, mode } : { id, mechanism, meaning, source, group, unreachable, mode });
  byId.set(id, n);
  return n;
}

/** Sets rule `n`'s `classGroup` (see RuleInfo); returns `n`. */
function classGroup(n: number, g: string): number {
  list[n].classGroup = g;
  return n;
}

/** Per guest or EPT level 1..4: index = level (index 0 unused, -1). */
function perLevel(make: (level: number) => number, levels: readonly number[] = [4, 3, 2, 1]): number[] {
  const out = [-1, -1, -1, -1, -1];
  for (const l of levels) out[l] = make(l);
  return out;
}

// ---- sources (section names, as docs/semantics.md cites them) --------------------------------
const SDM_PF = 'SDM Vol. 3A §4.7 "Page-Fault Exceptions"';
const SDM_RSVD = 'SDM Vol. 3A §4.5 "4-Level Paging" (reserved bits), §4.7';
const SDM_RIGHTS = 'SDM Vol. 3A §4.6.1 "Determination of Access Rights"';
const SDM_PK = 'SDM Vol. 3A §4.6.2 "Protection Keys"';
const SDM_AD = 'SDM Vol. 3A §4.8 "Accessed and Dirty Flags"';
const SDM_EPT_VIOL = 'SDM Vol. 3C "EPT Violations", "Prioritization of EPT Misconfigurations and EPT Violations"';
const SDM_EPT_MISC = 'SDM Vol. 3C "EPT Misconfigurations"';
const SDM_EXITQ = 'SDM Vol. 3C "Exit Qualification for EPT Violations"';
const ISE_SPP = 'Intel ISE reference (2019) "EPT-based sub-page permissions"; KVM SPP series v5 1/9';
const SDM_TLB = 'SDM Vol. 3A §4.10.4 "Invalidation of TLBs and Paging-Structure Caches"';
const SDM_INV = 'SDM Vol. 3C "Invalidating Cached Translation Information" (INVEPT, INVVPID)';
const SDM_EPTP = 'SDM Vol. 3C "Extended-Page-Table Pointer (EPTP)", "Checks on VMX Controls"';
const SDM_MOVCR = 'SDM Vol. 3A §2.5 "Control Registers", Vol. 2B "MOV—Move to/from Control Registers" (#GP)';
const SEM = 'docs/semantics.md';
const KVM_XO = 'KVM XO RFC (Edgecombe, 2019-10-03) patch 05 "#PF injection"';

/** EPT access kinds in the order of src/model/ept.ts EptAccess (Read 0 .. TableWrite 4), plus a user fetch under MBEC. */
const EPT_ACCESS_NAMES = ['read', 'write', 'fetch', 'table-read', 'table-write', 'fetch-user'] as const;
/** Rule coverage reasons. */
const NOT_AN_OUTCOME = 'an effect of a successful access, not an outcome of its own: mem.no-lost-write checks it at every op';
const STAGE_ONLY = 'a stage rule: it names what the model decided at the rights or key stage when a target parts from it there (docs/rules.md "Signatures"), never the rule of an outcome';
const SDM_CHOICE_ONLY = 'only under choices.staleDenial = sdm, which campaigns on the built-in machine do not set';

// ---- the bare-mode rules -----------------------------------------------------------------------
export const RULE = {
  // access completion (semantics.md "Guest access" step 8)
  accessRead: rule('access.read.complete', 'access', 'every part translated and passed its checks: the bytes are read, little-endian', `${SEM} "Guest access" step 8`),
  accessWrite: rule('access.write.complete', 'access', 'every part translated and passed its checks: the bytes are written, little-endian, byte-exact', `${SEM} "Guest access" step 8`),
  accessFetch: rule('access.fetch.complete', 'access', 'every part translated and passed its checks: the fetch completes', `${SEM} "Guest access" step 8`),

  // guest paging: presence and reserved bits (semantics.md step 2)
  pfNotPresent: perLevel((l) => rule(`paging.not-present.l${l}`, 'paging', `the level-${l} guest entry has P = 0: #PF with P = 0`, SDM_PF, 'paging.not-present')),
  pfRsvdAddr: perLevel((l) => rule(`paging.rsvd.addr.l${l}`, 'paging', `the level-${l} guest entry sets an address bit in [51:MAXPHYADDR]: #PF with P | RSVD`, SDM_RSVD, 'paging.rsvd')),
  pfRsvdXd: perLevel((l) => rule(`paging.rsvd.xd-without-nxe.l${l}`, 'paging', `the level-${l} guest entry sets XD (bit 63) while EFER.NXE = 0: #PF with P | RSVD`, SDM_RSVD, 'paging.rsvd')),
  pfRsvdPsPml4: rule('paging.rsvd.ps-in-pml4e', 'paging', 'PS set in a PML4 entry: #PF with P | RSVD', SDM_RSVD, 'paging.rsvd'),
  pfRsvdPs1g: rule('paging.rsvd.ps-1g-unsupported', 'paging', 'PS set in a PDPTE without 1 GiB page support: #PF with P | RSVD', SDM_RSVD, 'paging.rsvd'),
  pfRsvdAlign1g: rule('paging.rsvd.align-1g', 'paging', 'a 1 GiB leaf sets an alignment bit in 29:13: #PF with P | RSVD', SDM_RSVD, 'paging.rsvd'),
  pfRsvdAlign2m: rule('paging.rsvd.align-2m', 'paging', 'a 2 MiB leaf sets an alignment bit in 20:13: #PF with P | RSVD', SDM_RSVD, 'paging.rsvd'),

  // guest paging: access rights (semantics.md step 3)
  usUser: rule('paging.us.user-to-supervisor', 'paging', 'a CPL 3 access to a supervisor-mode address (U/S = 0 at some level): #PF with P = 1', SDM_RIGHTS),
  rightsAllow: rule('paging.rights.allow', 'paging', 'the walk\'s U/S, R/W and XD allow the access under CPL, CR0.WP, SMEP, SMAP and EFER.NXE', SDM_RIGHTS, 'paging.rights.allow', STAGE_ONLY),
  rwUser: rule('paging.rw.user-write', 'paging', 'a CPL 3 write to an address with R/W = 0 at some level (CR0.WP does not matter): #PF', SDM_RIGHTS),
  rwSupWp: rule('paging.rw.supervisor-write-wp', 'paging', 'a supervisor write to an address with R/W = 0 at some level while CR0.WP = 1: #PF', SDM_RIGHTS),
  rwSupWp0: rule('paging.rw.supervisor-write-wp0', 'paging', 'a supervisor write to a read-only address is allowed while CR0.WP = 0', SDM_RIGHTS),
  xdFetch: rule('paging.xd.fetch', 'paging', 'a fetch from an address with XD = 1 at some level (EFER.NXE = 1): #PF with I', SDM_RIGHTS),
  smepFetch: rule('paging.smep.fetch', 'paging', 'a supervisor fetch from a user-mode address with CR4.SMEP = 1: #PF with I', SDM_RIGHTS),
  smapData: rule('paging.smap.data', 'paging', 'a supervisor data access to a user-mode address with CR4.SMAP = 1 and EFLAGS.AC = 0: #PF', SDM_RIGHTS),
  smapAc: rule('paging.smap.ac-override', 'paging', 'a supervisor data access to a user-mode address is allowed under SMAP when EFLAGS.AC = 1', SDM_RIGHTS),
  guestAD: rule('paging.ad.update', 'paging', 'after the rights pass, A is set in every walk entry where it is 0 and D in the leaf of a write, each a paging-structure write through EPT', `${SDM_AD}; ${SEM} step 4`, 'paging.ad.update', NOT_AN_OUTCOME),

  // protection keys (semantics.md step 3)
  pkruAd: rule('pk.pkru.ad', 'pk', 'a data access to a user-mode address whose PKRU key has AD = 1 (CR4.PKE = 1): #PF with PK', SDM_PK),
  pkruWd: rule('pk.pkru.wd', 'pk', 'a write to a user-mode address whose PKRU key has WD = 1, at CPL 3 or with CR0.WP = 1: #PF with PK', SDM_PK),
  pksAd: rule('pk.pks.ad', 'pk', 'a data access to a supervisor-mode address whose IA32_PKRS key has AD = 1 (CR4.PKS = 1): #PF with PK', SDM_PK),
  pksWd: rule('pk.pks.wd', 'pk', 'a write to a supervisor-mode address whose IA32_PKRS key has WD = 1, at CPL 3 or with CR0.WP = 1: #PF with PK', SDM_PK),
  pkruWdWp0: rule('pk.pkru.wd-wp0', 'pk', 'a supervisor write to a user-mode address whose PKRU key has WD = 1 is allowed while CR0.WP = 0', SDM_PK),
  pksWdWp0: rule('pk.pks.wd-wp0', 'pk', 'a supervisor write to a supervisor-mode address whose IA32_PKRS key has WD = 1 is allowed while CR0.WP = 0', SDM_PK),
  pkFetch: rule('pk.fetch-exempt', 'pk', 'protection keys never apply to instruction fetches (the key would deny a data access)', SDM_PK),
  pkruAllow: rule('pk.pkru.allow', 'pk', 'a data access to a user-mode address whose PKRU key allows it (CR4.PKE = 1)', SDM_PK, 'pk.pkru.allows', STAGE_ONLY),
  pksAllow: rule('pk.pks.allow', 'pk', 'a data access to a supervisor-mode address whose IA32_PKRS key allows it (CR4.PKS = 1)', SDM_PK, 'pk.pks.allows', STAGE_ONLY),
  pkruOff: rule('pk.pkru.off', 'pk', 'a data access to a user-mode address while CR4.PKE = 0: no key check', SDM_PK, 'pk.pkru.allows', STAGE_ONLY),
  pksOff: rule('pk.pks.off', 'pk', 'a data access to a supervisor-mode address while CR4.PKS = 0: no key check', SDM_PK, 'pk.pks.allows', STAGE_ONLY),
  pkWithOrdinary: rule('pk.bit-with-ordinary-denial', 'pk', 'PK is set whenever the key alone would deny the access, even when an ordinary rights violation (U/S, R/W, SMAP) also denies it', `${SDM_PF}; ${SDM_PK}`, 'pk.bit-with-ordinary-denial', STAGE_ONLY),
  pkRegister: rule('pk.register-by-address', 'pk', 'the key register is chosen by the address (U/S over the walk: PKRU for user-mode, IA32_PKRS for supervisor-mode), never by CPL', `${SDM_PK}; Bochs commit 72d55ca09`, 'pk.register-by-address', STAGE_ONLY),
  pkQemu: rule('pk.qemu.user-to-supervisor', 'pk', 'choices.pkOnUserToSupervisor = qemu: a CPL 3 access to a supervisor page whose PKRS key denies gets no PK bit', `${SEM} step 3; QEMU target/i386/tcg/system/excp_helper.c mmu_translate`),

  // EPT (semantics.md "EPT translation of one GPA")
  eptNotPresent: EPT_ACCESS_NAMES.map((a) => perLevel((l) => classGroup(rule(`ept.not-present.${a}.l${l}`, 'ept', `a ${a} access meets a not-present EPT entry at level ${l}: EPT violation (exit 48), rights bits 0`, SDM_EPT_VIOL, 'ept.violation'), `ept.violation.${a}`))),
  eptDeny: EPT_ACCESS_NAMES.map((a) => perLevel((l) => classGroup(rule(`ept.deny.${a}.l${l}`, 'ept', `a ${a} access is denied by the EPT rights, first missing at level ${l}: EPT violation (exit 48)`, SDM_EPT_VIOL, 'ept.violation'), `ept.violation.${a}`))),
  eptMiscWNoR: rule('ept.misconfig.write-without-read', 'ept', 'a present EPT entry with W = 1 and R = 0: EPT misconfiguration (exit 49)', SDM_EPT_MISC, 'ept.misconfig'),
  eptMiscXo: rule('ept.misconfig.exec-only-unsupported', 'ept', 'an execute-only EPT entry without the execute-only capability: EPT misconfiguration', SDM_EPT_MISC, 'ept.misconfig'),
  eptMiscAddr: rule('ept.misconfig.rsvd-address', 'ept', 'an EPT entry sets an address bit in [51:MAXPHYADDR]: EPT misconfiguration', SDM_EPT_MISC, 'ept.misconfig'),
  eptMiscPml4: rule('ept.misconfig.pml4e-rsvd', 'ept', 'an EPT PML4 entry sets a bit in 7:3 (PS included): EPT misconfiguration', SDM_EPT_MISC, 'ept.misconfig'),
  eptMisc1g: rule('ept.misconfig.1g-unsupported', 'ept', 'an EPT PDPTE with PS = 1 without 1 GiB page support: EPT misconfiguration', SDM_EPT_MISC, 'ept.misconfig'),
  eptMiscNonLeaf: rule('ept.misconfig.nonleaf-rsvd', 'ept', 'a non-leaf EPT PDPTE or PDE sets a bit in 6:3: EPT misconfiguration', SDM_EPT_MISC, 'ept.misconfig'),
  eptMiscAlign2m: rule('ept.misconfig.align-2m', 'ept', 'a 2 MiB EPT leaf sets an address bit in 20:12: EPT misconfiguration', SDM_EPT_MISC, 'ept.misconfig'),
  eptMiscAlign1g: rule('ept.misconfig.align-1g', 'ept', 'a 1 GiB EPT leaf sets an address bit in 29:12: EPT misconfiguration', SDM_EPT_MISC, 'ept.misconfig'),
  eptMiscMemtype: rule('ept.misconfig.memtype', 'ept', 'an EPT leaf has memory type 2, 3 or 7: EPT misconfiguration', SDM_EPT_MISC, 'ept.misconfig'),
  qualAccess: rule('ept.qual.access', 'ept', 'violation qualification bits 0-2: RD, WR, FETCH by the access (RD | WR for an A/D update or a table access under EPT A/D)', SDM_EXITQ),
  qualRights: rule('ept.qual.rights', 'ept', 'violation qualification bits 3-6: the EPT rights ANDed over the walk (all 0 for a not-present entry; bit 6 only with MBEC)', SDM_EXITQ),
  qualGla: rule('ept.qual.gla', 'ept', 'violation qualification bit 7 (GLA valid, always here) and bit 8 (the final GPA, not a paging-structure entry)', SDM_EXITQ),
  qualAdvanced: rule('ept.qual.advanced', 'ept', 'violation qualification bits 9-11 (guest U/S, R/W, XD of the walk) with advanced VM-exit information, final GPA only, paging on', SDM_EXITQ),
  eptAD: rule('ept.ad.update', 'ept', 'with EPTP[6] = 1 a successful translation sets A in every EPT entry used and D in the leaf of a write', 'SDM Vol. 3C "Accessed and Dirty Flags for EPT"', 'ept.ad.update', NOT_AN_OUTCOME),

  // SPP (semantics.md step 6)
  sppDenied: rule('spp.subpage-denied', 'spp', 'an SPP-eligible write touches a 128-byte sub-page whose SPPT write bit is 0: EPT violation at the sub-page byte', ISE_SPP),
  sppAllowed: rule('spp.subpage-allowed', 'spp', 'an SPP-eligible write (EPT R = 1, W = 0, bit 61) whose sub-pages are all writable completes', ISE_SPP),
  sppMiss: rule('spp.miss', 'spp', 'the SPPT walk meets a non-leaf entry with bit 0 = 0: SPP-related exit (66) with qualification bit 11 = 1', ISE_SPP),
  sppMiscNonLeaf: rule('spp.misconfig.nonleaf-rsvd', 'spp', 'an SPPT non-leaf entry sets a reserved bit: SPP-related exit (66), qualification bit 11 = 0', ISE_SPP, 'spp.misconfig'),
  sppMiscOdd: rule('spp.misconfig.leaf-odd-bit', 'spp', 'an SPPT leaf sets a reserved odd bit: SPP-related exit (66), qualification bit 11 = 0', ISE_SPP, 'spp.misconfig'),

  // XO
  xoNativeData: rule('xo.native.data-denied', 'xo', 'a data access to an execute-only EPT page (X = 1, R = 0) is an EPT violation', 'SDM Vol. 3C "EPT Translation Mechanism" (execute-only capability)'),
  xoNativeFetch: rule('xo.native.fetch', 'xo', 'a fetch from an execute-only EPT page completes', 'SDM Vol. 3C "EPT Translation Mechanism" (execute-only capability)'),
  xoKvmPf: rule('xo.kvm.pf', 'xo', 'kvmXo: a data violation at the XO alias (GPA bit MAXPHYADDR-1) becomes #PF P | W? | U?, CR2 = the linear address', `${KVM_XO}; ${SEM} step 7`),

  // TLBs (semantics.md "TLBs and invalidation")
  tlbCombined: rule('tlb.cached.combined', 'tlb', 'a cached combined mapping that still allows the access serves it (memory may have changed)', SDM_TLB),
  tlbGpa: rule('tlb.cached.gpa', 'tlb', 'a cached guest-physical mapping that still allows the access serves it', SDM_INV),
  tlbDenyCombined: rule('tlb.stale-denial.combined', 'tlb', "choices.staleDenial = sdm: a cached combined mapping that denies gives its own #PF or EPT violation", 'SDM Vol. 3A §4.10.4.3 "Optional Invalidation"', 'tlb.stale-denial', SDM_CHOICE_ONLY),
  tlbDenyGpa: rule('tlb.stale-denial.gpa', 'tlb', "choices.staleDenial = sdm: a cached guest-physical mapping that denies gives its EPT violation", 'SDM Vol. 3C "Guidelines for Use of the INVEPT Instruction"', 'tlb.stale-denial', SDM_CHOICE_ONLY),
  invlpg: rule('tlb.invlpg', 'tlb', "INVLPG drops the page's combined mappings of the current VPID, globals included", SDM_TLB),
  invvpid: [0, 1, 2, 3].map((t) => rule(`tlb.invvpid.type${t}`, 'tlb', ['INVVPID type 0 drops one linear page of one VPID', 'INVVPID type 1 drops every combined mapping of one VPID', 'INVVPID type 2 drops every VPID-tagged mapping', 'INVVPID type 3 drops one VPID\'s mappings but the global ones'][t], SDM_INV)),
  inveptSingle: rule('tlb.invept.single', 'tlb', 'INVEPT type 1 drops the guest-physical and combined mappings of one EP4TA, all VPIDs', SDM_INV),
  inveptAll: rule('tlb.invept.all', 'tlb', 'INVEPT type 2 drops every guest-physical and combined mapping', SDM_INV),

  // VMX instructions and VMCS writes (semantics.md "VMCS writes")
  inveptBadType: rule('vmx.invept.vmfail.type', 'vmx', 'INVEPT with an unsupported type: VMfailValid 28', SDM_INV, 'vmx.invept.vmfail'),
  inveptBadEptp: rule('vmx.invept.vmfail.eptp', 'vmx', 'single-context INVEPT with an invalid EPTP operand: VMfailValid 28', SDM_INV, 'vmx.invept.vmfail'),
  invvpidBadType: rule('vmx.invvpid.vmfail.type', 'vmx', 'INVVPID with an unsupported type: VMfailValid 28', SDM_INV, 'vmx.invvpid.vmfail'),
  invvpidVpid0: rule('vmx.invvpid.vmfail.vpid0', 'vmx', 'INVVPID with VPID 0 and a type other than 2: VMfailValid 28', SDM_INV, 'vmx.invvpid.vmfail'),
  invvpidNoncanon: rule('vmx.invvpid.vmfail.noncanonical', 'vmx', 'INVVPID type 0 with a non-canonical linear address: VMfailValid 28', SDM_INV, 'vmx.invvpid.vmfail'),
  eptpOk: rule('vmx.eptp.set', 'vmx', 'a valid EPTP is written (nothing is flushed)', SDM_EPTP),
  eptpBad: rule('vmx.eptp.vmfail', 'vmx', 'an EPTP with a bad memory type, walk length, unsupported A/D, SSS, bits 11:8 or address bits: VMfailValid 7', SDM_EPTP),
  spptpOk: rule('vmx.spptp.set', 'vmx', 'an SPPTP is written (checked only while SPP is on)', `${ISE_SPP}; SDM Vol. 3C "Checks on VMX Controls"`),
  spptpBad: rule('vmx.spptp.vmfail', 'vmx', 'an SPPTP with bits 11:0 or address bits set while SPP is on: VMfailValid 7', `${ISE_SPP}; SDM Vol. 3C "Checks on VMX Controls"`),
  ctls2Ok: rule('vmx.ctls2.set', 'vmx', 'valid secondary controls are written', 'SDM Vol. 3C "Secondary Processor-Based VM-Execution Controls"'),
  ctls2Bad: rule('vmx.ctls2.vmfail', 'vmx', 'secondary controls without EPT/VPID or with an unsupported bit: VMfailValid 7', 'SDM Vol. 3C "Checks on VMX Controls"'),
  ctls2Spptp: rule('vmx.ctls2.vmfail-spptp', 'vmx', 'turning SPP on while the SPPTP is invalid: VMfailValid 7', 'SDM Vol. 3C "Checks on VMX Controls"', 'vmx.ctls2.vmfail'),

  // register writes (semantics.md "Register writes")
  regCr0: rule('reg.cr0.set', 'reg', 'MOV to CR0 (PG 1 -> 0 drops every combined mapping of the VPID)', SDM_MOVCR),
  regCr0Gp: rule('reg.cr0.gp', 'reg', 'MOV to CR0 with bits 63:32, or PG = 1 without PE, EFER.LME and CR4.PAE: #GP', SDM_MOVCR),
  regCr3: rule('reg.cr3.set', 'reg', "MOV to CR3 drops the VPID's non-global combined mappings", SDM_TLB),
  regCr3Gp: rule('reg.cr3.gp', 'reg', 'MOV to CR3 with address bits at or above MAXPHYADDR (or 63:52): #GP', SDM_MOVCR),
  regCr4: rule('reg.cr4.set', 'reg', 'MOV to CR4 (PGE changed: flush all; PAE changed or SMEP 0 -> 1: flush non-global)', SDM_TLB),
  regCr4Gp: rule('reg.cr4.gp', 'reg', 'MOV to CR4 with an unknown bit, a feature bit without its capability, or PAE cleared while LMA = 1: #GP', SDM_MOVCR),
  regEfer: rule('reg.efer.set', 'reg', 'WRMSR EFER (LMA follows LME and PG)', 'SDM Vol. 3A §2.2.1 "Extended Feature Enable Register"'),
  regEferGp: rule('reg.efer.gp', 'reg', 'WRMSR EFER with an unknown bit or LME changed while PG = 1: #GP', 'SDM Vol. 3A §2.2.1 "Extended Feature Enable Register"'),
  regOther: rule('reg.other.set', 'reg', 'RFLAGS.AC, CPL, PKRU or IA32_PKRS is written (applied at access time)', `${SEM} "Register writes"`),
  regOtherGp: rule('reg.other.gp', 'reg', 'CPL above 3, or PKRU / IA32_PKRS beyond 32 bits or without the capability: #GP', `${SEM} "Register writes"`),

  // debug ops (semantics.md "Path ops")
  pathSet: rule('path.set', 'path', 'ept_set / gpt_set / sppt_set write the entry the debug walk finds', `${SEM} "Path ops"`),
  pathNoent: rule('path.noent', 'path', 'a path op meets a missing or leaf upper entry, or a table outside RAM: noent', `${SEM} "Path ops"`),
  physOk: rule('path.phys', 'path', 'phys_read / phys_write inside RAM', `${SEM} "Machine shape"`),
  physNoent: rule('path.phys-outside-ram', 'path', 'phys_read / phys_write beyond RAM: noent', `${SEM} "Machine shape"`),
} as const;

/** Every EPT access name a rule table is indexed by (EptAccess numbering, then `fetch-user` = 5). */
export const EPT_ACCESS_RULE_INDEX = { fetchUser: 5 } as const;

// ---- hv mode: each op's results, as transitions (ok) and error paths ------------------------------

/**
 * hv-mode rules are the results each op can have (docs/hypervisor.md): a return value (`ok`, a
 * count, an errno, a Hyper-V status) or, for guest accesses, the way the access ended. The rule of
 * a hv outcome is found by `hvRuleOf` (src/model/hv/rules.ts). A new hv op adds its row here.
 */
export interface HvOpResults {
  mechanism: Mechanism;
  source: string;
  /** result name -> meaning. Names: `ok`, an errno (`eperm`), or a status / exit name. */
  results: Readonly<Record<string, string>>;
}

const PKVM = 'pKVM x86 RFC mem_protect.c (intel-staging/pKVM-IA); docs/hypervisor.md "pKVM page ownership"';
const KVM = 'docs/hypervisor.md "VMM (KVM ioctls)"';
const PKVM_A64 = 'upstream arm64 pKVM arch/arm64/kvm/hyp/nvhe/mem_protect.c and hyp-main.c; docs/hypervisor.md "Memory caches and np-guest calls"';

export const HV_OP_RESULTS: Readonly<Record<string, HvOpResults>> = {
  vm_create: { mechanism: 'kvm', source: KVM, results: { ok: 'a VM is created with one EPT root per VTL', einval: 'handle below 2', eexist: 'handle in use', enomem: 'no pool page for a root' } },
  vm_teardown_start: { mechanism: 'pkvm', source: PKVM, results: { ok: 'the VM is marked dying', einval: 'unknown, dying, or loaded on a cpu' } },
  vm_reclaim: { mechanism: 'pkvm', source: PKVM, results: { ok: 'the page is unmapped, zeroed if the guest owned it, and returns to the host', einval: 'the VM is not dying', enoent: 'no page at the gfn', enomem: 'no pool page' } },
  vm_teardown_finish: { mechanism: 'pkvm', source: PKVM, results: { ok: 'tables freed, handle reusable', einval: 'the VM is not dying', ebusy: 'pages not yet reclaimed' } },
  memslot_set: { mechanism: 'kvm', source: KVM, results: { ok: 'a memslot is added, moved or deleted', einval: 'bad flags, range or change', eexist: 'the range overlaps another memslot', enomem: 'no pool page' } },
  vcpu_load: { mechanism: 'kvm', source: KVM, results: { ok: 'the cpu runs the VM at VTL 0', enoent: 'no VM with that handle', einval: 'the VM is being torn down' } },
  vm_write_protect: { mechanism: 'kvm', source: KVM, results: { ok: 'W cleared on mapped leaves (SPP bit parked)', einval: 'no VM with that handle', enomem: 'no pool page to split' } },
  vm_age: { mechanism: 'kvm', source: KVM, results: { ok: 'leaves made not-present with rights parked', einval: 'no VM with that handle', enomem: 'no pool page to split' } },
  host_donate_hyp: { mechanism: 'pkvm', source: PKVM, results: { ok: 'H: O -> NOPAGE owner hyp; flush', einval: 'range empty, outside RAM or wrapping, or (arm64) straddling RAM and the MMIO window', eperm: 'a page not host-owned, or MMIO', enomem: 'no pool page' } },
  hyp_donate_host: { mechanism: 'pkvm', source: PKVM, results: { ok: 'H: NOPAGE owner hyp -> O', einval: 'range empty, outside RAM or wrapping', eperm: 'a page not donated to the hyp by the host', enomem: 'no pool page' } },
  host_share_hyp: { mechanism: 'pkvm', source: PKVM, results: { ok: 'H: O -> SO (shared with hyp)', eperm: 'not host-owned', enomem: 'no pool page' } },
  host_unshare_hyp: { mechanism: 'pkvm', source: PKVM, results: { ok: 'H: SO -> O (the hyp share ends)', eperm: 'not shared with the hyp', enomem: 'no pool page' } },
  host_share_guest: { mechanism: 'pkvm', source: PKVM, results: { ok: 'H: O -> SO, G: SB, leaf mapped', einval: 'bad VM, prot, size or range; under memcache vm no loaded vCPU of the VM', eperm: 'gfn in use, page not host-owned, or MMIO (arm64: a range straddling RAM and MMIO is einval)', enomem: 'no pool page; under memcache vm the cache of the loaded vCPU (the lowest cpu the VM runs on) is short (arm64: fewer than kvm_mmu_cache_min_pages)' } },
  host_unshare_guest: { mechanism: 'pkvm', source: PKVM, results: { ok: 'unmapped in every view, H: SO -> O; flush', einval: 'bad VM or size', enoent: 'no page at the gfn', e2big: 'granule differs', eperm: 'not a host share' } },
  host_donate_guest: { mechanism: 'pkvm', source: PKVM, results: { ok: 'H: O -> NOPAGE owner vm (flushed), G: O', einval: 'bad VM or gfn; under memcache vm no loaded vCPU of the VM', eperm: 'page not host-owned or gfn in use', enomem: 'no pool page; under memcache vm the loaded vCPU\'s cache is short' } },
  guest_share_host: { mechanism: 'pkvm', source: PKVM, results: { ok: 'G: O -> SO, H: NOPAGE -> SB', einval: 'no protected VM on the cpu', enoent: 'no page at the gfn', eperm: 'not guest-owned', enomem: 'no pool page', ehwpoison: 'the page was poisoned by a force reclaim' } },
  guest_unshare_host: { mechanism: 'pkvm', source: PKVM, results: { ok: 'G: SO -> O, H: SB -> NOPAGE; flush', einval: 'no protected VM on the cpu', enoent: 'no page at the gfn', eperm: 'not shared with the host', enomem: 'no pool page', ehwpoison: 'the page was poisoned by a force reclaim' } },
  hyp_pin: { mechanism: 'pkvm', source: PKVM, results: { ok: 'the pages shared with the hyp are pinned (refcount + 1)', einval: 'no such VM or bad range', eperm: 'a page not shared with the hyp', ebusy: 'refcount at its maximum' } },
  hyp_unpin: { mechanism: 'pkvm', source: PKVM, results: { ok: 'the pins are dropped (refcount - 1)', einval: 'bad range, or a page this VM has not pinned' } },
  host_share_ffa: { mechanism: 'pkvm', source: PKVM, results: { ok: 'H: O -> SO (shared with the secure world through FF-A)', einval: 'bad range, or the x86-rfc profile (no FF-A proxy)', eperm: 'a page not host-owned', enomem: 'no pool page' } },
  host_unshare_ffa: { mechanism: 'pkvm', source: PKVM, results: { ok: 'H: SO -> O (the FF-A share ends)', einval: 'bad range, or the x86-rfc profile', eperm: 'not an FF-A share' } },
  host_force_reclaim: { mechanism: 'pkvm', source: PKVM, results: { ok: 'the guest page is poisoned in the guest, zeroed and returned to the host', einval: 'the x86-rfc profile', efault: 'the pfn is not memory (beyond RAM, or the MMIO window)', eagain: 'host-owned or shared, or the guest is gone', eperm: 'not owned by a guest, or the guest state is not owned' } },
  hv_topup: { mechanism: 'pkvm', source: PKVM_A64, results: { ok: "every page donated to the hypervisor (H: O -> NOPAGE owner hyp) and pushed on the named vCPU's memory cache", einval: 'no per-VM caches (memcache pool), an unknown or dying VM, a vCPU beyond the machine, or a range empty or outside RAM', eperm: 'a page not host-owned or MMIO (admit_host_page: __pkvm_host_donate_hyp); a range straddling RAM and MMIO is einval under arm64' } },
  hv_undonate: { mechanism: 'pkvm', source: PKVM_A64, results: { ok: "free pages of the named vCPU's cache go back to the host (H: NOPAGE owner hyp -> O)", einval: 'no per-VM caches, an unknown VM, a vCPU beyond the machine, or a bad range', eperm: "a page that is not a free page of that vCPU's cache (never donated to it, another vCPU's, or in use as a table)" } },
  host_relax_perms: { mechanism: 'pkvm', source: PKVM_A64, results: { ok: 'rights added to the page\'s leaf (none removed, no flush needed)', einval: 'x86-rfc profile, no np VM with a loaded vCPU (a protected VM included: the handler gate), prot beyond RWX, or rights the EPT cannot hold (W without R)', eagain: 'no valid leaf at the gfn (stage-2 walk with KVM_PGTABLE_WALK_HANDLE_FAULT)' } },
  host_wrprotect: { mechanism: 'pkvm', source: PKVM_A64, results: { ok: 'W taken from the leaves of the range (the next guest write restores it); flush', einval: 'x86-rfc profile, no np VM with that handle (get_np_pkvm_hyp_vm), or nr not 1 or an aligned 512' } },
  host_mkyoung: { mechanism: 'pkvm', source: PKVM_A64, results: { ok: 'an access-tracked leaf at the gfn is young again (0 whatever the leaf)', einval: 'x86-rfc profile, or no np VM with a loaded vCPU' } },
  hv_query: { mechanism: 'state', source: 'docs/hypervisor.md "State you can see"', results: { page: 'the page state in the host, the hypervisor and each guest' } },
  hv_expect: { mechanism: 'state', source: 'docs/hypervisor.md "State you can see"', results: { page: 'the page state, compared with the expected one (hv.expected-state)' } },
  spp_enable: { mechanism: 'kvm', source: 'KVM SPP series v12; docs/hypervisor.md "KVM SPP"', results: { ok: 'SPP on for the VM', einval: 'no capability or not a np VM', eexist: 'SPP is already on for the VM', enomem: 'no pool page' } },
  spp_set: { mechanism: 'kvm', source: 'KVM SPP series v12; docs/hypervisor.md "KVM SPP"', results: { ok: 'sub-page maps stored (returns npages)', einval: 'bad flags or count', efault: 'gfn outside memslots', enomem: 'no pool page' } },
  spp_get: { mechanism: 'kvm', source: 'KVM SPP series v12; docs/hypervisor.md "KVM SPP"', results: { ok: 'the map is returned', einval: 'SPP is off for the VM', efault: 'gfn outside memslots' } },
  set_mem_attrs: { mechanism: 'memattr', source: 'Linux KVM_SET_MEMORY_ATTRIBUTES; docs/hypervisor.md "Memory attributes"', results: { ok: 'attributes stored, all or nothing', einval: 'bad flags, attributes or range', enomem: 'entry limit or pool' } },
  vtl_protect: { mechanism: 'vtl', source: 'Hyper-V TLFS HvCallModifyVtlProtectionMask; docs/hypervisor.md "VTLs"', results: { ok: 'HV_STATUS_SUCCESS: the lower VTL\'s rights are set and every cpu flushed', invalid_parameter: 'bad target, flags or gfn', access_denied: 'target above the caller', operation_denied: 'non-RAM gfn (openhcl)', insufficient_memory: 'no pool page' } },
  vtl_call: { mechanism: 'vtl', source: 'Hyper-V TLFS "Virtual Trust Levels"', results: { ok: 'the cpu enters the next higher VTL', ud: 'no higher VTL' } },
  vtl_return: { mechanism: 'vtl', source: 'Hyper-V TLFS "Virtual Trust Levels"', results: { ok: 'the cpu returns to the lower VTL', ud: 'the cpu runs at VTL 0: nothing to return to' } },
  set_reg: { mechanism: 'reg', source: `${SEM} "Register writes"; docs/hypervisor.md`, results: { ok: 'the register is written', gp: 'an invalid value: #GP' } },
  invlpg: { mechanism: 'tlb', source: SDM_TLB, results: { ok: 'the page\'s combined mappings are dropped' } },
  read: { mechanism: 'hv', source: 'docs/hypervisor.md "Outcomes"', results: HV_ACCESS_RESULTS() },
  write: { mechanism: 'hv', source: 'docs/hypervisor.md "Outcomes"', results: HV_ACCESS_RESULTS() },
  fetch: { mechanism: 'hv', source: 'docs/hypervisor.md "Outcomes"', results: HV_ACCESS_RESULTS() },
};

function HV_ACCESS_RESULTS(): Record<string, string> {
  return {
    ok: 'the access completed with no exit',
    pf: 'the guest took #PF (its own paging, or the XO conversion)',
    handled: 'hardware exits were resolved by the hypervisor (lazy map, SPPT build, fixups) and the access completed; under memcache vm a memslot fault first tops the faulting vCPU\'s cache up from the host\'s free pages and maps from there',
    'handled-pf': 'hardware exits were resolved and the access ended in #PF',
    spp: 'KVM_EXIT_SPP: a write to a protected sub-page',
    memory_fault: 'KVM_EXIT_MEMORY_FAULT: attributes or ownership deny the access',
    unknown: 'KVM_EXIT_UNKNOWN: an exit the hypervisor does not handle (SPPT misconfiguration)',
    mmio: 'KVM_EXIT_MMIO: no memslot',
    intercept: 'a VSM secure intercept to the higher VTL',
    abort: 'pKVM refused a host access to a page it does not own',
    hwpoison: 'KVM_EXIT_HWPOISON-style exit: the guest touched a page a force reclaim poisoned',
    enomem: 'a page-table allocation failed while handling an exit (the pool; under memcache vm a memslot fault whose vCPU cache the host has no page left to top up); the automatic top-ups stay',
  };
}

/** Signature groups of hv access results: completing with or without exits handled is one group, so is #PF. */
const HV_ACCESS_GROUP: Readonly<Record<string, string>> = { ok: 'completes', handled: 'completes', pf: 'pf', 'handled-pf': 'pf' };

/** Result names for hv return values. */
export const HV_ERRNO_RESULT: Readonly<Record<number, string>> = {
  1: 'eperm', 2: 'enoent', 7: 'e2big', 11: 'eagain', 12: 'enomem', 14: 'efault', 16: 'ebusy', 17: 'eexist', 22: 'einval',
  133: 'ehwpoison',
};
export const HV_STATUS_RESULT: Readonly<Record<number, string>> = {
  0: 'ok', 5: 'invalid_parameter', 6: 'access_denied', 8: 'operation_denied', 11: 'insufficient_memory',
};

/**
 * Listed results the built-in hypervisor never gives (rule coverage reports them as unreachable,
 * with the reason): the sources document these -ENOMEM paths, but here the call takes no pool
 * page (docs/hypervisor.md "The page pool": the pages it changes already have their 4 KiB tables).
 */
const NO_POOL_PAGE = 'the built-in hypervisor takes no pool page in this call (docs/hypervisor.md "The page pool")';
const HV_RESULT_UNREACHABLE: Readonly<Record<string, string>> = {
  'memslot_set.enomem': NO_POOL_PAGE,
  'vm_write_protect.enomem': `${NO_POOL_PAGE}: it rewrites mapped leaves in place, splitting nothing`,
  'vm_age.enomem': `${NO_POOL_PAGE}: it rewrites mapped leaves in place, splitting nothing`,
  'hyp_donate_host.enomem': `${NO_POOL_PAGE}: a page the host donated is already split out of its 2 MiB host leaf`,
  'host_unshare_hyp.enomem': `${NO_POOL_PAGE}: a page shared with the hypervisor is already split out of its 2 MiB host leaf`,
  'guest_unshare_host.enomem': `${NO_POOL_PAGE}: a page the guest shared already has its host leaf`,
};

/**
 * A hv access's rule finer than its result's (src/model/hv/model.ts labels the candidate): the SPP
 * check of a write through a leaf whose bit 61 write protection or aging parked and restored.
 */
export const RULE_SPP_PARKED_RESTORED = rule('kvm.spp.parked-bit-restored', 'spp', 'dirty-logging write protection and access tracking park EPT bit 61 of a protected page in a software bit and restore it with W or A: a later write to the page is still checked by SPP (its SPP exit, or the SPPT-miss exit on the way)', 'KVM SPP series v5 7/9; v12 "free bit to store SPP bit"', 'kvm.spp.parked-bit-restored', undefined, 'hv');

/** The rule an unlisted hv result falls back to (rule coverage lists such results in `extra`). */
export const RULE_HV_UNLISTED = rule('hv.unlisted', 'hv', 'a hv op result not in the catalogue (a new op or error path: add it to HV_OP_RESULTS)', 'src/model/rules.ts', 'hv.unlisted', 'a catch-all: reached only by a result HV_OP_RESULTS lacks', 'hv');

/** `hv.<op>.<result>` for every listed result. */
export const HV_RULE: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const [op, r] of Object.entries(HV_OP_RESULTS)) {
    for (const [res, meaning] of Object.entries(r.results)) {
      const id = `${r.mechanism === 'hv' ? 'hv.access' : r.mechanism}.${op}.${res}`;
      // a guest access's result is one signature group whatever the access kind (one defect shows on all)
      m.set(`${op}.${res}`, rule(id, r.mechanism, meaning, r.source, r.mechanism === 'hv' ? `hv.access.${HV_ACCESS_GROUP[res] ?? res}` : id, HV_RESULT_UNREACHABLE[`${op}.${res}`], 'hv'));
    }
  }
  return m;
})();

/** The whole catalogue, indexed by numeric id. */
export const RULES: readonly RuleInfo[] = list;

/** No rule (an outcome no model rule produced: a test fake, an exception). */
export const NO_RULE = -1;

export function ruleInfo(n: number): RuleInfo | null {
  return n >= 0 && n < list.length ? list[n] : null;
}

export function ruleId(n: number): string {
  return ruleInfo(n)?.id ?? 'none';
}

export function ruleNumber(id: string): number {
  return byId.get(id) ?? NO_RULE;
}

/** The EPT access index for rule tables: EptAccess 0..4, or 5 for a fetch from a user-mode address under MBEC. */
export function eptRuleAccess(access: number, mbec: boolean, userAddr: boolean): number {
  return access === 2 && mbec && userAddr ? EPT_ACCESS_RULE_INDEX.fetchUser : access;
}

