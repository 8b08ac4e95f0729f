/**
 * The hypervisor under test (hv mode): a KVM-style VMM with pKVM page ownership over the emulated
 * hardware. It owns the Machine: it writes EPT and SPPT entries into emulated memory from its own
 * page pool, programs each logical processor's VMCS fields, flushes TLBs (INVEPT all-context on
 * every logical processor) after every reduction of rights before a call returns, and handles
 * every exit of a guest access (map and retry, or exit to user space).
 * Contract: `apply` is deterministic and returns what the guest or the VMM observes
 * (docs/hypervisor.md); planted hv bugs are read once, here, into booleans. It keeps per-op records
 * of what the last op touched (`touched*`, `reduced`, `mutations`) for its judge, the invariants of
 * src/check/hv, which the runner runs on it (src/check/targets.ts): it does not know them.
 */
import { configMode, guestMaxPhyAddr, hvOptionsOf, memcacheModeOf, memFaultFlagsOf, pkvmProfileOf, normalizeConfig, validateConfig, type HvOptions, type MachineConfig } from '../hw/config.js';
import type { Vcpu } from '../hw/vcpu.js';
import { A_EXIT, A_OK, A_PF, Machine } from '../hw/machine.js';
import type { AnyOp, Reg } from '../trace/ops.js';
import { OK, type AnyOutcome, type HvExit, type HwOutcome as Outcome } from '../hw/outcome.js';
import { ACC_FETCH, ACC_READ, ACC_WRITE } from '../hw/rights.js';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PAE, QUAL_ADV_USER, QUAL_FETCH, QUAL_GLA_VALID, QUAL_PUX, QUAL_PX, QUAL_WR, QUAL_XLAT, CTL2_EPT, CTL2_MBEC, CTL2_SPP, CTL2_VPID, EFER_LME, EFER_NXE, EPT_PS, EXIT_EPT_MISCONFIG, EXIT_EPT_VIOLATION, EXIT_SPP, SPP_QUAL_MISS } from '../hw/bits.js';
import { invept } from '../hw/vmx.js';
import { C_US, T_R, T_W } from '../hw/tlb.js';
import { PagePool } from './pool.js';
import { EptTables } from './ept-tables.js';
import { Vm, type PageRec } from './vm.js';
import {
  AGED_LO, EPERM, ENOMEM, HOST_ANNOTATION_HI, KVM_MEM_EXECONLY, KVM_MEM_READONLY, MEMATTR_NR, MEMATTR_NW, MEMATTR_NX,
  MEMATTR_PRIVATE, MEMFAULT_EXEC, MEMFAULT_PRIVATE, MEMFAULT_READ, MEMFAULT_WRITE, OWNER_HOST,
  OWNER_SHIFT_LO, PS_NOPAGE, PS_OWNED, R, RWX, SAVED_R_HI, SAVED_W_HI, SAVED_X_HI, SPP_ALL_WRITABLE,
  SPP_HI, SPP_SAVED_HI, STATE_MASK_HI, STATE_SHIFT_HI, UX, W, WP_HI, X, XX,
} from './consts.js';
import { applyHvOp } from './ops.js';
import { pageView } from './query.js';
import { TOUCHED_PAGES_MAX, type PageState } from '../hw/api.js';
import { buildSpptRegion, dropSpptTables, spptNeed } from './spp.js';
import { autoShare, dropPages, returnToHost, shareable } from './pkvm.js';
import { faultTopup } from './memcache.js';

const EPT_WB = 6 << 3;
/** Exits one access may go through before the hypervisor gives up (a harness bug, not a guest outcome). */
const ACCESS_RETRIES_MAX = 16;
const MAX_VTL = 16;

/** Planted hv bugs, read once from config.bugs (src/bugs/catalogue.ts). */
export interface HvBugs {
  hypDonateNoOwnerCheck: boolean;
  shareHypSharedPage: boolean;
  unshareNoFlush: boolean;
  reclaimNoZero: boolean;
  rangeOverflow: boolean;
  enomemHalfDone: boolean;
  sppLostOnWrprotect: boolean;
  sppHugepageNotSplit: boolean;
  memattrPartialUpdate: boolean;
  vtlProtectNoFlush: boolean;
  pinLeakOnError: boolean;
  ffaUnshareUnchecked: boolean;
  forceReclaimNoZero: boolean;
  memattrRangeWrap: boolean;
  teardownTableLeak: boolean;
  shareEnomemHalfDone: boolean;
  enomemUndoKeepsTables: boolean;
  memcacheDonateBeforePop: boolean;
  undonateNeverDonated: boolean;
  eptWalkerStalePte: boolean;
}

/** The guest registers each context keeps (Hyper-V: "private VP register state" per VTL). */
interface GuestRegs {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  cpl: number;
  ac: boolean;
  pkru: number;
  pkrs: number;
}

/** A context's registers before its first instruction: paging off (docs/hypervisor.md "Guest state"). */
const INITIAL_REGS: Readonly<GuestRegs> = Object.freeze({ cr0: CR0_PE | CR0_WP, cr3: 0, cr4: CR4_PAE, efer: EFER_LME | EFER_NXE, cpl: 0, ac: false, pkru: 0, pkrs: 0 });

/** What runs on a logical processor: the host (vm = 1) or a guest VM at a VTL. */
interface CpuContext {
  vm: number;
  vtl: number;
}

export class Hypervisor {
  readonly config: MachineConfig;
  readonly opts: HvOptions;
  readonly machine: Machine;
  readonly pool: PagePool;
  readonly host: EptTables;
  readonly vms = new Map<number, Vm>();
  /** Frames of RAM outside the pool: host memory, [0, ramFrames). */
  readonly ramFrames: number;
  readonly bugs: HvBugs;
  /** GPA bit of the KVM XO alias (0 without kvmXo). */
  readonly aliasBit: number;
  readonly aliasGfn: number;
  /**
   * Guest memory is gfns [0, gfnLimit): the guest-physical address space, 2^MAXPHYADDR bytes (at
   * most 2^48, config.ts HV_MAXPHYADDR_MAX), less its upper half under kvmXo (the alias).
   */
  readonly gfnLimit: number;
  readonly ctx: CpuContext[];
  /** Saved guest registers per (vm, vtl, cpu): key vm * 4096 + vtl * 16 + cpu. */
  private readonly savedRegs = new Map<number, GuestRegs>();
  /** pKVM hyp bookkeeping: pages the host donated (hyp_donate_host may return only these), pages shared with hyp. */
  readonly hypDonated = new Set<number>();
  readonly hypShared = new Set<number>();
  /**
   * Host pages shared with np guests: pfn → how many guest leaves borrow it (arm64's
   * host_share_guest_count, §1.2; at most 1 under the x86-rfc profile, which has no multi-share).
   */
  readonly shareCounts = new Map<number, number>();
  /** The hypervisor's pins of pages the host shared with it: pfn → refcount (§2.1 rows 5, 6). */
  readonly pins = new Map<number, number>();
  /** Pins by the VM whose hypervisor state holds them (1: the hypervisor's own): vm → pfn → count. */
  readonly pinsBy = new Map<number, Map<number, number>>();
  /** The arm64 source profile (config hv.pkvm, docs/hypervisor.md "Source profiles"). */
  readonly arm64: boolean;
  /** KVM_EXIT_MEMORY_FAULT carries the access's R/W/X flags (hv.memFaultFlags 'vsm'). */
  readonly memFaultRwx: boolean;
  /**
   * The host EPT maps RAM lazily, at the host's first access (the arm64 profile: host_stage2_idmap
   * on a host abort, §1.2); else every RAM page is mapped at boot (the x86 RFC, §1.1).
   */
  readonly lazyHost: boolean;
  /** Host pages shared with the secure world through the FF-A proxy (§2.1 rows 7, 8). */
  readonly ffaShared = new Set<number>();
  /**
   * hv.memcache 'vm': shares and donations to a VM take its stage-2 tables from the VM's memory
   * cache, and the host EPT is page-granular from boot (src/hv/memcache.ts).
   */
  readonly memcacheVm: boolean;
  /** The host MMIO window (hv.mmioPfn / mmioPages): device frames, not memory. */
  readonly mmioFirst: number;
  readonly mmioEnd: number;

