/**
 * The hv reference model (ReferenceModelApi over AnyOp): what a guest or the VMM may observe in
 * hv mode, computed from plain maps (state.ts) by the rules of docs/hypervisor.md and
 * pkvm-and-vtl.md, without EPT entries, bit layouts or TLBs.
 * Contract: `step` runs the op on the live state through a journal and returns the candidates
 * (one per cached-translation variant of a paged access). The hypervisor's page pool is counted
 * exactly (docs/hypervisor.md "The page pool"): which page tables exist in the host EPT, each VTL
 * view and the SPPT, and how many pool frames are free, so an op fails with -ENOMEM exactly when
 * the tables it needs outnumber the free frames (a guest access then keeps only the guest A/D bits
 * its walks set since its first allocating exit). `commit` keeps the chosen candidate's effects. The hypervisor flushes every reduction before a call returns, so no stale outcome
 * is ever allowed: `flushed` is always empty.
 */
import type { AnyOp } from '../../trace/ops.js';
import { OK, type AnyOutcome, type GuestPageState, type HvExit, type HwOutcome as Outcome, type PageView } from '../../hw/outcome.js';
import { hvOptionsOf, memcacheModeOf, memFaultFlagsOf, pkvmProfileOf, type HvOptions, type MachineConfig } from '../../hw/config.js';
import { guestMaxPhyAddr, hostEptFrames } from '../../hw/config.js';
import { Journal, type HostState, type Mapping, type ModelVm, type Page } from './state.js';
import { PF_P, PF_RSVD, PF_U, PF_W, PG, PGE, NXE, accessBits, initialRegs, pageFaultCode, writeReg, type Drop, type Regs } from './paging.js';
import { RULE_SPP_PARKED_RESTORED } from '../rules.js';

// ABI values (pkvm-and-vtl.md §2, §4, §5; x86-memory-protection.md §3.5, §5.2).
const EPERM = 1, ENOENT = 2, E2BIG = 7, EAGAIN = 11, ENOMEM = 12, EFAULT = 14, EBUSY = 16, EEXIST = 17, EINVAL = 22, EHWPOISON = 133;
/** The hypervisor's refcount is a u16 (struct hyp_page). */
const PINS_MAX = 0xffff;
const R = 1, W = 2, X = 4, RWX = 7;
/** vtlMbec: user execute (UMX); X is then kernel execute (KMX). */
const UX = 8;
const MEM_READONLY = 2, MEM_EXECONLY = 4;
const NR = 1, NW = 2, NX = 4, PRIVATE = 8;
const FAULT_R = 1, FAULT_W = 2, FAULT_X = 4, FAULT_PRIVATE = 8;
const ALL_WRITABLE = 0xffffffff;
const MEMATTR_ENTRIES_MAX = 1024;
const HV_SUCCESS = 0, HV_INVALID_PARAMETER = 5, HV_ACCESS_DENIED = 6, HV_OPERATION_DENIED = 8, HV_INSUFFICIENT_MEMORY = 11;
const HOST = 1;
const RETRIES_MAX = 16;
/** Table levels below a root: a 4 KiB leaf needs a PDPT, a PD and a page table; a 2 MiB leaf the first two. */
const LEVELS_4K = [3, 2, 1];
const LEVELS_2M = [3, 2];
/** A 4-level paging-structure entry: the bytes a guest walk read or A/D update accesses. */
const ENTRY_BYTES = 8;

type Kind = 'read' | 'write' | 'fetch';

/** `HvModel.debugWalk`'s answer: `hpa` null where the running VM has no page at that GPA. */
export interface HvDebugWalk {
  vm: number;
  vtl: number;
  cr3: number;
  entries: Array<{ level: number; gpa: number; hpa: number | null; value: bigint }>;
  gpa: number | null;
  hpa: number | null;
  /** The running VM's page record at the final GPA (null for the host, or no page yet). */
  page: Page | null;
}

/** A cpu's context: who runs (host or VM at a VTL) and its registers (an immutable record, replaced on change). */
interface Cpu { vm: number; vtl: number; regs: Regs }

/**
 * A translation a cpu may still have cached from a completed access with paging on (the model's
 * stand-in for the combined TLB: any of them may also have been evicted). `ctx` = vm * 16 + vtl.
 */
interface Cached {
  gpaPage: number;
  rw: boolean;
  us: boolean;
  /** XD in some entry, with NXE when filled */
  xd: boolean;
  pkey: number;
  global: boolean;
  /** guest D of the leaf set when filled */
  dirty: boolean;
  /** EPT rights of the final GPA when filled; `spp` its leaf had bit 61 */
  ept: number;
  spp: boolean;
}

/** One part's translation: ok, a #PF (code), or an exit (48/66) at `gpa` by an access of `kind`. */
interface PartResult {
  r: 'ok' | 'pf' | 48 | 66;
  gpa: number;
  kind: Kind;
  code: number;
  fill: Cached | null;
  /** a fetch from a user-mode linear address (U/S at every guest paging level) */
  user?: boolean;
  /** bytes of the access that exited: the part's length, or 8 for a paging-structure entry */
  len?: number;
}

/** What the model's EPT view gives one GPA: ok / XO #PF / exit, and the leaf's rights. */
interface EptResult { r: 'ok' | 'pf' | 48 | 66; gpa: number; eff: number; spp: boolean }
const NEED: Record<Kind, number> = { read: R, write: W, fetch: X };
const FAULT: Record<Kind, number> = { read: FAULT_R, write: FAULT_W, fetch: FAULT_X };

/** A view-0 page table's key: its level (3 PDPT, 2 PD, 1 PT) * 2^40 + the index of the region it maps. */
function tableKey(level: number, gfn: number): number {
  return level * 2 ** 40 + Math.floor(gfn / 2 ** (9 * level));
}

/** kvm_mmu_cache_min_pages() of a 4-level stage 2 (src/hv/memcache.ts MEMCACHE_MIN_PAGES). */
const MEMCACHE_MIN_PAGES = 3;

/** What running one op gives. */
interface Ran { outcome: AnyOutcome; rule?: number }

/** A candidate outcome (the Candidate of src/model/api.ts over AnyOutcome). */
export interface HvCandidate {
  outcome: AnyOutcome;
  /** The rule, where a path names one finer than its op result's (else the catalogue's, src/model/hv/rules.ts). */
  readonly rule?: number;
  stale: boolean;
  frames: readonly number[];
  /** Which parts of a paged access used a cached translation (bit i = part i); 0 = fresh walks. */
  variant: number;
  /** Bytes of every frame in `frames` after this candidate (the runner matches them to the machine's). */
  bytes: ReadonlyMap<number, Uint8Array>;
  /**
   * The runner's preview (src/check/runner.ts FramePreview): `bytes` for a frame this candidate
   * writes; for any other frame a value that matches no frame, so a candidate is chosen among
   * equal outcomes only when it wrote exactly what the machine did.
   */
  frameAfter(frame: number): Uint8Array | null;
  /** Classification only (Candidate.poolShort): a -ENOMEM for want of pool frames. */
  readonly poolShort?: boolean;
  /** Classification only (Candidate.stoppedEntryWrite): the A/D update an exit of this access stopped. */
  readonly stoppedEntryWrite?: { readonly hpa: number; readonly bits: number };
}

/** An exit whose table pages the pool does not have: the access ends in -ENOMEM (`access` takes its faults back). */
const NO_MEMORY: { out: AnyOutcome; alloc: boolean } = { out: { kind: 'ret', value: -12 }, alloc: true };

/** Matches no 4 KiB frame (runner.ts compares whole frames). */
const NO_PREVIEW = new Uint8Array(1);

export interface HvSpecStep {
  allowed: HvCandidate[];
  flushed: AnyOutcome[];
}

/** ReferenceModelApi over hv ops and outcomes (the same contract, wider types). */
export interface HvReferenceModelApi {
  step(op: AnyOp): HvSpecStep;
  commit(candidate: HvCandidate): void;
  readPhys(hpa: number, size: number): bigint;
  frameBytes(frame: number): Uint8Array | null;
  poolFree?(): number;
}

export class HvModel implements HvReferenceModelApi {
  readonly config: MachineConfig;
  readonly opts: HvOptions;
  readonly ramFrames: number;
  readonly aliasBit: number;
  readonly aliasGfn: number;
  /** Guest memory: gfns below this (the guest-physical address space, less the XO alias half). */
  readonly gfnLimit: number;
  private readonly host = new Map<number, { state: HostState; owner: number }>();
  private readonly hypDonated = new Set<number>();
  private readonly hypShared = new Set<number>();
  /** np-guest leaves borrowing each host page (arm64 host_share_guest_count; at most 1 under x86-rfc). */
  private readonly shares = new Map<number, number>();
  /** The hypervisor's pins: pfn → refcount. */
  private readonly pins = new Map<number, number>();
  /** Pins by holder (1: the hypervisor, else a VM): `${vm}/${pfn}` → count. */
  private readonly pinsBy = new Map<string, number>();
  /** docs/hypervisor.md "Source profiles": upstream arm64 pKVM (else the x86 RFC). */
  private readonly arm64: boolean;
  /** memory_fault exits carry the access's R/W/X flags (the VSM series), not only PRIVATE. */
  private readonly faultRwx: boolean;
  /** arm64: the host's mapping of its own pages is built lazily, at its first access to each. */
  private readonly lazyHost: boolean;
  /** Lazy host mapping: host pages the host can reach without a fault (mapped, or given a leaf by a transition). */
  private readonly hostMapped = new Set<number>();
  /**
   * Lazy host mapping: 2 MiB regions (pfn >> 9) with a 4 KiB entry of their own (a fault there maps
   * 4 KiB). Rolled back with the step: the hypervisor's -ENOMEM undo empties the entries it wrote.
   */
  private readonly hostRegions = new Set<number>();
  /** Pages shared with the secure world (FF-A). */
  private readonly ffa = new Set<number>();
  /**
   * hv.memcache 'vm' (docs/hypervisor.md "Memory caches"): shares and donations take the VM's
   * view-0 page tables from its cache, exactly as many as are missing, so the model knows each
   * cache's count; the host's own mapping never needs a page.
   */
  private readonly vmCache: boolean;
  /** The host MMIO window (hv.mmioPfn / mmioPages): device frames no transition takes. */
  private readonly mmioFirst: number;
  private readonly mmioEnd: number;
  /** While a share, donation or fault maps under memcache 'vm': the vCPU whose cache new view-0 tables come from (-1: the pool). */
  private cacheCpu = -1;
  /** The automatic top-ups of the access in progress (vm, cpu, pages): an -ENOMEM keeps them (docs/hypervisor.md "The fault path"). */
  private accessTopups: Array<[number, number, number[]]> = [];
  /** The hypervisor's page pool: free frames (every table of the host EPT, the views and the SPPTs is one). */
  private readonly pool = { free: 0 };
  /** Host EPT: 2 MiB regions (pfn >> 9) with a page table; any other region is one 2 MiB leaf (or, lazily, nothing yet). */
  private readonly hostTables = new Set<number>();

  readonly vms = new Map<number, ModelVm>();
  private readonly cpus: Cpu[] = [];
  private readonly saved = new Map<string, Regs>();
  /** Per cpu: linear page → ctx → a translation that may be cached. */
  private readonly cache: Array<Map<number, ReadonlyMap<number, Cached>>> = [];
  private readonly guestMaxPhy: number;
  /** The variant the live state (the journal) belongs to. */
  private live = 0;
  private lastOp: AnyOp | null = null;
  private readonly mem = new Map<number, Uint8Array>();
  private j = new Journal();
  /** Journal marks just before each allocating exit of the access (an -ENOMEM rolls back to the first). */
  private allocMarks: number[] = [];
  /** Classification only: this variant's run found the pool short of what an op needs (`lacks`). */
  private poolShortSeen = false;
  /** Classification only: the last guest A/D update of this variant's run an EPT check stopped (gpa, hpa or -1, bits). */
  private entryWriteStopped: { gpa: number; hpa: number; bits: number } | null = null;
  /** Guest A/D bytes the access's walks wrote: (journal mark before the write, hpa, value), flattened. */
  private adLog: number[] = [];
  /** This access's SPP check met a leaf whose bit 61 was parked and restored (Mapping.sppParked). */
  private sppRestoredChecked = false;
  private frames: number[] = [];