  // Per-op records for the invariants.
  mutations = 0;
  /** `mutations` when the last op started (a failed call must leave it unchanged). */
  mutationsAtStart = 0;
  readonly touchedPfns = new Set<number>();
  /** Keys (vm id) * 2^40 + gfn of the gfns the last op touched, first `touchedGfnCount` entries (may repeat). */
  readonly touchedGfnKeys: number[] = [];
  touchedGfnCount = 0;
  /** Leaves whose rights this op reduced: [root frame, gpa page] pairs, the first `reducedCount` entries. */
  readonly reduced: number[] = [];
  reducedCount = 0;
  /** Whether any guest access ran since the last INVEPT everywhere (else every TLB is empty and a flush is a no-op). */
  private tlbMaybeFilled = false;
  /** Frames this op handed back from private guest memory (must be zero). */
  readonly returnedPrivate: number[] = [];
  lastOp: AnyOp | null = null;
  /** Whether the last hardware exit of a guest access was at the access's own GPA (XLAT), not a guest-walk access. */
  lastExitFinal = false;
  lastOutcome: AnyOutcome | null = null;
  flushes = 0;

  constructor(config: MachineConfig = normalizeConfig({ mode: 'hv' })) {
    const problem = validateConfig(config);
    if (problem) throw new RangeError(problem);
    if (configMode(config) !== 'hv') throw new RangeError('Hypervisor needs a configuration with mode hv');
    this.config = config;
    this.opts = hvOptionsOf(config);
    this.machine = new Machine(config);
    const b = new Set(config.bugs);
    this.bugs = {
      hypDonateNoOwnerCheck: b.has('pkvm-hyp-donate-no-owner-check'),
      shareHypSharedPage: b.has('pkvm-share-hyp-shared-page'),
      unshareNoFlush: b.has('pkvm-unshare-no-flush'),
      reclaimNoZero: b.has('pkvm-reclaim-no-zero'),
      rangeOverflow: b.has('pkvm-range-overflow'),
      enomemHalfDone: b.has('pkvm-enomem-half-done'),
      sppLostOnWrprotect: b.has('spp-lost-on-wrprotect'),
      sppHugepageNotSplit: b.has('spp-hugepage-not-split'),
      memattrPartialUpdate: b.has('memattr-partial-update'),
      vtlProtectNoFlush: b.has('vtl-protect-no-flush'),
      pinLeakOnError: b.has('pkvm-pin-leak-on-error'),
      ffaUnshareUnchecked: b.has('pkvm-ffa-unshare-unchecked'),
      forceReclaimNoZero: b.has('pkvm-force-reclaim-no-zero'),
      memattrRangeWrap: b.has('memattr-range-wrap'),
      teardownTableLeak: b.has('hv-teardown-table-leak'),
      shareEnomemHalfDone: b.has('pkvm-share-enomem-half-done'),
      enomemUndoKeepsTables: b.has('hv-enomem-undo-keeps-tables'),
      memcacheDonateBeforePop: b.has('pkvm-memcache-donate-before-pop'),
      undonateNeverDonated: b.has('pkvm-undonate-never-donated'),
      eptWalkerStalePte: b.has('ept-walker-stale-pte'),
    };
    this.ramFrames = config.framesMax - this.opts.poolFrames;
    this.arm64 = pkvmProfileOf(this.opts) === 'arm64';
    this.memFaultRwx = memFaultFlagsOf(this.opts) === 'vsm';
    this.lazyHost = this.arm64;
    this.memcacheVm = memcacheModeOf(this.opts) === 'vm';
    this.mmioFirst = this.opts.mmioPfn ?? 0;
    this.mmioEnd = this.mmioFirst + (this.opts.mmioPages ?? 0);
    this.aliasBit = config.kvmXo ? 2 ** (config.maxPhyAddr - 1) : 0;
    this.aliasGfn = this.aliasBit / 4096;
    this.gfnLimit = this.aliasBit !== 0 ? this.aliasGfn : 2 ** (config.maxPhyAddr - 12);
    const mem = this.machine.mem;
    this.pool = new PagePool(mem, this.ramFrames, config.framesMax);
    const host = EptTables.create(mem, this.pool);
    if (host === null) throw new RangeError('hv: pool too small for the host EPT');
    host.staleWalkFree = this.bugs.eptWalkerStalePte;
    this.host = host;
    // pKVM init (§1.1): every RAM page identity-mapped OWNED (WB, RWX), 2 MiB leaves where whole;
    // the pool stays unmapped (all-zero entries: NOPAGE, owner 0 = hyp). Lazily (arm64): the same
    // tables, with no leaf in them; a host fault maps the page (2 MiB where the table allows),
    // so that mapping never allocates (docs/hypervisor.md "Source profiles").
    // memcache 'vm': a page table under every 2 MiB of RAM from boot (upstream's host_s2_pool
    // "has been provided with enough pages to cover all of memory with page granularity"), so no
    // host transition ever needs a page.
    const hostHuge = this.opts.hugePages && !this.memcacheVm;
    for (let f = 0; f < this.ramFrames && this.lazyHost;) {
      const whole = f % 512 === 0 && f + 512 <= this.ramFrames && hostHuge;
      if (!host.install(f * 4096, whole ? 2 : 1, 0, 0)) throw new RangeError('hv: pool too small for the host EPT');
      f += whole ? 512 : 512 - (f % 512);
    }
    for (let f = 0; f < this.ramFrames && !this.lazyHost;) {
      if (f % 512 === 0 && f + 512 <= this.ramFrames && hostHuge) {
        if (!host.install(f * 4096, 2, this.hostLeafLo(f, RWX) | EPT_PS, PS_OWNED << STATE_SHIFT_HI)) throw new RangeError('hv: pool too small for the host EPT');
        f += 512;
      } else {
        if (!host.install(f * 4096, 1, this.hostLeafLo(f, RWX), PS_OWNED << STATE_SHIFT_HI)) throw new RangeError('hv: pool too small for the host EPT');
        f += 1;
      }
    }
    this.ctx = [];
    for (let i = 0; i < config.vcpus; i++) {
      const v = this.machine.vcpus[i];
      // Every context starts with paging off (la = gpa): docs/hypervisor.md "Guest state".
      this.loadRegs(v, INITIAL_REGS);
      this.ctx.push({ vm: OWNER_HOST, vtl: 0 });
      this.loadEptp(i);
    }
    mem.beginOp();
  }

  /** Whether `pfn` is in the host MMIO window (device memory: no pKVM transition takes it). */
  isMmio(pfn: number): boolean {
    return pfn >= this.mmioFirst && pfn < this.mmioEnd;
  }

  /** A host identity-map leaf: WB for RAM, UC (memory type 0) for the MMIO window (§1.1: holes mapped as MMIO, UC). */
  private hostLeafLo(pfn: number, rights: number): number {
    return ((pfn * 4096) | rights | (this.isMmio(pfn) ? 0 : EPT_WB)) >>> 0;
  }

  // ------------------------------------------------------------------------------------------
  // MachineApi (hv flavour)

  apply(op: AnyOp): AnyOutcome {
    this.machine.mem.beginOp();
    // Per-op records are reset by count, not reallocated (the VSM hot path allocates nothing here).
    if (this.touchedPfns.size !== 0) this.touchedPfns.clear();
    this.touchedGfnCount = 0;
    this.reducedCount = 0;
    if (this.returnedPrivate.length !== 0) this.returnedPrivate.length = 0;
    this.lastOp = op;
    this.mutationsAtStart = this.mutations;
    const out = applyHvOp(this, op);
    this.lastOutcome = out;
    return out;
  }

  readPhys(hpa: number, size: number): bigint {
    return this.machine.mem.readBytes(hpa, size);
  }

  /** Free pool frames (MachineApi.poolFree; what hv_query reports as `pool`). */
  poolFree(): number {
    return this.pool.available;
  }

  frameBytes(frame: number): Uint8Array | null {
    return this.pool.contains(frame) || this.cacheTable(frame) ? null : this.machine.mem.frameBytes(frame);
  }

  /** Data frames written by the last op (the hypervisor's own table pages are not guest-visible state). */
  touchedFrames(): readonly number[] {
    return this.machine.mem.touched().filter((f) => !this.pool.contains(f) && !this.cacheTable(f));
  }

  /** Whether host frame `frame` is a table page some VM took from its memory cache (hypervisor data). */
  cacheTable(frame: number): boolean {
    if (!this.memcacheVm) return false;
    for (const vm of this.vms.values()) if (vm.cache.inUse.has(frame)) return true;
    return false;
  }

  /** The VM whose memory cache holds `frame` (free or as a table), or null. */
  cacheOwner(frame: number): number | null {
    if (!this.memcacheVm) return null;
    for (const vm of this.vms.values()) if (vm.cache.holds(frame)) return vm.id;
    return null;
  }

  /** The host pages the last op touched, with their state (replay --json's per-step record). */
  touchedPages(): PageState[] {
    const pfns = new Set(this.touchedPfns);
    for (let i = 0; i < this.touchedGfnCount; i++) {
      const key = this.touchedGfnKeys[i];
      const id = Math.floor(key / 2 ** 40);
      const rec = this.vms.get(id)?.pages.get((key - id * 2 ** 40) % (this.aliasGfn || 2 ** 40));
      if (rec !== undefined) pfns.add(rec.pfn);
    }
    return [...pfns].sort((a, b) => a - b).slice(0, TOUCHED_PAGES_MAX).map((pfn) => {
      const { host, owner, hyp, pins, shares, ffa, guests } = pageView(this, OWNER_HOST, pfn, 0);
      return { pfn, host, owner, hyp, pins, shares, ffa, guests };
    });
  }

  // ------------------------------------------------------------------------------------------
  // Contexts

  vmOf(cpu: number): Vm | null {
    const c = this.ctx[cpu];
    return c.vm === OWNER_HOST ? null : this.vms.get(c.vm) ?? null;
  }

  /** Switches `cpu` to (vm, vtl): saves and restores the per-context registers, programs EPTP/SPPTP/controls. */
  switchTo(cpu: number, vm: number, vtl: number): void {
    const v = this.machine.vcpus[cpu];
    const c = this.ctx[cpu];
    this.savedRegs.set(c.vm * 4096 + c.vtl * 16 + cpu, { cr0: v.cr0, cr3: v.cr3, cr4: v.cr4, efer: v.efer, cpl: v.cpl, ac: v.ac, pkru: v.pkru, pkrs: v.pkrs });
    c.vm = vm;
    c.vtl = vtl;
    this.loadRegs(v, this.savedRegs.get(vm * 4096 + vtl * 16 + cpu) ?? INITIAL_REGS);
    this.loadEptp(cpu);
  }

  /**
   * Loads a context's registers. No TLB flush: combined mappings are tagged by EP4TA and every
   * context has its own EPT root, so another context's mappings never serve this one.
   */
  private loadRegs(v: Vcpu, r: Readonly<GuestRegs>): void {
    v.cr0 = r.cr0;
    v.cr3 = r.cr3;
    v.cr4 = r.cr4;
    v.efer = r.efer;
    v.cpl = r.cpl;
    v.ac = r.ac;
    v.pkru = r.pkru;
    v.pkrs = r.pkrs;
  }

  /** Forgets the saved registers of every context of `vm` (its handle may be reused). */
  forgetContexts(vm: number): void {
    for (const k of [...this.savedRegs.keys()]) if (Math.floor(k / 4096) === vm) this.savedRegs.delete(k);
  }

  /**
   * A guest register write (MOV CR, WRMSR, WRPKRU, CPL, RFLAGS.AC) on the context loaded on `cpu`.
   * The hardware's checks and TLB effects apply; under kvmXo a CR3 address at or above the guest
   * MAXPHYADDR (one below the host's, ref §5.2) is #GP. False = #GP, nothing changed.
   */
  setGuestReg(cpu: number, reg: Reg, value: bigint): boolean {
    if (reg === 'cr3' && value >= 0n && value >= 2n ** BigInt(guestMaxPhyAddr(this.config))) return false;
    return this.machine.vcpus[cpu].setReg(reg, value, this.config);
  }

  /** INVLPG in the context loaded on `cpu`. */
  invlpg(cpu: number, la: number): void {
    const v = this.machine.vcpus[cpu];
    v.ctlb.dropPage(v.vpid, Math.floor(la / 4096));
  }

  /** Programs the VMCS fields of `cpu` for its context (VM entry would check them; they are valid by construction). */
  loadEptp(cpu: number): void {
    const v = this.machine.vcpus[cpu];
    const c = this.ctx[cpu];
    const vm = c.vm === OWNER_HOST ? null : this.vms.get(c.vm);
    const root = vm ? vm.views[c.vtl].root : this.host.root;
    v.eptp = root * 4096 + 0x1e; // WB, 4-level, no EPT A/D
    // vtlMbec: the VM's views run with MBEC (X = XS for supervisor-mode, XU for user-mode linear addresses).
    v.ctls2 = CTL2_EPT | CTL2_VPID | (vm && vm.sppEnabled ? CTL2_SPP : 0) | (vm && this.opts.vtlMbec ? CTL2_MBEC : 0);
    v.spptp = vm && vm.spptRoot >= 0 ? vm.spptRoot * 4096 : 0;
  }

  /** INVEPT all-context on every logical processor (ref §6.3: before the call returns). */
  flushAll(): void {
    this.flushes++;
    // Only guest accesses fill TLBs: with none since the last flush every TLB is already empty.
    if (!this.tlbMaybeFilled) return;
    this.tlbMaybeFilled = false;
    for (const v of this.machine.vcpus) invept(v, 2, 0n, this.config);
  }

  // ------------------------------------------------------------------------------------------
  // Host EPT (pKVM page state of host pages)