  constructor(config: MachineConfig) {
    this.config = config;
    this.opts = hvOptionsOf(config);
    this.ramFrames = config.framesMax - this.opts.poolFrames;
    this.arm64 = pkvmProfileOf(this.opts) === 'arm64';
    this.faultRwx = memFaultFlagsOf(this.opts) === 'vsm';
    this.lazyHost = this.arm64;
    this.vmCache = memcacheModeOf(this.opts) === 'vm';
    this.mmioFirst = this.opts.mmioPfn ?? 0;
    this.mmioEnd = this.mmioFirst + (this.opts.mmioPages ?? 0);
    this.aliasBit = config.kvmXo ? 2 ** (config.maxPhyAddr - 1) : 0;
    this.aliasGfn = this.aliasBit / 4096;
    this.gfnLimit = this.aliasGfn || 2 ** (config.maxPhyAddr - 12);
    for (let i = 0; i < config.vcpus; i++) {
      this.cpus.push({ vm: HOST, vtl: 0, regs: initialRegs() });
      this.cache.push(new Map());
    }
    this.guestMaxPhy = guestMaxPhyAddr(config);
    // The host EPT built at boot (src/hw/config.ts hostEptFrames): a page table under every 2 MiB
    // region that is not one whole 2 MiB leaf (huge pages off, memcache 'vm', or RAM's partial tail).
    const hostHuge = this.opts.hugePages && !this.vmCache;
    for (let r = 0; r * 512 < this.ramFrames; r++) if (!hostHuge || (r + 1) * 512 > this.ramFrames) this.hostTables.add(r);
    this.pool.free = this.opts.poolFrames - hostEptFrames(this.ramFrames, hostHuge);
  }

  // ---- ReferenceModelApi ----------------------------------------------------------------------

  step(op: AnyOp): HvSpecStep {
    this.lastOp = op;
    // A paged access whose parts may hit cached translations branches: each subset of those parts
    // is one variant, run from the same state (the fresh-walk variant 0 last, so it stays live).
    const usable = op.op === 'read' || op.op === 'write' || op.op === 'fetch' ? this.cachedParts(op.cpu, op.op, op.la, op.size) : 0;
    const variants: number[] = [];
    for (let v = usable; v > 0; v = (v - 1) & usable) variants.push(v);
    variants.push(0);
    const allowed: HvCandidate[] = [];
    for (const variant of variants) {
      allowed.unshift(...this.runVariant(op, variant));
      if (variant !== 0) this.j.rollback();
    }
    // Keep the fresh walk first (allowed[0] is what a runner reports as expected).
    allowed.sort((a, b) => (a.variant === 0 ? 0 : 1) - (b.variant === 0 ? 0 : 1));
    return { allowed, flushed: [] };
  }

  private runVariant(op: AnyOp, variant: number): HvCandidate[] {
    this.j = new Journal();
    this.frames = [];
    this.allocMarks = [];
    this.adLog = [];
    this.accessTopups = [];
    this.live = variant;
    this.poolShortSeen = false;
    this.entryWriteStopped = null;
    const { outcome, rule } = this.run(op, variant);
    const bytes = new Map<number, Uint8Array>();
    for (const f of this.frames) bytes.set(f, this.mem.get(f)?.slice() ?? new Uint8Array(4096));
    const poolShort = this.poolShortSeen && outcome.kind === 'ret' && outcome.value === -ENOMEM;
    // (set during run: TypeScript keeps the null assigned above)
    const w = this.entryWriteStopped as { gpa: number; hpa: number; bits: number } | null;
    const stopped = w !== null && w.hpa >= 0 && outcome.kind === 'hv_exit' && outcome.gpa === w.gpa ? { hpa: w.hpa, bits: w.bits } : null;
    return [{
      outcome, ...(rule !== undefined ? { rule } : {}), stale: variant !== 0, frames: [...this.frames], variant, bytes, frameAfter: (f) => bytes.get(f) ?? NO_PREVIEW,
      ...(poolShort ? { poolShort } : {}), ...(stopped !== null ? { stoppedEntryWrite: stopped } : {}),
    }];
  }

  commit(candidate: HvCandidate): void {
    if (candidate.variant !== this.live && this.lastOp !== null) {
      this.j.rollback();
      this.runVariant(this.lastOp, candidate.variant);
    }
    this.j = new Journal();
  }

  readPhys(hpa: number, size: number): bigint {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.byte(hpa + i));
    return v;
  }

  /** Free pool frames the model counts (ReferenceModelApi.poolFree; hv_query's `pool`). */
  poolFree(): number {
    return this.pool.free;
  }

  /** Records the guest A/D update at `gpa` an EPT check stopped (Candidate.stoppedEntryWrite; classification only). */
  private noteEntryWriteStopped(cpu: number, gpa: number, bits: number): void {
    const mapped = this.cpus[cpu].vm === HOST || this.guestPage(cpu, gpa) !== undefined;
    this.entryWriteStopped = { gpa, hpa: mapped ? this.hpaOf(cpu, gpa) : -1, bits };
  }

  /** Whether `need` pool frames are more than the pool holds; noted for Candidate.poolShort (classification only). */
  private lacks(need: number): boolean {
    if (need <= this.pool.free) return false;
    this.poolShortSeen = true;
    return true;
  }

  frameBytes(frame: number): Uint8Array | null {
    const f = this.mem.get(frame);
    return f === undefined ? null : f.slice();
  }

  // ---- memory ---------------------------------------------------------------------------------

  private byte(hpa: number): number {
    return this.mem.get(Math.floor(hpa / 4096))?.[hpa % 4096] ?? 0;
  }

  private writeByte(hpa: number, b: number): void {
    const f = Math.floor(hpa / 4096);
    let bytes = this.mem.get(f);
    if (bytes === undefined) {
      bytes = new Uint8Array(4096);
      this.j.mapSet(this.mem, f, bytes);
    } else if (!this.frames.includes(f)) {
      const copy = bytes.slice();
      this.j.mapSet(this.mem, f, copy);
      bytes = copy;
    }
    if (!this.frames.includes(f)) this.frames.push(f);
    this.j.byte(bytes, hpa % 4096, b);
  }

  private zeroFrame(pfn: number): void {
    if (!this.frames.includes(pfn)) this.frames.push(pfn);
    this.j.mapSet(this.mem, pfn, new Uint8Array(4096));
  }

  // ---- host and page state --------------------------------------------------------------------

  /**
   * For `explain`: the guest walk of `la` on `cpu` as the access would see it now (no checks, no
   * A/D updates, no TLB): who runs, each entry read (level, its GPA, the HPA the hypervisor maps
   * that GPA to, raw value), and the final GPA with its HPA; a walk through an unmapped GPA or a
   * not-present entry ends there. Null with paging off (the linear address is the GPA).
   */
  debugWalk(cpu: number, la: number): HvDebugWalk {
    const c = this.cpus[cpu];
    const hpa = (gpa: number): number | null => {
      if (c.vm === HOST) return gpa;
      const page = this.guestPage(cpu, gpa);
      return page === undefined ? null : page.pfn * 4096 + (gpa % 4096);
    };
    const walk: HvDebugWalk = { vm: c.vm, vtl: c.vtl, cr3: c.regs.cr3, entries: [], gpa: null, hpa: null, page: null };
    const final = (gpa: number): HvDebugWalk => {
      walk.gpa = gpa;
      walk.hpa = hpa(gpa);
      walk.page = c.vm === HOST ? null : this.guestPage(cpu, gpa) ?? null;
      return walk;
    };
    if (!this.paging(cpu)) return final(la);
    let table = c.regs.cr3 - (c.regs.cr3 % 4096);
    for (let level = 4; level >= 1; level--) {
      const span = 2 ** (12 + 9 * (level - 1));
      const gpa = table + (Math.floor(la / span) % 512) * 8;
      const at = hpa(gpa);
      if (at === null) { walk.entries.push({ level, gpa, hpa: null, value: 0n }); return walk; }
      const e = this.readPhys(at, 8);
      walk.entries.push({ level, gpa, hpa: at, value: e });
      if ((e & 1n) === 0n) return walk;
      const base = Number(e & ((1n << BigInt(this.config.maxPhyAddr)) - 1n) & ~0xfffn);
      if (level === 1 || ((e & 0x80n) !== 0n && (level === 2 || level === 3))) return final(base - (base % span) + (la % span));
      table = base;
    }
    return walk;
  }

  hostOf(pfn: number): { state: HostState; owner: number } {
    return this.host.get(pfn) ?? (pfn < this.ramFrames ? { state: 'O', owner: HOST } : { state: 'NOPAGE', owner: 0 });
  }

  /**
   * A 4 KiB host write (`block`: a whole 2 MiB host leaf changed in place, which needs no table):
   * a region without a page table gets one from the pool (callers checked `hostNeed` where the
   * hypervisor does; elsewhere the page has its own entry already).
   */
  private setHost(pfn: number, state: HostState, owner = HOST, block = false): void {
    const region = Math.floor(pfn / 512);
    if (!block && pfn < this.ramFrames && !this.hostTables.has(region)) {
      this.j.setAdd(this.hostTables, region);
      this.takePool(1);
    }
    this.j.mapSet(this.host, pfn, { state, owner });
    if (!this.lazyHost) return;
    // A transition writes the page's own 4 KiB entry: mapped unless NOPAGE.
    this.j.setAdd(this.hostRegions, Math.floor(pfn / 512));
    if (state === 'NOPAGE') this.j.setDelete(this.hostMapped, pfn);
    else this.j.setAdd(this.hostMapped, pfn);
  }

  /**
   * Lazy host mapping: the host's access fault on an OWNED RAM page it has not reached yet maps
   * it: the whole 2 MiB region when huge pages are on, the region is all RAM and nothing in it has
   * an entry of its own; else the 4 KiB page. False: not such a page (the access aborts).
   */
  private hostIdmap(pfn: number): boolean {
    if (!this.lazyHost || pfn >= this.ramFrames || this.hostMapped.has(pfn) || this.hostOf(pfn).state !== 'O') return false;
    const region = Math.floor(pfn / 512);
    if (this.opts.hugePages && !this.vmCache && (region + 1) * 512 <= this.ramFrames && !this.hostRegions.has(region)) {
      for (let p = region * 512; p < (region + 1) * 512; p++) this.j.setAdd(this.hostMapped, p);
    } else {
      this.j.setAdd(this.hostMapped, pfn);
    }
    return true;
  }

  private slotOf(vm: ModelVm, gfn: number): number {
    for (const [id, s] of vm.slots) if (gfn >= s.gfn && gfn < s.gfn + s.pages) return id;
    return -1;
  }

  private protected_(vm: ModelVm, gfn: number): boolean {
    return vm.spp && (vm.vectors.get(gfn) ?? ALL_WRITABLE) !== ALL_WRITABLE;
  }

  /** The rights VTL `view` may have at gfn (alias: its XO alias), before dirty logging, aging and SPP. */
  private rights(vm: ModelVm, view: number, gfn: number, alias: boolean, page: Page): number {
    const a = vm.attrs.get(gfn) ?? 0;
    if (vm.type === 'protected' && (a & PRIVATE) === 0) return 0;
    // vtlMbec: an execute right is kernel and user execute until a VTL protection tells them apart.
    const xx = this.opts.vtlMbec ? X | UX : X;
    let r = (page.prot & X) !== 0 ? page.prot | xx : page.prot;
    const slot = page.slot >= 0 ? vm.slots.get(page.slot) : undefined;
    if (slot && (slot.flags & MEM_READONLY)) r &= ~W;
    if (slot && (slot.flags & MEM_EXECONLY)) r &= xx;
    if (alias) r = xx;
    if (a & NR) r &= ~R;
    if (a & NW) r &= ~W;
    if (a & NX) r &= ~xx;
    for (let s = view + 1; s < this.opts.vtls; s++) {
      const m = vm.prot.get(s)?.get(gfn); // §5.1: every higher VTL's protections apply
      if (m !== undefined) r &= m;
    }
    return r;
  }

  /** The mapping covering key (a 2 MiB mapping is stored at its first gfn). */
  private mappingAt(vm: ModelVm, view: number, key: number): { at: number; m: Mapping } | null {
    const v = vm.views[view];
    const m = v.get(key);
    if (m !== undefined) return { at: key, m };
    const base = key - (key % 512);
    const h = v.get(base);
    return h !== undefined && h.huge ? { at: base, m: h } : null;
  }

  private setMapping(vm: ModelVm, view: number, key: number, m: Mapping): void {
    this.tablesFor(vm, view, key, m.huge);
    this.j.mapSet(vm.views[view], key, m);
  }

  /** Takes `n` frames from the pool (the caller checked that they are there). */
  private takePool(n: number): void {
    if (n !== 0) this.j.field(this.pool, 'free', this.pool.free - n);
  }

  /**
   * The page tables a leaf at `key` (a gfn, alias included) in `view` needs, created top-down as
   * the hypervisor's walk allocates them: from the VM's cache during a share or donation to it
   * under memcache 'vm' (view 0), else from the pool. A 2 MiB leaf frees the (empty) page table
   * under it, back where it came from (src/hv/ept-tables.ts install).
   */
  private tablesFor(vm: ModelVm, view: number, key: number, huge: boolean): void {
    const tables = vm.tables[view];
    for (const level of huge ? LEVELS_2M : LEVELS_4K) {
      const k = tableKey(level, key);
      if (tables.has(k)) continue;
      this.j.setAdd(tables, k);
      if (this.cacheCpu >= 0 && view === 0) {
        const list = vm.cache[this.cacheCpu];
        const pfn = list[list.length - 1];
        this.setCacheList(vm, this.cacheCpu, list.slice(0, -1));
        this.j.mapSet(vm.cacheTables, k, { pfn, cpu: this.cacheCpu });
        this.zeroFrame(pfn); // hypervisor data from now on: the host sees zeros when it gets it back
      } else this.takePool(1);
    }
    const pt = tableKey(1, key);
    if (huge && tables.has(pt)) {
      this.j.setDelete(tables, pt);
      const t = vm.cacheTables.get(pt);
      if (t !== undefined && view === 0) {
        // Back on the cache of the vCPU it came from (src/hv/memcache.ts VmCache.release).
        this.j.mapDelete(vm.cacheTables, pt);
        this.setCacheList(vm, t.cpu, [...vm.cache[t.cpu], t.pfn]);
      } else this.takePool(-1);
    }
  }

  /** Tables a new leaf at `key` in `view` would take (as tablesFor creates them). */
  private tablesNeeded(vm: ModelVm, view: number, key: number, huge: boolean): number {
    let n = 0;
    for (const level of huge ? LEVELS_2M : LEVELS_4K) if (!vm.tables[view].has(tableKey(level, key))) n++;
    return n;
  }

  /** Distinct 2 MiB view-0 leaves over `gfns` (each split takes one pool frame). */
  private splitsNeeded(vm: ModelVm, gfns: Iterable<number>): number {
    const seen = new Set<number>();
    for (const g of gfns) {
      const f = this.mappingAt(vm, 0, g);
      if (f !== null && f.m.huge) seen.add(f.at);
    }
    return seen.size;
  }

  /** Host EPT: whether RAM page `pfn`'s region is one 2 MiB leaf now (a block share or return changes it in place). */
  private hostBlockLeaf(pfn: number): boolean {
    const region = Math.floor(pfn / 512);
    return !this.hostTables.has(region) && (region + 1) * 512 <= this.ramFrames && (!this.lazyHost || this.hostMapped.has(region * 512));
  }

  /** Host page tables a 4 KiB host write of each of `pfns` needs: one per region without one. */
  private hostNeed(pfns: Iterable<number>): number {
    const regions = new Set<number>();
    for (const p of pfns) if (!this.hostTables.has(Math.floor(p / 512))) regions.add(Math.floor(p / 512));
    return regions.size;
  }

  /** SPPT tables the region of gfn needs (src/hv/spp.ts spptNeed): the missing upper tables and its leaf table. */
  private spptNeed(vm: ModelVm, gfn: number): number {
    if (!vm.spp || vm.sppRegions.has(Math.floor(gfn / 512))) return 0;
    return 1 + (vm.sppTables.has(tableKey(2, gfn)) ? 0 : 1) + (vm.sppTables.has(tableKey(3, gfn)) ? 0 : 1);
  }

  private buildSppt(vm: ModelVm, gfn: number): void {
    const n = this.spptNeed(vm, gfn);
    this.takePool(n);
    this.j.setAdd(vm.sppTables, tableKey(3, gfn));
    this.j.setAdd(vm.sppTables, tableKey(2, gfn));
    this.j.setAdd(vm.sppRegions, Math.floor(gfn / 512));
  }

  /** memcache 'vm': whether vCPU `cpu`'s cache is too short (arm64: kvm_mmu_cache_min_pages; x86-rfc: the map's need). */
  private cacheShort(vm: ModelVm, cpu: number, need: number): boolean {
    const n = vm.cache[cpu].length;
    return this.arm64 ? n < MEMCACHE_MIN_PAGES : n < need;
  }

  /** Replaces vCPU `cpu`'s free list of `vm`'s caches (journaled). */
  private setCacheList(vm: ModelVm, cpu: number, list: readonly number[]): void {
    this.j.field(vm, 'cache', vm.cache.map((l, i) => (i === cpu ? list : l)));
  }

  /** The VM whose memory caches hold `pfn` (free or as a table), or -1. */
  private cacheOwner(pfn: number): number {
    for (const [id, vm] of this.vms) {
      if (vm.cache.some((l) => l.includes(pfn))) return id;
      for (const t of vm.cacheTables.values()) if (t.pfn === pfn) return id;
    }
    return -1;
  }

  /** The vCPU of VM `id` a host call acts on under memcache 'vm': the lowest cpu it is loaded on, or -1 (src/hv/kvm.ts loadedVcpu). */
  private loadedVcpu(id: number): number {
    return this.cpus.findIndex((c) => c.vm === id);
  }

  /** Donates `pages` to the hypervisor and pushes them, in that order, on vCPU `cpu`'s cache of `vm`. */
  private admit(vm: ModelVm, cpu: number, pages: readonly number[]): void {
    for (const p of pages) this.setHost(p, 'NOPAGE', 0);
    this.setCacheList(vm, cpu, [...vm.cache[cpu], ...pages]);
  }

  /**
   * The host's fault handler tops vCPU `cpu`'s cache up to kvm_mmu_cache_min_pages from the
   * highest-numbered host-owned RAM pages that are not MMIO and back no memslot of any VM, pushed
   * in ascending order (src/hv/memcache.ts faultTopup); false (nothing changed) when the host has
   * too few. A top-up is remembered so that an access ending in -ENOMEM keeps it.
   */
  private faultTopup(vm: ModelVm, vmId: number, cpu: number): boolean {
    const short = MEMCACHE_MIN_PAGES - vm.cache[cpu].length;
    if (short <= 0) return true;
    const pages: number[] = [];
    for (let p = this.ramFrames - 1; p >= 0 && pages.length < short; p--) {
      if (this.isMmio(p) || this.hostOf(p).state !== 'O') continue;
      let slotPage = false;
      for (const v of this.vms.values()) for (const sl of v.slots.values()) if (p >= sl.pfn && p < sl.pfn + sl.pages) slotPage = true;
      if (!slotPage) pages.push(p);
    }
    if (pages.length < short) return false;
    pages.reverse();
    this.admit(vm, cpu, pages);
    this.accessTopups.push([vmId, cpu, pages]);
    return true;
  }

  private isMmio(pfn: number): boolean {
    return pfn >= this.mmioFirst && pfn < this.mmioEnd;
  }

  /**
   * check_range_allowed_memory (docs/hypervisor.md "Host MMIO"): 0 for a range with no MMIO page,
   * -EPERM when all are MMIO, a range straddling memory and MMIO -EINVAL (arm64) or -EPERM (x86-rfc).
   */
  private mmioCheck(pfn: number, n: number): number {
    let mmio = 0;
    for (let p = pfn; p < pfn + n; p++) if (this.isMmio(p)) mmio++;
    if (mmio === 0) return 0;
    return mmio < n && this.arm64 ? -EINVAL : -EPERM;
  }

  private loaded(id: number): boolean {
    return this.cpus.some((c) => c.vm === id);
  }

  private split(vm: ModelVm, gfn: number): void {
    const found = this.mappingAt(vm, 0, gfn);
    if (found === null || !found.m.huge) return;
    for (let i = 0; i < 512; i++) this.setMapping(vm, 0, found.at + i, { huge: false, wp: found.m.wp, aged: found.m.aged });
  }

  private unmap(vm: ModelVm, gfn: number): void {
    for (const view of vm.views) {
      for (const key of this.aliasGfn ? [gfn, gfn + this.aliasGfn] : [gfn]) {
        if (view.has(key)) this.j.mapDelete(view, key);
      }
    }
  }

  private uniform(vm: ModelVm, base: number): boolean {
    if (!this.opts.hugePages) return false;
    for (let g = base; g < base + 512; g++) {
      if (this.protected_(vm, g) || (vm.attrs.get(g) ?? 0) !== 0) return false;
      for (let s = 1; s < this.opts.vtls; s++) if (vm.prot.get(s)?.has(g)) return false;
    }
    return true;
  }

  /**
   * Shares host pages [pfn, pfn + nr) with `vm` at gfn (preconditions checked), as src/hv/pkvm.ts
   * doShareGuest: false (nothing changed) when the table pages it takes are not there. The host
   * side changes a 2 MiB host leaf in place for a block on one; else it writes each page whose
   * state changes (and, for a 4 KiB share, a page inside a 2 MiB host leaf, which splits it so that
   * giving pages back never allocates); view 0 takes the tables its leaf is missing, from the VM's
   * cache for a hypercall under memcache 'vm' (checked as `cacheShort`), else from the pool.
   */
  private share(vm: ModelVm, pfn: number, gfn: number, nr: number, prot: number, slot: number, cacheCpu = -1): boolean {
    const huge = nr === 512 && this.uniform(vm, gfn);
    const fromCache = cacheCpu >= 0 && this.vmCache;
    const inPlace = nr === 512 && this.hostBlockLeaf(pfn);
    const changing: number[] = [];
    for (let p = pfn; p < pfn + nr; p++) if (this.hostOf(p).state !== 'SO' || (nr === 1 && !this.hostTables.has(Math.floor(p / 512)))) changing.push(p);
    const viewNeed = this.tablesNeeded(vm, 0, gfn, huge);
    if (fromCache ? this.cacheShort(vm, cacheCpu, viewNeed) : this.lacks((inPlace ? 0 : this.hostNeed(changing)) + viewNeed)) return false;
    if (inPlace) for (let p = pfn; p < pfn + nr; p++) this.setHost(p, 'SO', HOST, true);
    else for (const p of changing) this.setHost(p, 'SO');
    this.cacheCpu = fromCache ? cacheCpu : -1;
    try {
      this.shareMap(vm, pfn, gfn, nr, prot, slot, huge);
    } finally {
      this.cacheCpu = -1;
    }
    return true;
  }

  private shareMap(vm: ModelVm, pfn: number, gfn: number, nr: number, prot: number, slot: number, huge: boolean): void {
    for (let i = 0; i < nr; i++) {
      this.j.mapSet(this.shares, pfn + i, (this.shares.get(pfn + i) ?? 0) + 1);
      this.j.mapSet(vm.pages, gfn + i, { pfn: pfn + i, state: 'SB', prot, block: nr === 512 ? gfn : -1, slot });
      if (!huge) this.setMapping(vm, 0, gfn + i, { huge: false, wp: false, aged: false });
    }
    if (huge) this.setMapping(vm, 0, gfn, { huge: true, wp: false, aged: false });
  }

  private drop(vm: ModelVm, gfns: readonly number[]): void {
    for (const g of gfns) {
      const p = vm.pages.get(g);
      if (p === undefined) continue;
      this.unmap(vm, g);
      this.j.mapDelete(vm.pages, g);
      if (p.state === 'SB') {
        const n = (this.shares.get(p.pfn) ?? 0) - 1;
        if (n > 0) this.j.mapSet(this.shares, p.pfn, n);
        else this.j.mapDelete(this.shares, p.pfn);
      }
    }
  }

  /**
   * Host pages whose np-guest leaves went: back to O when no other guest leaf borrows them
   * (src/hv/pkvm.ts returnToHost: a block no leaf borrows any more goes back in place on a 2 MiB
   * host leaf, so giving pages back never needs a table page).
   */
  private returnShared(pages: ReadonlyArray<{ pfn: number; block: number }>): void {
    const done = new Set<number>();
    for (const r of pages) if ((this.shares.get(r.pfn) ?? 0) > 0) done.add(r.pfn);
    for (const r of pages) {
      if (r.block < 0 || r.pfn % 512 !== 0 || done.has(r.pfn)) continue;
      let free = true;
      for (let i = 0; i < 512 && free; i++) free = (this.shares.get(r.pfn + i) ?? 0) === 0;
      if (free && this.hostBlockLeaf(r.pfn)) {
        for (let i = 0; i < 512; i++) {
          this.setHost(r.pfn + i, 'O', HOST, true);
          done.add(r.pfn + i);
        }
      }
    }
    for (const r of pages) if (!done.has(r.pfn)) this.setHost(r.pfn, 'O');
  }

  /**
   * share_guest's host precondition (docs/hypervisor.md "Source profiles"): H=O, or under arm64 H=SO
   * already borrowed by np guests (count > 0).
   */
  private shareable(pfn: number): boolean {
    if (this.isMmio(pfn)) return false;
    const s = this.hostOf(pfn).state;
    return s === 'O' || (this.arm64 && s === 'SO' && (this.shares.get(pfn) ?? 0) > 0);
  }

  // ---- ops ------------------------------------------------------------------------------------

  private run(op: AnyOp, variant: number): Ran {
    const ret = (value: number): Ran => ({ outcome: { kind: 'ret', value } });
    switch (op.op) {
      case 'read': case 'write': case 'fetch':
        return this.access(op.cpu, op.op, op.la, op.size, op.op === 'write' ? op.value : 0n, variant);
      case 'set_reg': {
        const c = this.cpus[op.cpu];
        const w = writeReg(c.regs, op.reg, op.value, this.config, this.guestMaxPhy);
        if (w === null) return { outcome: { kind: 'gp' } };
        this.j.field(c, 'regs', w.regs);
        this.forget(op.cpu, w.drop);
        return { outcome: OK };
      }
      case 'invlpg':
        this.forgetPage(op.cpu, Math.floor(op.la / 4096));
        return { outcome: OK };
      case 'invvpid': case 'invept': case 'set_eptp': case 'set_spptp': case 'set_ctls2':
      case 'phys_write': case 'phys_read': case 'ept_set': case 'gpt_set': case 'sppt_set':
        return ret(-EPERM);
      case 'vm_create': {
        if (op.vm < 2) return ret(-EINVAL);
        if (this.vms.has(op.vm)) return ret(-EEXIST);
        if (this.lacks(this.opts.vtls)) return ret(-ENOMEM); // a root per VTL view
        this.takePool(this.opts.vtls);
        const views: Array<Map<number, Mapping>> = [];
        for (let v = 0; v < this.opts.vtls; v++) views.push(new Map());
        this.j.mapSet(this.vms, op.vm, { type: op.type, dying: false, pages: new Map(), slots: new Map(), attrs: new Map(), spp: false, vectors: new Map(), sppRegions: new Set<number>(), prot: new Map(), views, poisoned: new Set<number>(), cache: this.cpus.map(() => []), cacheTables: new Map<number, { pfn: number; cpu: number }>(), tables: views.map(() => new Set<number>()), sppTables: new Set<number>() });
        return ret(0);
      }
      case 'vm_teardown_start': {
        const vm = this.vms.get(op.vm);
        if (!vm || vm.dying || this.cpus.some((c) => c.vm === op.vm)) return ret(-EINVAL);
        this.j.field(vm, 'dying', true);
        return ret(0);
      }
      case 'vm_reclaim': return ret(this.reclaim(op.vm, op.gfn));
      case 'vm_teardown_finish': {
        const vm = this.vms.get(op.vm);
        if (!vm || !vm.dying) return ret(-EINVAL);
        if (vm.pages.size > 0) return ret(-EBUSY);
        for (const [k, n] of [...this.pinsBy]) if (k.startsWith(`${op.vm}/`)) this.pin(op.vm, Number(k.slice(k.indexOf('/') + 1)), -n);
        // memcache 'vm': every page of the cache goes back to the host, table pages zeroed.
        for (const pfn of [...vm.cacheTables.values()].map((t) => t.pfn).sort((a, b) => a - b)) {
          this.zeroFrame(pfn);
          this.setHost(pfn, 'O');
        }
        for (const pfn of vm.cache.flat().sort((a, b) => a - b)) this.setHost(pfn, 'O');
        // Every pool frame of the VM goes back: the roots, the views' tables (less those from its
        // cache, which went to the host above) and the SPPT.
        let frames = vm.views.length - vm.cacheTables.size;
        for (const t of vm.tables) frames += t.size;
        if (vm.spp) frames += 1 + vm.sppTables.size + vm.sppRegions.size;
        this.takePool(-frames);
        this.j.mapDelete(this.vms, op.vm);
        for (const k of [...this.saved.keys()]) if (k.startsWith(`${op.vm}/`)) this.j.mapDelete(this.saved, k);
        this.forgetAll(); // INVEPT everywhere before the tables are reused
        return ret(0);
      }
      case 'memslot_set': return ret(this.memslot(op.vm, op.slot, op.gfn, op.pfn, op.pages, op.flags));
      case 'vcpu_load': {
        if (op.vm !== HOST) {
          const vm = this.vms.get(op.vm);
          if (!vm) return ret(-ENOENT);
          if (vm.dying) return ret(-EINVAL);
        }
        this.switchTo(op.cpu, op.vm, 0);
        return ret(0);
      }
      case 'vm_write_protect': case 'vm_age': {
        const vm = this.vms.get(op.vm);
        if (!vm) return ret(-EINVAL);
        this.markLeaves(vm, op.gfn, op.pages, op.op === 'vm_write_protect' ? 'wp' : 'aged');
        return ret(0);
      }
      case 'host_donate_hyp': return ret(this.donateHyp(op.pfn, op.nr));
      case 'hyp_donate_host': return ret(this.hypDonateHost(op.pfn, op.nr));
      case 'host_share_hyp': {
        if (op.pfn >= this.ramFrames || this.isMmio(op.pfn) || this.hostOf(op.pfn).state !== 'O') return ret(-EPERM);
        if (this.lacks(this.hostNeed([op.pfn]))) return ret(-ENOMEM);
        this.setHost(op.pfn, 'SO');
        this.j.setAdd(this.hypShared, op.pfn);
        return ret(0);
      }
      case 'host_unshare_hyp': {
        if (op.pfn >= this.ramFrames || this.hostOf(op.pfn).state !== 'SO' || !this.hypShared.has(op.pfn)) return ret(-EPERM);
        if ((this.pins.get(op.pfn) ?? 0) > 0) return ret(-EBUSY); // pinned: the hypervisor still uses it
        this.setHost(op.pfn, 'O');
        this.j.setDelete(this.hypShared, op.pfn);
        return ret(0);
      }
      case 'host_share_guest': return ret(this.shareGuest(op.vm, op.pfn, op.gfn, op.nr, op.prot));
      case 'host_unshare_guest': return ret(this.unshareGuest(op.vm, op.gfn, op.nr));
      case 'host_donate_guest': {
        const vm = this.vms.get(op.vm);
        if (!vm || vm.type !== 'protected' || vm.dying) return ret(-EINVAL);
        const cpu = this.vmCache ? this.loadedVcpu(op.vm) : -1; // the loaded vCPU's memcache
        if (this.vmCache && cpu < 0) return ret(-EINVAL);
        if (op.pfn >= this.ramFrames || this.isMmio(op.pfn) || this.hostOf(op.pfn).state !== 'O') return ret(-EPERM);
        if (op.gfn >= this.gfnLimit) return ret(-EINVAL); // guest memory only
        if (vm.pages.has(op.gfn) || vm.poisoned.has(op.gfn)) return ret(-EPERM); // POISON is not NOPAGE
        if (this.vmCache ? this.cacheShort(vm, cpu, this.tablesNeeded(vm, 0, op.gfn, false)) : this.lacks(this.hostNeed([op.pfn]) + this.tablesNeeded(vm, 0, op.gfn, false))) return ret(-ENOMEM);
        this.setHost(op.pfn, 'NOPAGE', op.vm);
        this.j.mapSet(vm.pages, op.gfn, { pfn: op.pfn, state: 'O', prot: RWX, block: -1, slot: -1 });
        this.cacheCpu = cpu;
        this.setMapping(vm, 0, op.gfn, { huge: false, wp: false, aged: false });
        this.cacheCpu = -1;
        return ret(0);
      }
      case 'guest_share_host': case 'guest_unshare_host': {
        const c = this.cpus[op.cpu];
        const vm = c.vm === HOST ? undefined : this.vms.get(c.vm);
        if (!vm || vm.type !== 'protected') return ret(-EINVAL);
        const p = vm.pages.get(op.gfn);
        if (!p) return ret(vm.poisoned.has(op.gfn) ? -EHWPOISON : this.arm64 ? -ENOENT : -EINVAL);
        const h = this.hostOf(p.pfn);
        if (op.op === 'guest_share_host') {
          if (p.state !== 'O' || h.state !== 'NOPAGE' || h.owner !== c.vm) return ret(-EPERM);
          if (this.lacks(this.hostNeed([p.pfn]))) return ret(-ENOMEM);
          this.setHost(p.pfn, 'SB');
          this.j.mapSet(vm.pages, op.gfn, { ...p, state: 'SO' });
          return ret(0);
        }
        if (p.state !== 'SO' || h.state !== 'SB') return ret(-EPERM);
        this.setHost(p.pfn, 'NOPAGE', c.vm);
        this.j.mapSet(vm.pages, op.gfn, { ...p, state: 'O' });
        return ret(0);
      }
      case 'spp_enable': {
        const vm = this.vms.get(op.vm);
        if (!this.config.caps.spp || !vm || vm.type !== 'np' || vm.dying) return ret(-EINVAL);
        if (vm.spp) return ret(-EEXIST);
        if (this.lacks(1)) return ret(-ENOMEM); // the SPPT root
        this.takePool(1);
        this.j.field(vm, 'spp', true);
        return ret(0);
      }
      case 'spp_set': return ret(this.sppSet(op.vm, op.gfn, op.npages, op.flags, op.map));
      case 'spp_get': {
        const vm = this.vms.get(op.vm);
        if (!vm || !vm.spp) return ret(-EINVAL);
        if (this.slotOf(vm, op.gfn) < 0) return ret(-EFAULT);
        return ret(vm.vectors.get(op.gfn) ?? ALL_WRITABLE);
      }
      case 'set_mem_attrs': return this.setAttrs(op.vm, op.gpa, op.size, op.attrs, op.flags);
      case 'vtl_protect': return ret(this.vtlProtect(op.cpu, op.target, op.gfn, op.count, op.flags));
      case 'hyp_pin': return ret(this.hypPin(op.vm, op.pfn, op.nr));
      case 'hyp_unpin': {
        const n = this.range(op.pfn, BigInt(op.nr));
        if (n < 0) return ret(n);
        for (let p = op.pfn; p < op.pfn + n; p++) if ((this.pinsBy.get(`${op.vm}/${p}`) ?? 0) === 0) return ret(-EINVAL);
        for (let p = op.pfn; p < op.pfn + n; p++) this.pin(op.vm, p, -1);
        return ret(0);
      }
      case 'host_share_ffa': case 'host_unshare_ffa': {
        if (!this.arm64) return ret(-EINVAL); // no FF-A proxy in the x86 design
        const n = this.range(op.pfn, op.nr);
        if (n < 0) return ret(n);
        const share = op.op === 'host_share_ffa';
        const mmio = share ? this.mmioCheck(op.pfn, n) : 0;
        if (mmio !== 0) return ret(mmio);
        for (let p = op.pfn; p < op.pfn + n; p++) {
          if (this.hostOf(p).state !== (share ? 'O' : 'SO') || (!share && !this.ffa.has(p))) return ret(-EPERM);
        }
        if (share && this.lacks(this.hostNeed(Array.from({ length: n }, (_, i) => op.pfn + i)))) return ret(-ENOMEM);
        for (let p = op.pfn; p < op.pfn + n; p++) {
          this.setHost(p, share ? 'SO' : 'O');
          if (share) this.j.setAdd(this.ffa, p);
          else this.j.setDelete(this.ffa, p);
        }
        return ret(0);
      }
      case 'host_force_reclaim': return ret(this.forceReclaim(op.pfn));
      case 'hv_query': case 'hv_expect':
        return { outcome: { kind: 'page', page: this.pageView(op.vm, op.pfn, op.gfn) } };
      case 'hv_topup': return ret(this.topup(op.vm, op.cpu, op.pfn, op.nr));
      case 'hv_undonate': return ret(this.undonate(op.vm, op.cpu, op.pfn, op.nr));
      case 'host_relax_perms': return ret(this.relaxPerms(op.vm, op.gfn, op.prot));
      case 'host_wrprotect': {
        const vm = this.npHandlerVm(op.vm, false);
        if (!vm) return ret(-EINVAL);
        if (op.nr !== 1 && (op.nr !== 512 || op.gfn % 512 !== 0)) return ret(-EINVAL);
        this.markLeaves(vm, op.gfn, op.nr, 'wp');
        return ret(0);
      }
      case 'host_mkyoung': {
        const vm = this.npHandlerVm(op.vm, true);
        if (!vm) return ret(-EINVAL);
        if (vm.pages.has(op.gfn)) {
          for (let view = 0; view < vm.views.length; view++) {
            const f = this.mappingAt(vm, view, op.gfn);
            if (f !== null && f.m.aged) this.setMapping(vm, view, f.at, { ...f.m, aged: false });
          }
        }
        return ret(0);
      }
      case 'vtl_call': case 'vtl_return': {
        const c = this.cpus[op.cpu];
        const up = op.op === 'vtl_call';
        if (c.vm === HOST || c.regs.cpl !== 0 || (up ? c.vtl + 1 >= this.opts.vtls : c.vtl === 0)) return { outcome: { kind: 'ud' } };
        this.switchTo(op.cpu, c.vm, c.vtl + (up ? 1 : -1));
        return { outcome: OK };
      }
    }
  }

  /** Dirty-logging write protection or access tracking of every mapping of [gfn, gfn + pages), aliases included. */
  private markLeaves(vm: ModelVm, gfn: number, pages: number, what: 'wp' | 'aged'): void {
    const keys = this.aliasGfn ? [0, this.aliasGfn] : [0];
    for (let view = 0; view < vm.views.length; view++) {
      for (const b of keys) {
        for (let g = gfn; g < gfn + pages; g++) {
          const f = this.mappingAt(vm, view, g + b);
          if (f === null) continue;
          // A protected page's bit 61 is parked, to come back with W or A (kvm.spp.parked-bit-restored).
          const parked = f.m.sppParked === true || (!f.m.huge && this.protected_(vm, g));
          this.setMapping(vm, view, f.at, { ...f.m, [what]: true, ...(parked ? { sppParked: true } : {}) });
          if (f.m.huge) g = g - (g % 512) + 511;
        }
      }
    }
  }

  /** The np VM a relax_perms / wrprotect / mkyoung handler accepts (arm64; `loaded`: a vCPU of it loaded), or undefined. */
  private npHandlerVm(id: number, loaded: boolean): ModelVm | undefined {
    if (!this.arm64) return undefined;
    const vm = this.vms.get(id);
    if (!vm || vm.type !== 'np' || (loaded && !this.loaded(id))) return undefined;
    return vm;
  }

  /** __pkvm_host_relax_perms_guest (docs/hypervisor.md "Memory caches and np-guest calls"). */
  private relaxPerms(id: number, gfn: number, prot: number): number {
    const vm = this.npHandlerVm(id, true);
    if (!vm || (prot & ~RWX)) return -EINVAL;
    const p = vm.pages.get(gfn);
    if (!p) return -EAGAIN;
    const next = p.prot | prot;
    if (((next & W) && !(next & R)) || (!(next & R) && (next & X) && !this.config.caps.eptExecOnly)) return -EINVAL;
    if (next === p.prot) return 0;
    const gfns: number[] = [];
    if (p.block >= 0) for (let i = 0; i < 512; i++) gfns.push(p.block + i);
    else gfns.push(gfn);
    for (const g of gfns) {
      const q = vm.pages.get(g)!;
      this.j.mapSet(vm.pages, g, { ...q, prot: q.prot | prot });
    }
    return 0;
  }

  /** hv_topup (src/hv/memcache.ts): whole range checked, then every page the hypervisor's and on vCPU `cpu`'s cache. */
  private topup(id: number, cpu: number, pfn: number, nr: number): number {
    const vm = this.vms.get(id);
    if (!this.vmCache || !vm || vm.dying || cpu >= this.cpus.length) return -EINVAL;
    const n = nr === 0 ? -EINVAL : this.range(pfn, BigInt(nr));
    if (n < 0) return -EINVAL;
    const mmio = this.mmioCheck(pfn, n);
    if (mmio !== 0) return mmio;
    for (let p = pfn; p < pfn + n; p++) if (this.hostOf(p).state !== 'O') return -EPERM;
    const pages: number[] = [];
    for (let p = pfn; p < pfn + n; p++) pages.push(p);
    this.admit(vm, cpu, pages);
    return 0;
  }

  /** hv_undonate: only free pages of that vCPU's cache go back to the host. */
  private undonate(id: number, cpu: number, pfn: number, nr: number): number {
    const vm = this.vms.get(id);
    if (!this.vmCache || !vm || cpu >= this.cpus.length) return -EINVAL;
    const n = nr === 0 ? -EINVAL : this.range(pfn, BigInt(nr));
    if (n < 0) return -EINVAL;
    const list = vm.cache[cpu];
    for (let p = pfn; p < pfn + n; p++) if (!list.includes(p)) return -EPERM;
    this.setCacheList(vm, cpu, list.filter((p) => p < pfn || p >= pfn + n));
    for (let p = pfn; p < pfn + n; p++) this.setHost(p, 'O');
    return 0;
  }

  /** docs/hypervisor.md "State you can see": host page pfn and guest page (vm, gfn), from the maps. */
  private pageView(vmId: number, pfn: number, gfn: number): PageView {
    const memory = pfn < this.config.framesMax;
    const h = this.hostOf(pfn);
    const guests: Array<{ vm: number; gfn: number; state: GuestPageState }> = [];
    for (const id of [...this.vms.keys()].sort((a, b) => a - b)) {
      const pages = [...this.vms.get(id)!.pages].filter(([, p]) => p.pfn === pfn).sort(([a], [b]) => a - b);
      for (const [g, p] of pages) guests.push({ vm: id, gfn: g, state: p.state });
    }
    const hypOwned = (pfn >= this.ramFrames && memory) || this.hypDonated.has(pfn) || (this.vmCache && this.cacheOwner(pfn) >= 0);
    const owner = !memory ? -1 : h.state === 'NOPAGE' ? h.owner : h.state === 'SB' ? guests.find((g) => g.state === 'SO')?.vm ?? -1 : HOST;
    const vm = this.vms.get(vmId);
    const page = vm?.pages.get(gfn);
    const vtl: number[] = [];
    if (vm !== undefined) for (let v = 0; v < vm.views.length; v++) vtl.push(page === undefined ? 0 : this.rights(vm, v, gfn, false, page));
    return {
      host: memory ? h.state : 'NOPAGE',
      owner,
      hyp: !memory ? 'NOPAGE' : hypOwned ? 'O' : this.hypShared.has(pfn) ? 'SB' : 'NOPAGE',
      pins: this.pins.get(pfn) ?? 0,
      shares: this.shares.get(pfn) ?? 0,
      ffa: this.ffa.has(pfn),
      guests,
      guest: page !== undefined ? page.state : vm?.poisoned.has(gfn) === true ? 'POISON' : 'none',
      gpfn: page === undefined ? -1 : page.pfn,
      attrs: vm?.attrs.get(gfn) ?? 0,
      vtl,
      cache: vm !== undefined && this.vmCache ? vm.cache.map((l) => l.length) : [],
      cacheTables: vm !== undefined && this.vmCache ? vm.cacheTables.size : 0,
      pool: this.pool.free,
    };
  }

  /** One pin more or less on pfn, held by `vm`. */
  private pin(vm: number, pfn: number, delta: number): void {
    const total = (this.pins.get(pfn) ?? 0) + delta;
    if (total > 0) this.j.mapSet(this.pins, pfn, total);
    else this.j.mapDelete(this.pins, pfn);
    const key = `${vm}/${pfn}`;
    const mine = (this.pinsBy.get(key) ?? 0) + delta;
    if (mine > 0) this.j.mapSet(this.pinsBy, key, mine);
    else this.j.mapDelete(this.pinsBy, key);
  }

  /** hyp_pin_shared_mem: every page H=SO and shared with the hypervisor, then one pin each. */
  private hypPin(vmId: number, pfn: number, nr: number): number {
    if (vmId !== HOST) {
      const vm = this.vms.get(vmId);
      if (!vm || vm.dying) return -EINVAL;
    }
    const n = this.range(pfn, BigInt(nr));
    if (n < 0) return n;
    for (let p = pfn; p < pfn + n; p++) if (this.hostOf(p).state !== 'SO' || !this.hypShared.has(p)) return -EPERM;
    for (let p = pfn; p < pfn + n; p++) if ((this.pins.get(p) ?? 0) >= PINS_MAX) return -EBUSY;
    for (let p = pfn; p < pfn + n; p++) this.pin(vmId, p, 1);
    return 0;
  }

  /** __pkvm_host_force_reclaim_page_guest (pkvm-and-vtl.md §2.1 row 15). */
  private forceReclaim(pfn: number): number {
    if (!this.arm64) return -EINVAL;
    if (pfn >= this.config.framesMax || this.isMmio(pfn)) return -EFAULT;
    const h = this.hostOf(pfn);
    if (h.state !== 'NOPAGE') return -EAGAIN;
    if (h.owner < 2 || pfn >= this.ramFrames) return -EPERM; // the hypervisor's page
    const vm = this.vms.get(h.owner);
    if (!vm) return -EAGAIN;
    const found = [...vm.pages].find(([, p]) => p.pfn === pfn);
    if (found === undefined || found[1].state !== 'O') return -EPERM;
    this.drop(vm, [found[0]]);
    this.j.setAdd(vm.poisoned, found[0]);
    this.forgetAll();
    this.zeroFrame(pfn); // §3 I6: zeroed before the host gets it
    this.setHost(pfn, 'O');
    return 0;
  }

  private switchTo(cpu: number, vm: number, vtl: number): void {
    const c = this.cpus[cpu];
    this.j.mapSet(this.saved, `${c.vm}/${c.vtl}/${cpu}`, c.regs);
    this.j.field(c, 'vm', vm);
    this.j.field(c, 'vtl', vtl);
    this.j.field(c, 'regs', this.saved.get(`${vm}/${vtl}/${cpu}`) ?? initialRegs());
  }

  /** pfn_range_is_valid: the page count, or -EINVAL. */
  private range(pfn: number, nr: bigint): number {
    const limit = BigInt(this.ramFrames);
    if (nr === 0n || BigInt(pfn) >= limit || limit - BigInt(pfn) < nr) return -EINVAL;
    return Number(nr);
  }

  private donateHyp(pfn: number, nr: bigint): number {
    const n = this.range(pfn, nr);
    if (n < 0) return n;
    const mmio = this.mmioCheck(pfn, n);
    if (mmio !== 0) return mmio;
    for (let p = pfn; p < pfn + n; p++) if (this.hostOf(p).state !== 'O') return -EPERM;
    if (this.lacks(this.hostNeed(Array.from({ length: n }, (_, i) => pfn + i)))) return -ENOMEM;
    for (let p = pfn; p < pfn + n; p++) {
      this.setHost(p, 'NOPAGE', 0);
      this.j.setAdd(this.hypDonated, p);
    }
    return 0;
  }

  private hypDonateHost(pfn: number, nr: bigint): number {
    const n = this.range(pfn, nr);
    if (n < 0) return n;
    for (let p = pfn; p < pfn + n; p++) {
      const h = this.hostOf(p);
      if (h.state !== 'NOPAGE' || h.owner !== 0 || !this.hypDonated.has(p)) return -EPERM;
    }
    for (let p = pfn; p < pfn + n; p++) {
      this.setHost(p, 'O');
      this.j.setDelete(this.hypDonated, p);
    }
    return 0;
  }

  private shareGuest(id: number, pfn: number, gfn: number, nr: number, prot: number): number {
    const vm = this.vms.get(id);
    if (!vm || vm.type !== 'np' || vm.dying) return -EINVAL;
    const cpu = this.vmCache ? this.loadedVcpu(id) : -1; // the loaded vCPU's memcache
    if (this.vmCache && cpu < 0) return -EINVAL;
    if (prot === 0 || (prot & ~RWX) || ((prot & W) && !(prot & R)) || (!(prot & R) && (prot & X) && !this.config.caps.eptExecOnly)) return -EINVAL;
    if (nr !== 1 && nr !== 512) return -EINVAL;
    if (nr === 512 && (pfn % 512 !== 0 || gfn % 512 !== 0)) return -EINVAL;
    if (pfn + nr > this.ramFrames) return -EINVAL;
    if (gfn + nr > this.gfnLimit) return -EINVAL; // guest memory only (not the XO alias, not beyond the address space)
    const mmio = this.mmioCheck(pfn, nr);
    if (mmio !== 0) return mmio;
    for (let i = 0; i < nr; i++) if (vm.pages.has(gfn + i) || vm.poisoned.has(gfn + i)) return -EPERM;
    for (let i = 0; i < nr; i++) if (!this.shareable(pfn + i)) return -EPERM;
    return this.share(vm, pfn, gfn, nr, prot, -1, cpu) ? 0 : -ENOMEM;
  }

  private unshareGuest(id: number, gfn: number, nr: number): number {
    const vm = this.vms.get(id);
    if (!vm || vm.type !== 'np') return -EINVAL;
    if (nr !== 1 && nr !== 512) return -EINVAL;
    const p = vm.pages.get(gfn);
    if (!p) return this.arm64 ? -ENOENT : -EPERM; // arm64: invalid leaf; x86 RFC: guest state is not SB
    if ((p.block >= 0 ? 512 : 1) !== nr || (nr === 512 && p.block !== gfn)) return -E2BIG;
    const gfns: number[] = [];
    for (let i = 0; i < nr; i++) gfns.push(gfn + i);
    for (const g of gfns) {
      const q = vm.pages.get(g)!;
      if (q.state !== 'SB' || this.hostOf(q.pfn).state !== 'SO') return -EPERM;
      if ((this.shares.get(q.pfn) ?? 0) === 0) return -EINVAL;
    }
    const back = gfns.map((g) => vm.pages.get(g)!);
    this.drop(vm, gfns);
    this.returnShared(back);
    return 0;
  }

  private reclaim(id: number, gfn: number): number {
    const vm = this.vms.get(id);
    if (!vm || !vm.dying) return -EINVAL;
    const p = vm.pages.get(gfn);
    if (!p) return vm.poisoned.has(gfn) ? 0 : -ENOENT; // forcefully reclaimed already: success
    const gfns: number[] = [];
    if (p.block >= 0) for (let i = 0; i < 512; i++) gfns.push(p.block + i);
    else gfns.push(gfn);
    const pages = gfns.map((g) => vm.pages.get(g)!);
    // The pages the host gets back (one other np-guest leaves still borrow stays SO); a whole block
    // on a 2 MiB host leaf goes back in place, else each page gets its own host entry.
    const back = pages.filter((q) => q.state !== 'SB' || (this.shares.get(q.pfn) ?? 0) <= 1);
    const inPlace = back.length === 512 && this.hostBlockLeaf(back[0].pfn);
    if (!inPlace && this.lacks(this.hostNeed(back.map((q) => q.pfn)))) return -ENOMEM;
    this.drop(vm, gfns);
    for (const q of pages) if (q.state === 'O') this.zeroFrame(q.pfn); // §3 I6
    for (const q of back) this.setHost(q.pfn, 'O', HOST, inPlace);
    return 0;
  }

  private memslot(id: number, slot: number, gfn: number, pfn: number, pages: number, flags: number): number {
    const vm = this.vms.get(id);
    if (!vm || vm.type !== 'np' || vm.dying) return -EINVAL;
    if (slot >= 32 || (flags & ~(MEM_READONLY | MEM_EXECONLY))) return -EINVAL;
    if ((flags & MEM_EXECONLY) && !this.config.caps.eptExecOnly) return -EINVAL;
    const old = vm.slots.get(slot);
    const unshareSlot = (): void => {
      const gfns = [...vm.pages].filter(([, p]) => p.slot === slot).map(([g]) => g).sort((a, b) => a - b);
      const back = gfns.map((g) => vm.pages.get(g)!);
      this.drop(vm, gfns);
      this.returnShared(back);
    };
    if (pages === 0) {
      if (!old) return -EINVAL;
      unshareSlot();
      this.j.mapDelete(vm.slots, slot);
      return 0;
    }
    if (gfn + pages > this.gfnLimit || pfn + pages > this.ramFrames) return -EINVAL;
    if (old) {
      if (old.pfn !== pfn || old.pages !== pages || old.flags !== flags) return -EINVAL;
      if (old.gfn === gfn) return 0;
    }
    for (const [id2, s] of vm.slots) if (id2 !== slot && gfn < s.gfn + s.pages && s.gfn < gfn + pages) return -EEXIST;
    for (let g = gfn; g < gfn + pages && g < gfn + 4096; g++) {
      const p = vm.pages.get(g);
      if (p && p.slot !== slot) return -EEXIST;
    }
    if (old) unshareSlot();
    this.j.mapSet(vm.slots, slot, { gfn, pfn, pages, flags });
    return 0;
  }

  private sppSet(id: number, gfn: number, npages: number, flags: number, map: number): number {
    const vm = this.vms.get(id);
    if (!vm || !vm.spp || flags !== 0 || npages < 1 || npages > 512) return -EINVAL;
    for (let g = gfn; g < gfn + npages; g++) if (this.slotOf(vm, g) < 0) return -EFAULT;
    const range = Array.from({ length: npages }, (_, i) => gfn + i);
    if (map !== ALL_WRITABLE && this.lacks(this.splitsNeeded(vm, range))) return -ENOMEM;
    for (let g = gfn; g < gfn + npages; g++) {
      if (map !== ALL_WRITABLE) {
        this.split(vm, g);
        this.j.mapSet(vm.vectors, g, map >>> 0);
      } else this.j.mapDelete(vm.vectors, g);
    }
    this.forgetAll(); // the hypervisor flushes every logical processor
    return npages;
  }

  private setAttrs(id: number, gpa: bigint, size: bigint, attrs: bigint, flags: bigint): Ran {
    const r = (value: number): Ran => ({ outcome: { kind: 'ret', value } });
    const vm = this.vms.get(id);
    if (!vm || flags !== 0n) return r(-EINVAL);
    const supported = BigInt((this.opts.memattrRwx ? NR | NW | NX : 0) | (vm.type === 'protected' ? PRIVATE : 0));
    if ((attrs & ~supported) !== 0n) return r(-EINVAL);
    const a = Number(attrs);
    if (((a & PRIVATE) && (a & (NR | NW | NX))) || ((a & NR) && (a & (NW | NX)) !== (NW | NX))) return r(-EINVAL);
    if (size === 0n || gpa + size >= 2n ** 64n || (gpa & 0xfffn) !== 0n || (size & 0xfffn) !== 0n) return r(-EINVAL);
    const first = Number(gpa >> 12n);
    const count = Number(size >> 12n);
    const inRange = (g: number): boolean => g >= first && g < first + count;
    let changing: number[];
    if (a === 0) {
      changing = [...vm.attrs.keys()].filter(inRange).sort((x, y) => x - y);
    } else {
      let same = 0;
      let outside = 0;
      for (const [g, v] of vm.attrs) {
        if (!inRange(g)) outside++;
        else if (v === a) same++;
      }
      if (same === count) return r(0);
      if (outside + count > MEMATTR_ENTRIES_MAX) return r(-ENOMEM);
      changing = [];
      for (let g = first; g < first + count; g++) if ((vm.attrs.get(g) ?? 0) !== a) changing.push(g);
    }
    // §4.2: leaves change only for gfns of guest memory (the hooks run over memslots); a gfn
    // beyond it is stored and needs no table page.
    if (this.lacks(this.splitsNeeded(vm, changing.filter((g) => g < this.gfnLimit)))) return r(-ENOMEM);
    for (const g of changing) {
      if (g < this.gfnLimit) this.split(vm, g);
      if (a === 0) this.j.mapDelete(vm.attrs, g);
      else this.j.mapSet(vm.attrs, g, a);
    }
    return r(0);
  }

  /**
   * HvCallModifyVtlProtectionMask (§5.1): `target` is the VTL whose protections are set, for every
   * VTL below it; it may not be above the caller (ACCESS_DENIED) nor VTL 0 (INVALID_PARAMETER)
   * (microsoft/openvmm hv1_hypercall ModifyVtlProtectionMask and OpenHCL's handler).
   */
  private vtlProtect(cpu: number, target: number, gfn: number, count: number, flags: number): number {
    const c = this.cpus[cpu];
    const vm = c.vm === HOST ? undefined : this.vms.get(c.vm);
    if (!vm) return HV_INVALID_PARAMETER;
    if (target > c.vtl) return HV_ACCESS_DENIED;
    if (target === 0) return HV_INVALID_PARAMETER;
    const rights = this.vtlRights(flags);
    if (rights < 0) return HV_INVALID_PARAMETER;
    if (count === 0) return HV_SUCCESS;
    for (let g = gfn; g < gfn + count; g++) {
      if (!vm.pages.has(g) && this.slotOf(vm, g) < 0) return this.opts.vtlNonRam === 'tlfs' ? HV_INVALID_PARAMETER : HV_OPERATION_DENIED;
    }
    if (this.splitsNeeded(vm, Array.from({ length: count }, (_, i) => gfn + i)) > this.pool.free) return HV_INSUFFICIENT_MEMORY;
    let m = vm.prot.get(target);
    if (!m) {
      m = new Map();
      this.j.mapSet(vm.prot, target, m);
    }
    for (let g = gfn; g < gfn + count; g++) {
      this.split(vm, g); // VTL 0's view is always below the target
      if (rights === (this.opts.vtlMbec ? RWX | UX : RWX)) this.j.mapDelete(m, g);
      else this.j.mapSet(m, g, rights);
    }
    this.forgetAll(); // flushed on every logical processor before the call returns
    return HV_SUCCESS;
  }

  /**
   * §5.1 allowed combinations: none, R, RX, RW, RWX. With MBEC off UMX is ignored and KMX governs
   * both modes; with MBEC on KMX=1, UMX=0 is refused (undefined in the TLFS).
   */
  private vtlRights(flags: number): number {
    if (flags & ~(0xf | 0x10000)) return -1;
    if (flags & 0x10000) return (flags & 0xf) === 0 ? 0 : -1;
    const mbec = this.opts.vtlMbec;
    const r = (flags & 1) !== 0, w = (flags & 2) !== 0;
    const [kBit, uBit] = this.opts.vtlExecBits === 'hv_map_gpa' ? [4, 8] : [8, 4];
    const kx = (flags & kBit) !== 0;
    const ux = mbec && (flags & uBit) !== 0;
    if (!r && (w || kx || ux)) return -1;
    if (mbec && kx && !ux) return -1;
    return (r ? R : 0) | (w ? W : 0) | (kx ? X : 0) | (ux ? UX : 0);
  }

  /**
   * The right an access needs: a fetch from a user-mode linear address needs UMX in a VM under
   * vtlMbec (the hypervisor runs its views with MBEC: EPT XU), any other fetch KMX (XS, or X).
   */
  private needOf(cpu: number, kind: Kind, user: boolean): number {
    return kind === 'fetch' && user && this.opts.vtlMbec && this.cpus[cpu].vm !== HOST ? UX : NEED[kind];
  }

  // ---- cached translations ---------------------------------------------------------------------

  private ctxOf(cpu: number): number {
    const c = this.cpus[cpu];
    return c.vm * 16 + c.vtl;
  }

  /** Forgets cached translations of `cpu` as a register write requires (its VPID, every EP4TA). */
  private forget(cpu: number, drop: Drop): void {
    if (drop === 'none') return;
    const m = this.cache[cpu];
    for (const [page, byCtx] of [...m]) {
      const keep = drop === 'all' ? [] : [...byCtx].filter(([, e]) => e.global);
      if (keep.length === byCtx.size) continue;
      if (keep.length === 0) this.j.mapDelete(m, page);
      else this.j.mapSet(m, page, new Map(keep));
    }
  }

  /** INVLPG, a #PF or an EPT exit: the linear page's cached translations (every EP4TA) go. */
  private forgetPage(cpu: number, page: number): void {
    this.j.mapDelete(this.cache[cpu], page);
  }

  /** INVEPT all-context on every logical processor. */
  private forgetAll(): void {
    for (let cpu = 0; cpu < this.cache.length; cpu++) this.forget(cpu, 'all');
  }

  private cached(cpu: number, page: number): Cached | undefined {
    return this.cache[cpu].get(page)?.get(this.ctxOf(cpu));
  }

  private remember(cpu: number, page: number, e: Cached): void {
    const byCtx = new Map(this.cache[cpu].get(page) ?? []);
    byCtx.set(this.ctxOf(cpu), e);
    this.j.mapSet(this.cache[cpu], page, byCtx);
  }

  /**
   * Whether a cached translation serves this access outright (docs/semantics.md "TLBs"): its EPT
   * rights and guest rights allow it under the current registers, a write needs guest D and no
   * SPP; and the hypervisor flushes every reduction, so the current EPT view must allow it too.
   */
  private serves(cpu: number, e: Cached, kind: Kind, la: number, len: number): boolean {
    const need = this.needOf(cpu, kind, e.us);
    if ((e.ept & need) === 0 || (kind === 'write' && (!e.dirty || e.spp))) return false;
    const c = this.cpus[cpu];
    if (pageFaultCode(c.regs, kind, e.rw, e.us, e.xd, e.pkey, this.config.choices.pkOnUserToSupervisor === 'qemu') !== 0) return false;
    const now = this.ept(cpu, kind, e.gpaPage * 4096 + (la % 4096), len, true, e.us);
    return now.r === 'ok' && (now.eff & need) !== 0;
  }

  /** Bit i set: part i of this access may be served by a cached translation. */
  private cachedParts(cpu: number, kind: Kind, la: number, size: number): number {
    if (!this.paging(cpu)) return 0;
    let bits = 0;
    this.parts(la, size).forEach(([pla, len], i) => {
      const e = this.cached(cpu, Math.floor(pla / 4096));
      if (e !== undefined && this.serves(cpu, e, kind, pla, len)) bits |= 1 << i;
    });
    return bits;
  }

  private paging(cpu: number): boolean {
    return this.cpus[cpu].regs.cr0 >= PG;
  }

  private parts(la: number, size: number): Array<[number, number]> {
    const first = Math.min(size, 4096 - (la % 4096));
    const parts: Array<[number, number]> = [[la, first]];
    if (first < size) parts.push([(la + first) % 2 ** 48, size - first]);
    return parts;
  }

  // ---- guest accesses -------------------------------------------------------------------------

  /**
   * The EPT view's answer for one GPA of the context on `cpu`: ok, the XO #PF (final data accesses
   * above the XO bit), or an exit. `final` = the access's own GPA (else a guest-walk access: no
   * SPP, no XO conversion). `eff`: the leaf's rights now (0 when not mapped).
   */
  private ept(cpu: number, kind: Kind, gpa: number, len: number, final: boolean, user = false): EptResult {
    const c = this.cpus[cpu];
    // semantics.md step 7: the #PF conversion needs bit MAXPHYADDR−1 of the GPA set (a GPA at or
    // above 2^MAXPHYADDR with that bit clear, reachable with paging off, stays an EPT violation).
    const aliasData = final && this.aliasBit !== 0 && Math.floor(gpa / this.aliasBit) % 2 === 1 && kind !== 'fetch';
    if (c.vm === HOST) {
      // The hardware turns any final-GPA violation of a data access above the XO bit into #PF.
      const h = this.hostOf(Math.floor(gpa / 4096));
      const denied = h.state === 'NOPAGE' || gpa >= this.config.framesMax * 4096 || (this.lazyHost && !this.hostMapped.has(Math.floor(gpa / 4096)));
      return { r: denied ? (aliasData ? 'pf' : 48) : 'ok', gpa, eff: denied ? 0 : RWX, spp: false };
    }
    const vm = this.vms.get(c.vm)!;
    const alias = this.aliasBit !== 0 && gpa >= this.aliasBit;
    const key = Math.floor(gpa / 4096);
    const gfn = key - (alias ? this.aliasGfn : 0);
    const f = this.mappingAt(vm, c.vtl, key);
    const page = vm.pages.get(gfn);
    if (f === null || page === undefined) return { r: aliasData ? 'pf' : 48, gpa, eff: 0, spp: false };
    const base = this.rights(vm, c.vtl, gfn, alias, page);
    const spp = !f.m.huge && (base & W) !== 0 && this.protected_(vm, gfn);
    const eff = f.m.aged ? 0 : f.m.wp ? base & ~W : spp ? base & ~W : base;
    const leafSpp = spp && !f.m.aged && !f.m.wp;
    const need = this.needOf(cpu, kind, user);
    if ((eff & need) !== 0) return { r: 'ok', gpa, eff, spp: leafSpp };
    if (final && kind === 'write' && leafSpp && (eff & R) !== 0) {
      if (f.m.sppParked === true) this.sppRestoredChecked = true;
      if (!vm.sppRegions.has(Math.floor(gfn / 512))) return { r: 66, gpa, eff, spp: true };
      const vec = vm.vectors.get(gfn)!;
      const off = gpa % 4096;
      for (let i = off >> 7; i <= (off + len - 1) >> 7; i++) {
        if (((vec >>> i) & 1) === 0) return { r: 48, gpa: gpa - off + Math.max(off, i * 128), eff, spp: true };
      }
      return { r: 'ok', gpa, eff, spp: true };
    }
    return { r: aliasData ? 'pf' : 48, gpa, eff, spp: leafSpp };
  }

  /** The 8-byte guest paging entry at `gpa` (the walk already translated it), as a bigint. */
  private entry(cpu: number, gpa: number): bigint {
    return this.readPhys(this.hpaOf(cpu, gpa), 8);
  }

  private hpaOf(cpu: number, gpa: number): number {
    return this.cpus[cpu].vm === HOST ? gpa : this.guestPage(cpu, gpa)!.pfn * 4096 + (gpa % 4096);
  }

  /** The running VM's page record at `gpa` (the XO alias folded onto its gfn), if it has one. */
  private guestPage(cpu: number, gpa: number): Page | undefined {
    const alias = this.aliasBit !== 0 && gpa >= this.aliasBit;
    return this.vms.get(this.cpus[cpu].vm)?.pages.get(Math.floor(gpa / 4096) - (alias ? this.aliasGfn : 0));
  }

  /**
   * One part (inside one linear page): with paging off the linear address is the GPA; with paging
   * on a cached translation (when this variant uses it) or the 4-level walk of the guest's tables
   * in guest memory (docs/semantics.md "Guest access" steps 2-5, 7), each entry read through the
   * EPT view, A/D set as paging-structure writes through it.
   */
  private translate(cpu: number, kind: Kind, la: number, len: number, useCache: boolean): PartResult {
    const regs = this.cpus[cpu].regs;
    const xoCode = PF_P + (kind === 'write' ? PF_W : 0) + (regs.cpl === 3 ? PF_U : 0); // ref §5.2
    const finalPart = (gpa: number, fill: Cached | null): PartResult => {
      const user = fill !== null && fill.us; // paging off: every address is supervisor-mode
      const e = this.ept(cpu, kind, gpa, len, true, user);
      if (e.r !== 'ok') return { r: e.r, gpa: e.gpa, kind, code: xoCode, fill: null, user, len };
      return { r: 'ok', gpa, kind, code: 0, fill: fill === null ? null : { ...fill, ept: e.eff, spp: e.spp } };
    };
    if (!this.paging(cpu)) return finalPart(la, null);
    const page = Math.floor(la / 4096);
    const hit = this.cached(cpu, page);
    if (hit !== undefined) {
      if (useCache && this.serves(cpu, hit, kind, la, len)) return { r: 'ok', gpa: hit.gpaPage * 4096 + (la % 4096), kind, code: 0, fill: null };
      if (!this.serves(cpu, hit, kind, la, len)) this.forgetPage(cpu, page); // dropped, then walked
    }
    const maxPhy = BigInt(this.config.maxPhyAddr);
    const addrOf = (e: bigint): number => Number(e & ((1n << maxPhy) - 1n) & ~0xfffn);
    const pf = (code: number): PartResult => ({ r: 'pf', gpa: 0, kind, code, fill: null });
    const errBits = accessBits(regs, kind);
    const nxe = Math.floor(regs.efer / NXE) % 2 === 1;
    const walkExit = (gpa: number, k: Kind): PartResult => ({ r: 48, gpa, kind: k, code: 0, fill: null, len: ENTRY_BYTES });
    const used: Array<{ level: number; gpa: number; e: bigint }> = [];
    let table = regs.cr3 - (regs.cr3 % 4096);
    let leaf: { level: number; gpa: number; e: bigint } | null = null;
    for (let level = 4; leaf === null; level--) {
      const span = 2 ** (12 + 9 * (level - 1));
      const gpa = table + (Math.floor(la / span) % 512) * 8;
      if (this.ept(cpu, 'read', gpa, 8, false).r !== 'ok') return walkExit(gpa, 'read');
      const e = this.entry(cpu, gpa);
      if ((e & 1n) === 0n) return pf(errBits);
      const ps = (e & 0x80n) !== 0n;
      const rsvd = (e >> maxPhy) & ((1n << (52n - maxPhy)) - 1n);
      const large = ps && (level === 3 || level === 2);
      const alignBits = level === 3 ? (e >> 13n) & 0x1ffffn : (e >> 13n) & 0xffn;
      if (rsvd !== 0n || (!nxe && e >> 63n === 1n) || (level === 4 && ps)
        || (level === 3 && ps && !this.config.caps.page1G) || (large && alignBits !== 0n)) return pf(PF_P + PF_RSVD + errBits);
      used.push({ level, gpa, e });
      if (level === 1 || large) leaf = { level, gpa, e };
      else table = addrOf(e);
    }
    const rw = used.every((u) => (u.e & 2n) !== 0n);
    const us = used.every((u) => (u.e & 4n) !== 0n);
    const xd = nxe && used.some((u) => u.e >> 63n === 1n);
    const pkey = Number((leaf.e >> 59n) & 0xfn);
    const code = pageFaultCode(regs, kind, rw, us, xd, pkey, this.config.choices.pkOnUserToSupervisor === 'qemu');
    if (code !== 0) return pf(code);
    // A/D (semantics step 4): A in every entry, D in the leaf for a write; each as a write of the
    // entry's GPA through EPT; an entry already set is not written. Upper entries are re-read.
    let dirty = (leaf.e & 0x40n) !== 0n;
    if (!used.every((u) => (u.e & 0x20n) !== 0n) || (kind === 'write' && !dirty)) {
      for (const u of used) {
        const isLeaf = u === used[used.length - 1];
        const cur = Number((isLeaf ? u.e : this.entry(cpu, u.gpa)) & 0xffn);
        const want = cur | 0x20 | (isLeaf && kind === 'write' ? 0x40 : 0);
        if (want === cur) continue;
        if (this.ept(cpu, 'write', u.gpa, 8, false).r !== 'ok') {
          this.noteEntryWriteStopped(cpu, u.gpa, want & ~cur);
          return walkExit(u.gpa, 'write');
        }
        const hpa = this.hpaOf(cpu, u.gpa);
        const value = this.byte(hpa) | (want & ~cur);
        this.adLog.push(this.j.mark(), hpa, value);
        this.writeByte(hpa, value);
        if (isLeaf) dirty = (want & 0x40) !== 0;
      }
    }
    const size = 2 ** (12 + 9 * (leaf.level - 1));
    const frame = addrOf(leaf.e);
    const global = (leaf.e & 0x100n) !== 0n && Math.floor(regs.cr4 / PGE) % 2 === 1;
    const gpa = frame - (frame % size) + (la % size);
    return finalPart(gpa, { gpaPage: Math.floor(gpa / 4096), rw, us, xd, pkey, global, dirty, ept: 0, spp: false });
  }

  private access(cpu: number, kind: Kind, la: number, size: number, value: bigint, variant: number): Ran {
    const parts = this.parts(la, size);
    let exits: number[] | null = null;
    this.sppRestoredChecked = false;
    const end = (o: AnyOutcome): Ran => (this.sppRestoredChecked ? { outcome: o, rule: RULE_SPP_PARKED_RESTORED } : { outcome: o });
    for (let i = 0; i < RETRIES_MAX; i++) {
      let stop: (PartResult & { la: number }) | null = null;
      const done: PartResult[] = [];
      for (let p = 0; p < parts.length; p++) {
        const r = this.translate(cpu, kind, parts[p][0], parts[p][1], (variant & (1 << p)) !== 0);
        if (r.r !== 'ok') { stop = { ...r, la: parts[p][0] }; break; }
        done.push(r);
      }
      if (stop === null) {
        const then = this.move(cpu, kind, parts.map(([, len], p) => [done[p].gpa, len]), value);
        // Whole access done: the walked parts' translations may now be cached.
        done.forEach((r, p) => { if (r.fill !== null) this.remember(cpu, Math.floor(parts[p][0] / 4096), r.fill); });
        return end(exits === null ? then : { kind: 'handled', exits, then });
      }
      this.forgetPage(cpu, Math.floor(stop.la / 4096));
      if (stop.r === 'pf') {
        const then: Outcome = { kind: 'pf', code: stop.code, cr2: stop.la };
        return end(exits === null ? then : { kind: 'handled', exits, then });
      }
      const reason = stop.r as 48 | 66;
      if (exits === null) exits = [];
      exits.push(reason);
      const mark = this.j.mark();
      const res = this.handle(cpu, stop.kind, reason, stop.gpa, exits, stop.user === true, stop.len ?? 0);
      if (res.out === NO_MEMORY.out) {
        // The hypervisor takes back what the access's faults did from its first allocating exit
        // on, table pages included; the guest A/D bits the hardware walks wrote since stay set.
        const first = this.allocMarks[0] ?? mark;
        const again: number[] = [];
        for (let k = 0; k < this.adLog.length; k += 3) if (this.adLog[k] >= first) again.push(this.adLog[k + 1], this.adLog[k + 2]);
        const topups = this.accessTopups;
        this.j.rollback(first);
        for (let k = 0; k < again.length; k += 2) this.writeByte(again[k], again[k + 1]);
        // The automatic top-ups stay (KVM keeps a vCPU's memcache pages): pushed again, in order.
        for (const [id, c, pages] of topups) this.admit(this.vms.get(id)!, c, pages);
        this.accessTopups = [];
        return end(res.out);
      }
      if (res.alloc) this.allocMarks.push(mark);
      if (res.out !== null) return end(res.out);
    }
    throw new Error('hv model: access did not converge');
  }

  /** Moves the data of a finished access: `parts` are (gpa, length). */
  private move(cpu: number, kind: Kind, parts: Array<[number, number]>, value: bigint): Outcome {
    if (kind === 'fetch') return OK;
    let v = value;
    let out = 0n;
    let shift = 0n;
    for (const [gpa, len] of parts) {
      for (let i = 0; i < len; i++) {
        const hpa = this.hpaOf(cpu, gpa + i);
        if (kind === 'write') {
          this.writeByte(hpa, Number(v & 0xffn));
          v >>= 8n;
        } else {
          out |= BigInt(this.byte(hpa)) << shift;
          shift += 8n;
        }
      }
    }
    return kind === 'write' ? OK : { kind: 'data', value: out };
  }

  /** One exit of an access; `len` = bytes of the access that exited (the outcome's `size`). */
  private handle(cpu: number, kind: Kind, reason: 48 | 66, gpa: number, exits: number[], user: boolean, len: number): { out: AnyOutcome | null; alloc: boolean } {
    const c = this.cpus[cpu];
    const exit = (e: HvExit, at: number, info: number): { out: AnyOutcome; alloc: boolean } => ({ out: { kind: 'hv_exit', exit: e, gpa: at, size: len, info, exits }, alloc: false });
    if (c.vm === HOST) {
      // arm64: map the page and retry (the tables exist from boot: nothing to allocate).
      if (this.hostIdmap(Math.floor(gpa / 4096))) return { out: null, alloc: false };
      return exit('abort', gpa, 48);
    }
    const vm = this.vms.get(c.vm)!;
    const alias = this.aliasBit !== 0 && gpa >= this.aliasBit;
    const key = Math.floor(gpa / 4096);
    const gfn = key - (alias ? this.aliasGfn : 0);
    const page4k = gpa - (gpa % 4096);
    if (reason === 66) {
      // The SPPT-miss exit builds the region's SPPT path (src/hv/spp.ts buildSpptRegion).
      if (this.lacks(this.spptNeed(vm, gfn))) return NO_MEMORY;
      this.buildSppt(vm, gfn);
      return { out: null, alloc: true };
    }
    const flags = this.faultRwx ? FAULT[kind] : 0;
    const a = vm.attrs.get(gfn) ?? 0;
    const f = this.mappingAt(vm, c.vtl, key);
    if (f !== null) {
      if (f.m.aged) { this.setMapping(vm, c.vtl, f.at, { ...f.m, aged: false }); return { out: null, alloc: false }; }
      if (kind === 'write' && f.m.wp) { this.setMapping(vm, c.vtl, f.at, { ...f.m, wp: false }); return { out: null, alloc: false }; }
      if (vm.type === 'protected' && !(a & PRIVATE)) return exit('memory_fault', page4k, flags | FAULT_PRIVATE);
      const page = vm.pages.get(gfn)!;
      const base = this.rights(vm, c.vtl, gfn, alias, page);
      if (kind === 'write' && !f.m.huge && (base & W) && this.protected_(vm, gfn)) {
        if (f.m.sppParked === true) this.sppRestoredChecked = true;
        return exit('spp', gpa, 0);
      }
      const need = this.needOf(cpu, kind, user);
      for (let s = this.opts.vtls - 1; s > c.vtl; s--) {
        const m = vm.prot.get(s)?.get(gfn);
        if (m !== undefined && (m & need) === 0) {
          this.switchTo(cpu, c.vm, s);
          return exit('intercept', gpa, s);
        }
      }
      const nAttr = need === R ? NR : need === W ? NW : NX; // X or UX
      if (a & nAttr) return exit('memory_fault', page4k, flags);
      const slot = page.slot >= 0 ? vm.slots.get(page.slot) : undefined;
      if (kind === 'write' && slot && (slot.flags & MEM_READONLY)) return exit('mmio', gpa, 0);
      return exit('memory_fault', page4k, flags);
    }
    let page = vm.pages.get(gfn);
    // A force-reclaimed gfn: its PTE is a POISONED annotation, KVM_RUN fails with EHWPOISON.
    if (page === undefined && vm.poisoned.has(gfn)) return exit('hwpoison', page4k, flags | FAULT_PRIVATE);
    if (page === undefined) {
      if (vm.type === 'protected') return exit('memory_fault', page4k, flags | FAULT_PRIVATE);
      const slotId = this.slotOf(vm, gfn);
      if (slotId < 0 || vm.dying) return exit('mmio', gpa, 0);
      const s = vm.slots.get(slotId)!;
      const pfn = s.pfn + (gfn - s.gfn);
      const base = gfn - (gfn % 512);
      const bpfn = s.pfn + (base - s.gfn);
      let shared = false;
      const cacheCpu = this.vmCache ? cpu : -1;
      if (this.opts.hugePages && base >= s.gfn && base + 512 <= s.gfn + s.pages && bpfn % 512 === 0 && this.uniform(vm, base)) {
        let all = true;
        for (let i = 0; i < 512 && all; i++) all = !vm.pages.has(base + i) && !vm.poisoned.has(base + i) && !this.isMmio(bpfn + i) && this.hostOf(bpfn + i).state === 'O';
        if (all) {
          if (this.vmCache && !this.faultTopup(vm, c.vm, cpu)) return NO_MEMORY;
          if (!this.share(vm, bpfn, base, 512, RWX, slotId, cacheCpu)) return NO_MEMORY;
          shared = true;
        }
      }
      if (!shared) {
        if (!this.shareable(pfn)) return exit('memory_fault', page4k, flags);
        if (this.vmCache && !this.faultTopup(vm, c.vm, cpu)) return NO_MEMORY;
        if (!this.share(vm, pfn, gfn, 1, RWX, slotId, cacheCpu)) return NO_MEMORY;
      }
      page = vm.pages.get(gfn)!;
      if (c.vtl === 0 && !alias) return { out: null, alloc: true };
    }
    if (vm.type === 'protected' && !(a & PRIVATE)) return exit('memory_fault', page4k, flags | FAULT_PRIVATE);
    const sppt = this.protected_(vm, gfn);
    if (this.lacks(this.tablesNeeded(vm, c.vtl, key, false) + (sppt ? this.spptNeed(vm, gfn) : 0))) return NO_MEMORY;
    this.setMapping(vm, c.vtl, key, { huge: false, wp: false, aged: false });
    if (sppt) this.buildSppt(vm, gfn);
    return { out: null, alloc: true };
  }
}

/** A fresh model for a configuration (Target.makeModel). */
export function makeHvModel(config: MachineConfig): HvModel {
  return new HvModel(config);
}