  /** pKVM state of host page `pfn` from its host EPT leaf, and `hostOwner` for NOPAGE. */
  hostOwner = 0;
  hostState(pfn: number): number {
    const h = this.host;
    if (!h.find(pfn * 4096)) {
      // No entry: a RAM page the lazy host EPT has not mapped yet is the host's (arm64's vmemmap
      // keeps its state); else NOPAGE owned by the hypervisor (x86: an all-zero entry, §1.1).
      const lazyOwned = this.lazyHost && pfn < this.ramFrames;
      this.hostOwner = lazyOwned ? OWNER_HOST : 0;
      return lazyOwned ? PS_OWNED : PS_NOPAGE;
    }
    const state = (h.hi & STATE_MASK_HI) >>> STATE_SHIFT_HI;
    this.hostOwner = state === PS_NOPAGE ? (h.lo >>> OWNER_SHIFT_LO) & 0xfffff : OWNER_HOST;
    return state;
  }

  /** Table pages needed to give `pfn` its own 4 KiB host leaf. */
  hostNeed(pfn: number): number {
    return this.host.need(pfn * 4096, 1);
  }

  /** Sets the host leaf of `pfn` (4 KiB, splitting a 2 MiB leaf): present RWX with `state`, or NOPAGE with `owner`. */
  setHost(pfn: number, state: number, owner: number): boolean {
    const was = this.hostState(pfn);
    const lo = state === PS_NOPAGE ? (owner << OWNER_SHIFT_LO) >>> 0 : this.hostLeafLo(pfn, RWX);
    // Lazily (arm64) an empty entry means "not mapped yet", so a NOPAGE annotation carries a mark.
    const hi = (state << STATE_SHIFT_HI) | (state === PS_NOPAGE && this.lazyHost ? HOST_ANNOTATION_HI : 0);
    if (!this.host.install(pfn * 4096, 1, lo, hi >>> 0)) return false;
    this.mutations++;
    this.touchedPfns.add(pfn);
    if (was !== PS_NOPAGE && state === PS_NOPAGE) this.noteReduced(this.host.root, pfn);
    return true;
  }

  /** Sets the state of a whole 2 MiB host leaf in place (block shares); false if it is not one 2 MiB leaf. */
  setHostBlock(pfn: number, state: number): boolean {
    const h = this.host;
    if (!h.find(pfn * 4096) || h.level !== 2) return false;
    h.rewrite(h.lo, (h.hi & ~STATE_MASK_HI) | (state << STATE_SHIFT_HI));
    this.mutations++;
    for (let i = 0; i < 512; i++) this.touchedPfns.add(pfn + i);
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Guest EPT views

  touchGfn(vm: Vm, gfn: number): void {
    this.touchedGfnKeys[this.touchedGfnCount++] = vm.id * 2 ** 40 + gfn;
  }

  /** Records a leaf of table `root` whose rights this op reduced (hv.no-stale-access checks the TLBs for it). */
  noteReduced(root: number, page: number): void {
    this.reduced[this.reducedCount++] = root;
    this.reduced[this.reducedCount++] = page;
  }

  /** EPT rights VTL `view` of `vm` may have at `gfn` (alias: the XO alias of gfn), before wp/aging/SPP. */
  baseRights(vm: Vm, view: number, gfn: number, alias: boolean, rec: PageRec): number {
    return this.rightsFrom(vm, view, gfn, alias, rec.prot, rec.fromSlot);
  }

  /** `baseRights` from a record's granted rights and memslot. */
  rightsFrom(vm: Vm, view: number, gfn: number, alias: boolean, prot: number, fromSlot: number): number {
    // Under vtlMbec an execute right is both XS and XU until a VTL protection tells them apart.
    const xx = this.opts.vtlMbec ? XX : X;
    let r = (prot & X) !== 0 ? prot | xx : prot;
    const slot = fromSlot >= 0 ? vm.slots.get(fromSlot) : undefined;
    if (slot !== undefined) {
      if (slot.flags & KVM_MEM_READONLY) r &= ~W;
      if (slot.flags & KVM_MEM_EXECONLY) r &= xx;
    }
    if (alias) r = xx;
    const a = vm.attrs.get(gfn) ?? 0;
    if (vm.type === 'protected' && (a & MEMATTR_PRIVATE) === 0) return 0;
    if (a & MEMATTR_NR) r &= ~R;
    if (a & MEMATTR_NW) r &= ~W;
    if (a & MEMATTR_NX) r &= ~xx;
    for (let s = view + 1; s < this.opts.vtls; s++) {
      const m = vm.vtlProt[s]?.get(gfn); // VTL s's protections bind every VTL below it
      if (m !== undefined) r &= m;
    }
    return r;
  }

  sppProtected(vm: Vm, gfn: number): boolean {
    return vm.sppEnabled && (vm.sppVectors.get(gfn) ?? SPP_ALL_WRITABLE) !== SPP_ALL_WRITABLE;
  }

  /** The leaf for (vm, view, gpa) from the bookkeeping, keeping wp/aged status from `prevLo/prevHi`. */
  /** Output of `leafBits` (fields, so the VSM hot path allocates nothing). */
  leafLo = 0;
  leafHi = 0;

  leafBits(vm: Vm, view: number, gpa: number, level: number, rec: PageRec, prevLo: number, prevHi: number): void {
    const alias = this.aliasBit !== 0 && gpa >= this.aliasBit;
    const gfn = Math.floor(gpa / 4096) - (alias ? this.aliasGfn : 0);
    // A 2 MiB leaf is built from the record of its first page (gpa is block-aligned then).
    const first = level === 2 ? vm.pages.get(gfn) ?? rec : rec;
    this.leafFrom(vm, gfn, level, first.pfn, first.state, this.baseRights(vm, view, gfn, alias, first), prevLo, prevHi);
  }

  /** `leafBits` from the page's frame, pKVM state and rights (`baseRights`). */
  private leafFrom(vm: Vm, gfn: number, level: number, pfn: number, state: number, r: number, prevLo: number, prevHi: number): void {
    const spp = level === 1 && (r & W) !== 0 && this.sppProtected(vm, gfn);
    let lo = (pfn * 4096) | EPT_WB | (level === 2 ? EPT_PS : 0);
    let hi = state << STATE_SHIFT_HI;
    const wp = (prevHi & WP_HI) !== 0;
    if ((prevLo & AGED_LO) !== 0) {
      lo |= AGED_LO;
      hi |= (r & R ? SAVED_R_HI : 0) | (r & W && !wp && !spp ? SAVED_W_HI : 0) | (r & X ? SAVED_X_HI : 0) | (spp ? SPP_SAVED_HI : 0) | (wp ? WP_HI : 0);
    } else if (wp) {
      lo |= r & ~W;
      hi |= WP_HI | (spp ? SPP_SAVED_HI : 0);
    } else {
      lo |= spp ? r & ~W : r;
      hi |= spp ? SPP_HI : 0;
    }
    this.leafLo = lo >>> 0;
    this.leafHi = hi >>> 0;
  }

  /** Installs a fresh leaf for `gpa` in `view`; false on ENOMEM. */
  mapLeaf(vm: Vm, view: number, gpa: number, level: number, rec: PageRec): boolean {
    this.leafBits(vm, view, gpa, level, rec, 0, 0);
    if (!vm.views[view].install(level === 2 ? gpa - (gpa % 2 ** 21) : gpa, level, this.leafLo, this.leafHi)) return false;
    this.mutations++;
    this.touchGfn(vm, Math.floor(gpa / 4096));
    return true;
  }

  /**
   * Recomputes the existing leaf covering `gpa` in `view` from the bookkeeping (state, rights,
   * SPP), keeping its wp/aged status. Records a reduction when rights shrink. No-op if unmapped.
   */
  refreshLeaf(vm: Vm, view: number, gpa: number): void {
    if (vm.views[view].find(gpa)) this.refreshFound(vm, view, gpa);
  }

  /** `refreshLeaf` for the leaf the view's last `find(gpa)` returned. */
  refreshFound(vm: Vm, view: number, gpa: number): void {
    const t = vm.views[view];
    const alias = this.aliasBit !== 0 && gpa >= this.aliasBit;
    const gfn = Math.floor(gpa / 4096) - (alias ? this.aliasGfn : 0);
    const rec = vm.pages.get(gfn);
    if (rec === undefined) return;
    this.leafBits(vm, view, t.level === 2 ? gpa - (gpa % 2 ** 21) : gpa, t.level, rec, t.lo, t.hi);
    this.rewriteFound(vm, view, gpa);
  }

  /**
   * `refreshFound` after a change of VTL protections only (the VSM hot path): a 4 KiB leaf is
   * recomputed from the record's compact facts, with frame and pKVM state from the leaf itself
   * (where pKVM keeps the state, §1.1), so no large map or scattered record is read.
   */
  refreshRightsFound(vm: Vm, view: number, gpa: number): void {
    const t = vm.views[view];
    if (t.level !== 1 || (this.aliasBit !== 0 && gpa >= this.aliasBit)) {
      this.refreshFound(vm, view, gpa);
      return;
    }
    const gfn = Math.floor(gpa / 4096);
    const facts = vm.pages.factsOf(gfn);
    if (facts < 0) return;
    const r = this.rightsFrom(vm, view, gfn, false, facts & 7, (facts >>> 3) - 1);
    const pfn = ((t.lo & 0xfffff000) >>> 0) / 4096 + (t.hi & 0xfffff) * 2 ** 20;
    this.leafFrom(vm, gfn, 1, pfn, (t.hi & STATE_MASK_HI) >>> STATE_SHIFT_HI, r, t.lo, t.hi);
    this.rewriteFound(vm, view, gpa);
  }

  /** Writes `leafLo/leafHi` over the found leaf when they differ; records the change and any reduction. */
  private rewriteFound(vm: Vm, view: number, gpa: number): void {
    const t = vm.views[view];
    const oldLo = t.lo;
    const oldHi = t.hi;
    const lo = this.leafLo;
    const hi = this.leafHi;
    if (lo === oldLo && hi === oldHi) return;
    t.rewrite(lo, hi);
    this.mutations++;
    this.touchGfn(vm, Math.floor(gpa / 4096));
    if ((oldLo & (7 | UX) & ~lo) !== 0 || ((hi & SPP_HI) !== 0 && (oldHi & SPP_HI) === 0)) this.noteReducedLeaf(t.root, t.level, gpa);
  }

  /**
   * Records every 4 KiB page of the leaf at `level` covering `gpa` whose rights this op reduced: a
   * 2 MiB leaf's 512 pages (a TLB caches a page of it under that page's own GPA, so a stale entry
   * of any of them is stale: hv.no-stale-access).
   */
  private noteReducedLeaf(root: number, level: number, gpa: number): void {
    const page = Math.floor(gpa / 4096);
    if (level !== 2) {
      this.noteReduced(root, page);
      return;
    }
    const base = page - (page % 512);
    for (let p = base; p < base + 512; p++) this.noteReduced(root, p);
  }

  /** Refreshes the leaves of gfn (and its XO alias) in every view. */
  refreshGfn(vm: Vm, gfn: number): void {
    for (let v = 0; v < vm.views.length; v++) {
      this.refreshLeaf(vm, v, gfn * 4096);
      if (this.aliasBit !== 0) this.refreshLeaf(vm, v, (gfn + this.aliasGfn) * 4096);
    }
  }

  /** Removes the leaves of gfn (and its alias) from every view (a 2 MiB leaf goes whole). */
  unmapGfn(vm: Vm, gfn: number): void {
    for (let v = 0; v < vm.views.length; v++) {
      for (const g of this.aliasBit !== 0 ? [gfn, gfn + this.aliasGfn] : [gfn]) {
        const t = vm.views[v];
        if (!t.find(g * 4096)) continue;
        const level = t.level;
        t.rewrite(0, 0);
        this.mutations++;
        this.touchGfn(vm, g);
        this.noteReducedLeaf(t.root, level, g * 4096);
      }
    }
  }

  /** Splits a 2 MiB view-0 leaf covering gfn (state copied to the children); false on ENOMEM. */
  splitAt(vm: Vm, gfn: number): boolean {
    const t = vm.views[0];
    if (!t.find(gfn * 4096) || t.level !== 2) return true;
    if (!t.split(gfn * 4096, 2)) return false;
    this.mutations++;
    return true;
  }

  /** Pool pages `splitAt` needs over [gfn, gfn + n). */
  splitNeed(vm: Vm, gfn: number, n: number): number {
    let need = 0;
    const t = vm.views[0];
    for (let g = gfn; g < gfn + n; g++) {
      if (t.find(g * 4096) && t.level === 2) {
        need++;
        g = g - (g % 512) + 511;
      }
    }
    return need;
  }

  // ------------------------------------------------------------------------------------------
  // Guest accesses

  /**
   * Undo log of the guest access in progress, opened at its first allocating exit (null: none yet).
   * docs/hypervisor.md: an access answered -ENOMEM changes nothing from its first allocating exit
   * on. Each fault reserves its own table pages before it changes anything (KVM's per-fault
   * memcache top-up), so only a later fault of the same access (a page-crossing access, a guest
   * walk) can run dry after an earlier one succeeded: the earlier lazy mappings are then taken
   * back, as if the pool had been reserved for the whole access first. The table pages they took
   * stay allocated (empty), which no guest or VMM observes.
   */
  private accessUndo: Array<() => void> | null = null;

  /** Opens the access's undo log (at its first allocating exit). */
  private undoLog(): Array<() => void> {
    if (this.accessUndo === null) this.accessUndo = [];
    return this.accessUndo;
  }

  access(cpu: number, la: number, size: number, kind: number, value: bigint): AnyOutcome {
    this.accessUndo = null;
    // The tables this access adds to the host EPT and the VM's views are taken back with it when
    // it ends in -ENOMEM (docs/hypervisor.md "The page pool"): the pool, the views and what the
    // next share takes from the VM's cache are as before the access, so -ENOMEM comes exactly
    // where the pages run out. (Planted hv-enomem-undo-keeps-tables: they stay, linked and empty.)
    const vm = this.bugs.enomemUndoKeepsTables ? null : this.vmOf(cpu);
    if (vm !== null) {
      this.host.startLog();
      for (const t of vm.views) t.startLog();
    }
    try {
      const out = this.accessOnce(cpu, la, size, kind, value);
      if (vm !== null && out.kind === 'ret' && out.value === -ENOMEM) {
        let unlinked = this.host.allocLog!.length > 0;
        for (let v = vm.views.length - 1; v >= 0; v--) {
          if (vm.views[v].allocLog!.length > 0) unlinked = true;
          vm.views[v].unlinkTables(vm.views[v].allocLog!);
        }
        this.host.unlinkTables(this.host.allocLog!);
        // The access's earlier parts may have filled TLBs through the tables taken back (a
        // page-crossing read whose first page a lazy map served): flush, as after any reduction.
        if (unlinked) {
          this.tlbMaybeFilled = true; // the access ran after any flush its exits made
          this.flushAll();
          this.mutations++;
        }
      }
      return out;
    } finally {
      this.accessUndo = null;
      // A flush an exit made (a top-up's, an undo's) cleared the flag, and the access then went on
      // filling TLBs: the next flush must not be skipped.
      this.tlbMaybeFilled = true;
      if (vm !== null) {
        this.host.allocLog = null;
        for (const t of vm.views) t.allocLog = null;
      }
    }
  }

  private accessOnce(cpu: number, la: number, size: number, kind: number, value: bigint): AnyOutcome {
    const m = this.machine;
    const lo = Number(value & 0xffffffffn);
    const hi = Number((value >> 32n) & 0xffffffffn);
    let exits: number[] | null = null;
    this.tlbMaybeFilled = true;
    for (let i = 0; i < ACCESS_RETRIES_MAX; i++) {
      const r = m.access(cpu, la, size, kind, lo, hi);
      if (r !== A_EXIT) {
        let then: Outcome;
        if (r === A_PF) then = { kind: 'pf', code: m.pfCode, cr2: m.pfCr2 };
        else if (kind === ACC_READ) then = { kind: 'data', value: (BigInt(m.readHi) << 32n) | BigInt(m.readLo) };
        else then = OK;
        if (r === A_OK && kind === ACC_WRITE) this.touchedGfnOfWrite(cpu, la, size);
        return exits === null ? then : { kind: 'handled', exits, then };
      }
      if (exits === null) exits = [];
      exits.push(m.exitReason);
      // The exit's own access decides (a guest-walk read or A/D write may fault, not the data access).
      const q = m.exitQual;
      this.lastExitFinal = (q & QUAL_XLAT) !== 0;
      const exitKind = m.exitReason !== EXIT_EPT_VIOLATION ? kind : (q & QUAL_WR) !== 0 ? ACC_WRITE : (q & QUAL_FETCH) !== 0 ? ACC_FETCH : ACC_READ;
      const res = this.handleExit(cpu, exitKind, m.exitReason, m.exitQual, m.exitGpa, exits);
      if (res !== null) {
        const undo = this.accessUndo;
        if (res.kind === 'ret' && res.value === -ENOMEM && undo !== null && undo.length > 0) {
          for (let k = undo.length - 1; k >= 0; k--) undo[k]();
          this.tlbMaybeFilled = true; // the access ran after any flush its exits made
          this.flushAll();
          this.mutations++;
        }
        return res;
      }
    }
    throw new Error(`hv: access at ${la.toString(16)} on cpu ${cpu} did not converge after ${ACCESS_RETRIES_MAX} exits`);
  }

  private touchedGfnOfWrite(cpu: number, la: number, size: number): void {
    const vm = this.vmOf(cpu);
    if (vm === null) return;
    for (const a of [la, la + size - 1]) {
      const gpa = this.gpaOfLinear(cpu, a % 2 ** 48);
      if (gpa >= 0) this.touchGfn(vm, Math.floor(gpa / 4096));
    }
  }

  /**
   * Whether a cached translation with rights `bits` to host page of the XO alias GPA `gpa` (which
   * the guest's tables now name) was made through the alias's gfn: the two share a host page, and
   * the cached entry has a data right the alias leaf of the cpu's view does not grant (the alias is
   * execute-only), so no walk through the alias gave it.
   */
  private cachedThroughGfn(cpu: number, vm: Vm, gpa: number, bits: number): boolean {
    if (this.aliasBit === 0 || gpa < this.aliasBit) return false;
    const data = bits & (T_R | T_W);
    if (data === 0) return false;
    const t = vm.views[this.ctx[cpu].vtl];
    const lo = t !== undefined && t.find(gpa - (gpa % 4096)) ? t.lo : 0;
    const granted = ((lo & R) !== 0 ? T_R : 0) | ((lo & W) !== 0 ? T_W : 0);
    return (data & ~granted) !== 0;
  }

  /** Host address of guest-physical `gpa` in the context loaded on `cpu` (the hypervisor's records; -1: none). */
  hpaOfGpa(cpu: number, gpa: number): number {
    const vm = this.vmOf(cpu);
    if (vm === null) return gpa < this.ramFrames * 4096 ? gpa : -1;
    const alias = this.aliasBit !== 0 && gpa >= this.aliasBit;
    const rec = vm.pages.get(Math.floor(gpa / 4096) - (alias ? this.aliasGfn : 0));
    return rec === undefined ? -1 : rec.pfn * 4096 + (gpa % 4096);
  }

  /**
   * The guest-physical address a completed access at `la` on `cpu` used (-1: unknown). With paging
   * off, `la`. With paging on: a debug walk of the guest's tables (no checks, no A/D), cross-checked
   * with the combined mapping the access left; if the guest changed its tables without INVLPG and
   * the access used the old mapping, the gfn that holds the cached host page.
   */
  gpaOfLinear(cpu: number, la: number): number {
    const v = this.machine.vcpus[cpu];
    if ((v.cr0 & CR0_PG) === 0) return la;
    const mem = this.machine.mem;
    const addrMask = 2 ** this.config.maxPhyAddr;
    let table = v.cr3 - (v.cr3 % 4096);
    let gpa = -1;
    for (let level = 4; level >= 1; level--) {
      const span = 2 ** (12 + 9 * (level - 1));
      const hpa = this.hpaOfGpa(cpu, table + (Math.floor(la / span) % 512) * 8);
      if (hpa < 0) break;
      const lo = mem.read32(hpa);
      const hi = mem.read32(hpa + 4);
      if ((lo & 1) === 0) break;
      const addr = (((lo & 0xfffff000) >>> 0) + (hi & 0xfffff) * 2 ** 32) % addrMask;
      if (level === 1 || (level <= 3 && (lo & 0x80) !== 0)) {
        gpa = addr - (addr % span) + (la % span);
        break;
      }
      table = addr;
    }
    const vm = this.vmOf(cpu);
    const slot = v.ctlb.find(v.vpid, Math.floor(v.eptp / 4096) * 4096, Math.floor(la / 4096));
    if (slot < 0 || vm === null) return gpa;
    const hpaPage = v.ctlb.hpaPageAt(slot);
    const walked = gpa < 0 ? -1 : this.hpaOfGpa(cpu, gpa);
    if (walked >= 0 && Math.floor(walked / 4096) === hpaPage) return this.cachedThroughGfn(cpu, vm, gpa, v.ctlb.bitsAt(slot)) ? gpa - this.aliasBit : gpa;
    const gfns = vm.pages.gfnsOf(hpaPage);
    return gfns.length > 0 ? gfns[0] * 4096 + (la % 4096) : gpa;
  }

  /** An exit to user space (or a host abort) for the access that took the machine's last exit: `size` is its byte count there. */
  private hvExit(exit: HvExit, gpa: number, info: number, exits: number[]): AnyOutcome {
    return { kind: 'hv_exit', exit, gpa, size: this.machine.exitLen, info, exits };
  }

  /** One hardware exit of a guest access: null = retry, else the outcome that ends the access. */
  private handleExit(cpu: number, kind: number, reason: number, qual: number, gpa: number, exits: number[]): AnyOutcome | null {
    const vm = this.vmOf(cpu);
    if (reason === EXIT_EPT_MISCONFIG) return this.hvExit('unknown', gpa, reason, exits);
    if (vm === null) {
      // Lazy host EPT (arm64 host_stage2_idmap): a RAM page with no entry yet is mapped and the access retried.
      if (reason === EXIT_EPT_VIOLATION && this.lazyHost && this.hostIdmap(Math.floor(gpa / 4096))) return null;
      // pKVM: a host access the host EPT denies is a page the host does not own (§3 I4): abort.
      return this.hvExit(reason === EXIT_EPT_VIOLATION ? 'abort' : 'unknown', gpa, reason, exits);
    }
    if (reason === EXIT_SPP) {
      if ((qual & SPP_QUAL_MISS) === 0) return this.hvExit('unknown', gpa, reason, exits);
      // ref §3.5: SPPT entries are built lazily at the SPPT-miss exit.
      const made: number[] = [];
      if (!buildSpptRegion(this, vm, Math.floor(gpa / 4096), made)) return { kind: 'ret', value: -ENOMEM };
      if (made.length > 0) this.undoLog().push(() => dropSpptTables(this, vm, made));
      return null;
    }
    if (reason !== EXIT_EPT_VIOLATION) return this.hvExit('unknown', gpa, reason, exits);
    return this.eptFault(cpu, vm, this.ctx[cpu].vtl, kind, gpa, exits);
  }

  /** The access's KVM_EXIT_MEMORY_FAULT flags: R/W/X under memFaultFlags 'vsm', none upstream. */
  /**
   * Maps RAM page `pfn` into the lazy host EPT if it has no entry (false: it has one, or is not
   * RAM: the abort path). A 2 MiB leaf when the region has no table below its PD entry (nothing in
   * it was ever mapped or annotated, and huge pages are on), else a 4 KiB leaf; the tables exist
   * from boot, so this never allocates.
   */
  private hostIdmap(pfn: number): boolean {
    const h = this.host;
    if (pfn >= this.ramFrames || h.find(pfn * 4096)) return false;
    // A page table with no entry in it (left by an -ENOMEM undo) counts as empty: the 2 MiB leaf
    // replaces it and the table goes back to the pool (EptTables.install).
    const region = pfn - (pfn % 512);
    const block = !this.memcacheVm && (h.level >= 2 || (this.opts.hugePages && region + 512 <= this.ramFrames && this.hostRegionEmpty(region)));
    const base = block ? pfn - (pfn % 512) : pfn;
    if (!h.install(base * 4096, block ? 2 : 1, this.hostLeafLo(base, RWX) | (block ? EPT_PS : 0), PS_OWNED << STATE_SHIFT_HI)) {
      throw new Error('hv: the lazy host EPT allocated a table');
    }
    this.mutations++;
    return true;
  }

  /** Whether no page of the 2 MiB host region from `region` has an entry (lazy host EPT). */
  private hostRegionEmpty(region: number): boolean {
    const h = this.host;
    for (let p = region; p < region + 512; p++) if (h.find(p * 4096)) return false;
    return true;
  }

  /** Lazy host EPT: which of `pfns` have no host entry yet (an -ENOMEM undo empties them again). */
  private hostAbsent(pfns: readonly number[]): number[] {
    return this.lazyHost ? pfns.filter((p) => !this.host.find(p * 4096)) : [];
  }

  private accessFlags(kind: number): number {
    if (!this.memFaultRwx) return 0;
    return kind === ACC_READ ? MEMFAULT_READ : kind === ACC_WRITE ? MEMFAULT_WRITE : MEMFAULT_EXEC;
  }

  private eptFault(cpu: number, vm: Vm, view: number, kind: number, gpa: number, exits: number[]): AnyOutcome | null {
    const alias = this.aliasBit !== 0 && gpa >= this.aliasBit;
    const gfn = Math.floor(gpa / 4096) - (alias ? this.aliasGfn : 0);
    const t = vm.views[view];
    const page = gpa - (gpa % 4096);
    if (t.find(page)) {
      if ((t.lo & AGED_LO) !== 0) {
        // Access tracking: the first access after aging restores the leaf (rights from the bookkeeping).
        const rec = vm.pages.get(gfn);
        if (rec === undefined) return this.hvExit('unknown', gpa, EXIT_EPT_VIOLATION, exits);
        this.noteLeafUndo(vm, view, page, t.lo, t.hi);
        this.youngFound(vm, view, page, rec);
        return null;
      }
      if (kind === ACC_WRITE && (t.hi & WP_HI) !== 0) {
        // Dirty logging: the first write makes the leaf writable again; SPP comes back from its
        // saved bit (KVM v12 "a free bit in the EPT entry to store the SPP bit").
        const rec = vm.pages.get(gfn);
        if (rec === undefined) return this.hvExit('unknown', gpa, EXIT_EPT_VIOLATION, exits);
        const base = t.level === 2 ? page - (page % 2 ** 21) : page;
        const r = this.baseRights(vm, view, gfn, alias, rec);
        const spp = (t.hi & SPP_SAVED_HI) !== 0;
        this.noteLeafUndo(vm, view, page, t.lo, t.hi);
        const lo = ((t.lo & ~(7 | UX)) | (spp ? r & ~W : r)) >>> 0;
        const hi = ((t.hi & ~(WP_HI | SPP_SAVED_HI)) | (spp ? SPP_HI : 0)) >>> 0;
        t.rewrite(lo, hi);
        this.mutations++;
        void base;
        return null;
      }
      return this.denial(cpu, vm, view, kind, gpa, gfn, alias, t.hi, t.level, exits, this.machine.exitQual);
    }
    // Not mapped in this view.
    let rec = vm.pages.get(gfn);
    // A force-reclaimed gfn (§2.1 row 15): the guest PTE is a POISONED annotation; KVM_RUN fails with EHWPOISON.
    if (rec === undefined && vm.poisoned.has(gfn)) return this.hvExit('hwpoison', page, this.accessFlags(kind) | MEMFAULT_PRIVATE, exits);
    if (rec === undefined) {
      if (vm.type === 'protected') return this.hvExit('memory_fault', page, this.accessFlags(kind) | MEMFAULT_PRIVATE, exits);
      const slot = vm.slotOf(gfn);
      if (slot === null || vm.dying) return this.hvExit('mmio', gpa, 0, exits);
      if (!shareable(this, slot.pfn + (gfn - slot.gfn))) return this.hvExit('memory_fault', page, this.accessFlags(kind), exits);
      // The share checks the table pages it takes before it changes anything (doShareGuest); the
      // leaf of another view (or the alias) is checked below, after it: a shortage there takes the
      // share back with the access (docs/hypervisor.md "The page pool").
      const spfn = slot.pfn + (gfn - slot.gfn);
      const region = spfn - (spfn % 512);
      const absent = this.hostAbsent(this.lazyHost ? Array.from({ length: 512 }, (_, i) => region + i) : []);
      // memcache 'vm': the host's fault handler first tops the faulting vCPU's cache up to
      // kvm_mmu_cache_min_pages from its own free pages, and the share takes its view-0 tables from
      // there (docs/hypervisor.md "The fault path"); -ENOMEM only when the host has no page to give.
      // The top-up stays whatever the access does next (KVM keeps a vCPU's memcache pages).
      if (this.memcacheVm && faultTopup(this, vm, cpu) !== 0) return { kind: 'ret', value: -ENOMEM };
      const r = autoShare(this, vm, gfn, slot.slot, this.memcacheVm ? cpu : -1);
      if (r === -ENOMEM) return { kind: 'ret', value: -ENOMEM };
      if (r !== 0) return this.hvExit('memory_fault', page, this.accessFlags(kind), exits);
      rec = vm.pages.get(gfn)!;
      {
        const first = rec.block >= 0 ? rec.block : gfn;
        const gfns: number[] = [];
        for (let g = first; g < first + (rec.block >= 0 ? 512 : 1); g++) gfns.push(g);
        this.undoLog().push(() => {
          const recs = gfns.map((g) => vm.pages.get(g)).filter((x): x is PageRec => x !== undefined).map((x) => ({ pfn: x.pfn, block: x.block }));
          dropPages(this, vm, gfns);
          returnToHost(this, recs);
          // Lazily mapped host: the pages had no host entry before this fault; they have none again.
          for (const p of absent) if (this.host.find(p * 4096) && this.hostState(p) === PS_OWNED) this.host.rewrite(0, 0);
        });
      }
      if (view === 0 && !alias) return null;
    }
    if (vm.type === 'protected' && ((vm.attrs.get(gfn) ?? 0) & MEMATTR_PRIVATE) === 0) {
      return this.hvExit('memory_fault', page, this.accessFlags(kind) | MEMFAULT_PRIVATE, exits);
    }
    if (vm.views[view].need(page, 1) + (this.sppProtected(vm, gfn) ? spptNeed(this, vm, gfn) : 0) > this.pool.available) return { kind: 'ret', value: -ENOMEM };
    if (!this.mapLeaf(vm, view, page, 1, rec)) return { kind: 'ret', value: -ENOMEM };
    this.undoLog().push(() => {
      const tv = vm.views[view];
      if (!tv.find(page)) return;
      tv.rewrite(0, 0);
      this.touchGfn(vm, Math.floor(page / 4096));
      this.noteReduced(tv.root, Math.floor(page / 4096));
    });
    if (this.sppProtected(vm, gfn)) {
      const made: number[] = [];
      if (!buildSpptRegion(this, vm, gfn, made)) return { kind: 'ret', value: -ENOMEM };
      if (made.length > 0) this.undoLog().push(() => dropSpptTables(this, vm, made));
    }
    return null;
  }

  /**
   * Makes the aged leaf the view's last `find(page)` returned young again: rights from the
   * bookkeeping, write protection kept (the fault path after access tracking, and mkyoung).
   */
  youngFound(vm: Vm, view: number, page: number, rec: PageRec): void {
    const t = vm.views[view];
    const base = t.level === 2 ? page - (page % 2 ** 21) : page;
    this.leafBits(vm, view, base, t.level, rec, 0, t.hi & WP_HI);
    let lo = this.leafLo;
    let hi = this.leafHi;
    if ((t.hi & SPP_SAVED_HI) === 0) {
      // Bit 61 comes back only from its parked copy (KVM v12): aging that dropped it leaves W.
      if ((hi & SPP_HI) !== 0) lo |= W;
      hi &= ~(SPP_HI | SPP_SAVED_HI);
    }
    t.rewrite(lo >>> 0, hi >>> 0);
    this.mutations++;
  }

  /** While the access's undo log is open: how to put back a leaf an exit is about to rewrite. */
  private noteLeafUndo(vm: Vm, view: number, page: number, lo: number, hi: number): void {
    if (this.accessUndo === null) return;
    this.accessUndo.push(() => {
      const tv = vm.views[view];
      if (tv.find(page)) tv.rewrite(lo >>> 0, hi >>> 0);
    });
  }

  /** A genuine denial by a mapped leaf: tell why, in the order docs/hypervisor.md gives. */
  private denial(cpu: number, vm: Vm, view: number, kind: number, gpa: number, gfn: number, alias: boolean, hi: number, level: number, exits: number[], qual: number): AnyOutcome | null {
    const page = gpa - (gpa % 4096);
    const need = kind === ACC_READ ? R : kind === ACC_WRITE ? W : this.opts.vtlMbec && this.userFetch(cpu, qual) ? UX : X;
    const a = vm.attrs.get(gfn) ?? 0;
    if (vm.type === 'protected' && (a & MEMATTR_PRIVATE) === 0) {
      return this.hvExit('memory_fault', page, this.accessFlags(kind) | MEMFAULT_PRIVATE, exits);
    }
    if (kind === ACC_WRITE && level === 1 && (hi & SPP_HI) !== 0) return this.hvExit('spp', gpa, 0, exits);
    for (let s = this.opts.vtls - 1; s > view; s--) {
      const m = vm.vtlProt[s]?.get(gfn);
      if (m !== undefined && (m & need) === 0) {
        // TLFS: the intercept goes to the VTL that set the protection, which now runs.
        this.switchTo(cpu, vm.id, s);
        return this.hvExit('intercept', gpa, s, exits);
      }
    }
    const nAttr = need === R ? MEMATTR_NR : need === W ? MEMATTR_NW : MEMATTR_NX; // X or UX
    if ((a & nAttr) !== 0) return this.hvExit('memory_fault', page, this.accessFlags(kind), exits);
    const rec = vm.pages.get(gfn);
    const slot = rec !== undefined && rec.fromSlot >= 0 ? vm.slots.get(rec.fromSlot) : undefined;
    if (kind === ACC_WRITE && slot !== undefined && (slot.flags & KVM_MEM_READONLY) !== 0) return this.hvExit('mmio', gpa, 0, exits);
    void alias;
    return this.hvExit('memory_fault', page, this.accessFlags(kind), exits);
  }

  /**
   * Whether the fetch whose EPT violation (qualification `qual`, MBEC on) is being handled was from a
   * user-mode linear address: the qualification's XS/XU pair tells when exactly one was granted;
   * else the advanced exit information; else a walk of the guest's tables (U/S at every level).
   */
  private userFetch(cpu: number, qual: number): boolean {
    const px = (qual & QUAL_PX) !== 0;
    const pux = (qual & QUAL_PUX) !== 0;
    if (px !== pux) return px;
    if (this.config.caps.advExitInfo && (qual & (QUAL_GLA_VALID | QUAL_XLAT)) === (QUAL_GLA_VALID | QUAL_XLAT)) return (qual & QUAL_ADV_USER) !== 0;
    return this.isUserLinear(cpu, this.machine.exitGla);
  }

  /**
   * Whether `la` is a user-mode linear address in the context on `cpu` (U/S = 1 at every guest
   * paging level; paging off: never): from the combined TLB entry when the cpu holds one (what
   * the hardware used), else a walk of the guest's tables.
   */
  isUserLinear(cpu: number, la: number): boolean {
    const v = this.machine.vcpus[cpu];
    if ((v.cr0 & CR0_PG) === 0 || la < 0) return false;
    const slot = v.ctlb.find(v.vpid, Math.floor(v.eptp / 4096) * 4096, Math.floor(la / 4096));
    if (slot >= 0) return (v.ctlb.bitsAt(slot) & C_US) !== 0;
    const mem = this.machine.mem;
    let table = v.cr3 - (v.cr3 % 4096);
    for (let level = 4; level >= 1; level--) {
      const span = 2 ** (12 + 9 * (level - 1));
      const hpa = this.hpaOfGpa(cpu, table + (Math.floor(la / span) % 512) * 8);
      if (hpa < 0) return false;
      const lo = mem.read32(hpa);
      const hi = mem.read32(hpa + 4);
      if ((lo & 1) === 0 || (lo & 4) === 0) return false;
      if (level === 1 || (level <= 3 && (lo & 0x80) !== 0)) return true;
      table = ((((lo & 0xfffff000) >>> 0) + (hi & 0xfffff) * 2 ** 32) % 2 ** this.config.maxPhyAddr);
    }
    return false;
  }

  /** The hypervisor's refcount of host page `pfn` (0: not pinned). */
  pinCount(pfn: number): number {
    return this.pins.get(pfn) ?? 0;
  }

  /** np-guest leaves borrowing host page `pfn` (arm64's host_share_guest_count). */
  shareCount(pfn: number): number {
    return this.shareCounts.get(pfn) ?? 0;
  }

  // Exposed for ops.ts.
  readonly maxVtl = MAX_VTL;
  readonly EPERM = EPERM;
}
