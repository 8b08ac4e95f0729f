/**
 * The hv-mode trace generator: a setup (a np VM with a memslot, a protected VM with donated
 * private pages, SPP on) and a weighted workload interleaving guest and host accesses with
 * hypervisor operations, biased toward pages and gfns already in play.
 * Contract: deterministic in (seed, options): seedrandom alea through Rng, no clock, no
 * ambient random source; every op is well-formed per OP_SCHEMAS and allowed in hv mode (validate.ts: no
 * hardware op the hypervisor refuses); the result is a Trace whose machine configuration has
 * mode 'hv'. `HvWorld` holds what setup put in play, so a campaign can mutate hv traces with the
 * same biased op makers (`hvWorldFromOps`, src/gen/hv/mutate.ts).
 */
import { Rng } from '../rng.js';
import { hostEptFrames, normalizeConfig, type MachineConfig } from '../../hw/config.js';
import type { Op, Reg } from '../../trace/ops.js';
import { SCHEMA_VERSION, type Trace } from '../../trace/trace.js';

export interface HvGenOptions {
  /** Workload ops after the setup (default 200). */
  ops?: number;
  bugs?: string[];
  /** Hypervisor pool frames (small pools make -ENOMEM paths reachable; default: one of 16, 24, 64, 256 by seed). */
  poolFrames?: number;
  vtls?: number;
  /** MBEC-aware VTL protections (default: the base configuration's, else on in 30% of runs when caps.mbec). */
  vtlMbec?: boolean;
  /**
   * Probability that the np VM's VTL 0 on cpu 0 builds 4-level guest page tables and runs with
   * paging on (default 0.5): accesses then use linear addresses, some PTEs select the XO alias
   * through the stolen bit, and the workload rewrites PTEs through a self-map, with or without INVLPG.
   */
  paging?: number;
  /**
   * Total ops, setup included (the campaign's --max-ops): the workload runs until the trace has
   * this many ops and is then cut there. When absent, `ops` workload steps run and nothing is cut.
   */
  opsMax?: number;
  /** Machine configuration to start from (mode, vcpus, framesMax and kvmXo are the generator's own). */
  base?: MachineConfig;
}

const NP = 2;
const PVM = 3;
const SLOT_GFN = 0x200;
const SLOT_PFN = 0x400;
const SLOT_PAGES = 1024;
const PVM_PFN = 0x40;
const FRAMES = 8192;
/** Guest paging layout: LA_BASE + i * 4 KiB is PTE i of the page table at gfn PT_GFN (PML4 0, PDPT 1, PD 0). */
const LA_BASE = 0x40000000;
const PML4_GFN = 0x5f0;
const PT_GFN = 0x203;
const P = 1n, RW = 2n, US = 4n, XD = 1n << 63n;

/** Relative weights of the workload's op kinds. */
const WEIGHTS: Array<[string, number]> = [
  ['pte', 4], ['guest_reg', 2], ['invlpg', 1],
  ['read', 14], ['write', 14], ['fetch', 4], ['host_access', 6], ['vcpu_load', 4], ['set_cpl', 1],
  ['share_guest', 3], ['unshare_guest', 3], ['donate_guest', 3], ['guest_share', 3], ['guest_unshare', 3],
  ['donate_hyp', 2], ['hyp_donate', 2], ['share_hyp', 2], ['unshare_hyp', 2],
  ['spp_set', 4], ['spp_get', 1], ['wp', 3], ['age', 3], ['attrs', 3], ['vtl_call', 2], ['vtl_return', 2],
  ['vtl_protect', 4], ['memslot', 1], ['teardown', 1],
];

/**
 * Kinds added after the first campaigns (state queries, pins, FF-A, force reclaim, multi-share):
 * drawn, and their operands too, from a stream of their own (`HvWorld.extra`), between the
 * workload's steps, so the main stream's draws, and every trace a seed gave before, stay as they
 * were, with these ops interleaved. Relative weights; `EXTRA_STEP_P` is the chance of one before
 * each ordinary step.
 */
const EXTRA_WEIGHTS: Array<[string, number]> = [
  ['query', 4], ['pin', 3], ['unpin', 2], ['ffa', 3], ['force_reclaim', 2], ['multi_share', 3], ['attrs_wrap', 1],
];
const EXTRA_STEP_P = 0.12;

/**
 * Kinds of traces with per-VM memory caches (hv.memcache 'vm'): top-ups, undonations and the
 * arm64 np-guest calls, drawn with their operands from a stream of their own (`HvWorld.mc`), so
 * traces of other configurations keep their bytes. `MC_STEP_P` is the chance of one before each
 * ordinary step.
 */
const MC_WEIGHTS: Array<[string, number]> = [
  ['mc_topup', 4], ['mc_undonate', 3], ['relax_perms', 2], ['np_wrprotect', 1], ['mkyoung', 1], ['mmio', 2], ['mc_vcpu', 4],
];
const MC_STEP_P = 0.18;
/** Host pages the setup puts in the np VM's and the protected VM's memory caches. */
const MC_NP_PFN = 0x100;
const MC_PVM_PFN = 0x110;
const MC_SETUP_PAGES = 8;
/** The host MMIO window of memory-cache traces that have one (one 2 MiB region; RAM is larger). */
const MMIO_PFN = 0xe00;
const MMIO_PAGES = 512;

/** The hv machine configuration the generator builds for (and a hv campaign's base configuration). */
export function hvGenConfig(poolFrames: number, bugs: readonly string[] = [], vtls = 2, base?: MachineConfig): MachineConfig {
  return normalizeConfig({
    ...(base ?? {}),
    // vcpus and kvmXo come from a campaign epoch's base (src/gen/hv/configs.ts), else 2 and on.
    mode: 'hv', vcpus: base?.vcpus ?? 2, framesMax: FRAMES, kvmXo: base?.kvmXo ?? true, bugs: [...bugs],
    hv: { ...(base?.hv ?? {}), poolFrames, vtls },
  });
}

/** Pool frames beyond the host EPT's when huge pages are off (one VM's roots and a few tables). */
const HV_POOL_SPARE = 12;

/** Pool sizes the generator draws from (small pools make -ENOMEM paths reachable). */
export const HV_POOL_CHOICES: readonly number[] = [16, 24, 64, 256];

/** The guest paging setup's signature op: turning paging on at cpu 0 (hvWorldFromOps looks for it). */
const PAGING_ON = 0x80010001n;

/** What the generator has in play: VM handles, gfns, host pfns, guest paging, and the op makers. */
export class HvWorld {
  readonly alias: number;
  readonly npGfns = [0x200, 0x201, 0x202, 0x3ff, 0x400, 0x401, 0x5ff];
  readonly pvmGfns = [1, 2, 3, 0x201];
  readonly hostPfns = [0x10, 0x11, 0x30, PVM_PFN, PVM_PFN + 1, SLOT_PFN, SLOT_PFN + 1, 0x600, 0x601];
  /** PTE i maps LA_BASE + i * 4 KiB; the last one maps the page table itself (the guest edits PTEs through it). */
  readonly pteTargets: number[];
  readonly selfMap: number;
  private readonly total = WEIGHTS.reduce((s, [, w]) => s + w, 0);
  private readonly extraTotal = EXTRA_WEIGHTS.reduce((s, [, w]) => s + w, 0);
  /** The stream of the later kinds (EXTRA_WEIGHTS): their choice and operands. */
  readonly extra: Rng;
  /** Per-VM memory caches (hv.memcache 'vm'): the MC_WEIGHTS kinds run, from the stream `mc`. */
  readonly memcache: boolean;
  readonly mc: Rng;
  private readonly mcTotal = MC_WEIGHTS.reduce((s, [, w]) => s + w, 0);
  /** Pages a top-up or undonation picks from: the setup's cache pages, the pages around them, and pages in play. */
  readonly mcPfns: number[];

  constructor(readonly rng: Rng, readonly config: MachineConfig, readonly paging: boolean) {
    this.extra = rng.derive('hv-extra');
    this.mc = rng.derive('hv-memcache-ops');
    this.memcache = config.hv?.memcache === 'vm';
    this.mcPfns = [MC_NP_PFN - 2, MC_NP_PFN - 1, MC_NP_PFN, MC_NP_PFN + 3, MC_NP_PFN + 7, MC_PVM_PFN, MC_PVM_PFN + 5, MC_PVM_PFN + 7, MC_PVM_PFN + 8, MC_PVM_PFN + 9];
    this.alias = 2 ** (config.maxPhyAddr - 1);
    this.pteTargets = [...this.npGfns, PT_GFN];
    this.selfMap = this.pteTargets.length - 1;
    if (paging) this.npGfns.push(PT_GFN); // the page table is a page in play too (SPP, VTL protections, dirty logging)
  }

  /**
   * The setup's fixed part (VMs, memslot, SPP, donated pages, loaded vCPUs). With per-vCPU memory
   * caches the cache of each VM's home vCPU (np: cpu 0, protected: cpu 1) is topped up and the
   * protected VM's vCPU is loaded before the donations (they take their tables from the cache of
   * the loaded vCPU).
   */
  static baseSetup(memcache = false): Op[] {
    const ops: Op[] = [
      { op: 'vm_create', vm: NP, type: 'np' },
      { op: 'memslot_set', vm: NP, slot: 0, gfn: SLOT_GFN, pfn: SLOT_PFN, pages: SLOT_PAGES, flags: 0 },
      { op: 'spp_enable', vm: NP },
      { op: 'vm_create', vm: PVM, type: 'protected' },
    ];
    if (memcache) {
      ops.push({ op: 'hv_topup', vm: NP, cpu: 0, pfn: MC_NP_PFN, nr: MC_SETUP_PAGES }, { op: 'hv_topup', vm: PVM, cpu: 1, pfn: MC_PVM_PFN, nr: MC_SETUP_PAGES });
      ops.push({ op: 'vcpu_load', cpu: 1, vm: PVM });
    }
    [1, 2, 3, 0x201].forEach((g, i) => ops.push({ op: 'host_donate_guest', vm: PVM, pfn: PVM_PFN + i, gfn: g }));
    ops.push({ op: 'set_mem_attrs', vm: PVM, gpa: 0x1000n, size: 0x3000n, attrs: 8n, flags: 0n });
    ops.push({ op: 'vcpu_load', cpu: 0, vm: NP }, { op: 'vcpu_load', cpu: 1, vm: PVM });
    return ops;
  }

  pte(i: number): bigint {
    const rng = this.rng;
    if (i === this.selfMap) return BigInt(PT_GFN * 4096) | P | RW;
    const flags = rng.pick([P | RW | US, P | RW | US, P | RW, P | US, P | RW | US | XD, 0n]);
    const xo = rng.chance(0.2) ? BigInt(this.alias) : 0n; // the stolen bit: the execute-only alias (ref §5.2)
    return xo | BigInt(this.pteTargets[i] * 4096) | flags;
  }

  /** The guest builds its tables with ordinary writes while paging is off (la = gpa), then turns it on. */
  pagingSetup(): Op[] {
    const ops: Op[] = [];
    const w = (gpa: number, v: bigint): Op => ({ op: 'write', cpu: 0, la: gpa, size: 8, value: v });
    ops.push(w(PML4_GFN * 4096, BigInt((PML4_GFN + 1) * 4096) | P | RW | US));
    ops.push(w((PML4_GFN + 1) * 4096 + 8, BigInt((PML4_GFN + 2) * 4096) | P | RW | US));
    ops.push(w((PML4_GFN + 2) * 4096, BigInt(PT_GFN * 4096) | P | RW | US));
    this.pteTargets.forEach((_, i) => ops.push(w(PT_GFN * 4096 + 8 * i, this.pte(i))));
    ops.push({ op: 'set_reg', cpu: 0, reg: 'cr3', value: BigInt(PML4_GFN * 4096) }, { op: 'set_reg', cpu: 0, reg: 'cr0', value: PAGING_ON });
    return ops;
  }

  kind(): string {
    let x = this.rng.float() * this.total;
    for (const [k, w] of WEIGHTS) { x -= w; if (x < 0) return k; }
    return WEIGHTS[0][0];
  }

  /** A later kind (EXTRA_WEIGHTS) before this step, or null; from the extra stream only. */
  extraKind(): string | null {
    if (!this.extra.chance(EXTRA_STEP_P)) return null;
    let x = this.extra.float() * this.extraTotal;
    for (const [k, w] of EXTRA_WEIGHTS) { x -= w; if (x < 0) return k; }
    return EXTRA_WEIGHTS[0][0];
  }

  /** A memory-cache kind (MC_WEIGHTS) before this step, or null; from the `mc` stream only, and only with per-VM caches. */
  mcKind(): string | null {
    if (!this.memcache || !this.mc.chance(MC_STEP_P)) return null;
    let x = this.mc.float() * this.mcTotal;
    for (const [k, w] of MC_WEIGHTS) { x -= w; if (x < 0) return k; }
    return MC_WEIGHTS[0][0];
  }

  /** One ordinary workload step, preceded now and then by one of the later kinds. */
  workStep(ops: Op[]): void {
    const k = this.extraKind();
    if (k !== null) this.step(ops, k);
    const m = this.mcKind();
    if (m !== null) this.step(ops, m);
    this.step(ops);
  }

  private cpu(): number { return this.rng.int(this.config.vcpus); }
  /** The vCPU a memory-cache op names for `vm`: mostly its home cpu (np 0, protected 1), else any (from the `mc` stream). */
  private mcCpu(vm: number): number {
    const x = this.mc;
    return x.chance(0.7) ? (vm === NP ? 0 : 1) % this.config.vcpus : x.int(this.config.vcpus);
  }
  private gfnFor(): number { return this.rng.chance(0.6) ? this.rng.pick(this.npGfns) : this.rng.pick(this.pvmGfns); }
  private gpa(): number {
    const rng = this.rng;
    const off = rng.chance(0.3) ? rng.pick([0, 0x7c, 0x80, 0xff8, 0xffc]) : rng.int(4096 - 8);
    if (this.paging && rng.chance(0.6)) return LA_BASE + rng.int(this.pteTargets.length) * 4096 + off; // a linear address
    const g = this.gfnFor();
    return (rng.chance(0.1) ? this.alias : 0) + g * 4096 + off;
  }
  private size(): number { return this.rng.pick([1, 2, 4, 8]); }

  /** One workload step of a weighted kind: zero or more ops appended to `ops`. */
  step(ops: Op[], kind: string = this.kind()): void {
    const rng = this.rng;
    const { npGfns, pvmGfns, hostPfns, pteTargets, selfMap, paging, alias, config } = this;
    switch (kind) {
      case 'pte': {
        // Rewrite a PTE through the self-map (cpu 0 if it still runs paged), INVLPG most of the time.
        if (!paging) break;
        const i = rng.int(selfMap);
        ops.push({ op: 'write', cpu: 0, la: LA_BASE + selfMap * 4096 + 8 * i, size: 8, value: this.pte(i) });
        if (rng.chance(0.7)) ops.push({ op: 'invlpg', cpu: 0, la: LA_BASE + i * 4096 });
        break;
      }
      case 'guest_reg': {
        const c = this.cpu();
        const [reg, value] = rng.pick<[Reg, bigint]>([
          ['cr0', 0x80010001n], ['cr0', 0x10001n], ['cr0', 0x80000001n], ['cr3', BigInt(PML4_GFN * 4096)], ['cr4', 0x20n], ['cr4', 0x300020n],
          ['cr4', 0x1300020n], ['efer', 0x500n], ['efer', 0xd00n], ['pkrs', BigInt(rng.pick([0, 4, 8, 12]))], ['cr3', BigInt(alias)],
        ]);
        ops.push({ op: 'set_reg', cpu: c, reg, value });
        break;
      }
      case 'invlpg': ops.push({ op: 'invlpg', cpu: this.cpu(), la: LA_BASE + rng.int(pteTargets.length) * 4096 }); break;
      case 'read': ops.push({ op: 'read', cpu: this.cpu(), la: this.gpa(), size: this.size() }); break;
      case 'write': ops.push({ op: 'write', cpu: this.cpu(), la: this.gpa(), size: this.size(), value: rng.u64() }); break;
      case 'fetch': ops.push({ op: 'fetch', cpu: this.cpu(), la: this.gpa(), size: rng.range(1, 15) }); break;
      case 'host_access': {
        const c = this.cpu();
        ops.push({ op: 'vcpu_load', cpu: c, vm: 1 });
        const la = rng.pick(hostPfns) * 4096 + rng.int(4088);
        ops.push(rng.chance(0.5) ? { op: 'read', cpu: c, la, size: 8 } : { op: 'write', cpu: c, la, size: 8, value: rng.u64() });
        break;
      }
      case 'vcpu_load': ops.push({ op: 'vcpu_load', cpu: this.cpu(), vm: rng.pick([1, NP, NP, PVM, PVM, 4]) }); break;
      case 'set_cpl': ops.push({ op: 'set_reg', cpu: this.cpu(), reg: 'cpl', value: BigInt(rng.pick([0, 0, 3])) }); break;
      case 'share_guest': ops.push({ op: 'host_share_guest', vm: rng.pick([NP, NP, PVM]), pfn: rng.pick(hostPfns), gfn: rng.pick([0x9, 0xa, ...npGfns]), nr: rng.chance(0.9) ? 1 : 512, prot: rng.pick([7, 7, 3, 1, 5, 2]) }); break;
      case 'unshare_guest': ops.push({ op: 'host_unshare_guest', vm: NP, gfn: rng.pick([0x9, 0xa, ...npGfns]), nr: rng.chance(0.9) ? 1 : 512 }); break;
      case 'donate_guest': ops.push({ op: 'host_donate_guest', vm: PVM, pfn: rng.pick(hostPfns), gfn: rng.pick([...pvmGfns, 4, 5]) }); break;
      case 'guest_share': ops.push({ op: 'guest_share_host', cpu: this.cpu(), gfn: rng.pick(pvmGfns) }); break;
      case 'guest_unshare': ops.push({ op: 'guest_unshare_host', cpu: this.cpu(), gfn: rng.pick(pvmGfns) }); break;
      case 'donate_hyp': ops.push({ op: 'host_donate_hyp', pfn: rng.pick(hostPfns), nr: rng.chance(0.95) ? BigInt(rng.range(1, 2)) : 2n ** 64n - BigInt(rng.range(1, 4)) }); break;
      case 'hyp_donate': ops.push({ op: 'hyp_donate_host', pfn: rng.pick(hostPfns), nr: BigInt(rng.range(1, 2)) }); break;
      case 'share_hyp': ops.push({ op: 'host_share_hyp', pfn: rng.pick(hostPfns) }); break;
      case 'unshare_hyp': ops.push({ op: 'host_unshare_hyp', pfn: rng.pick(hostPfns) }); break;
      case 'spp_set': ops.push({ op: 'spp_set', vm: NP, gfn: rng.pick(npGfns), npages: rng.range(1, 3), flags: 0, map: rng.pick([0xffffffff, 0xfffffffe, 0x7fffffff, 0x0, 0xaaaaaaaa, rng.u32()]) }); break;
      case 'spp_get': ops.push({ op: 'spp_get', vm: NP, gfn: rng.pick(npGfns) }); break;
      case 'wp': ops.push({ op: 'vm_write_protect', vm: rng.pick([NP, PVM]), gfn: rng.pick(npGfns) - rng.int(2), pages: rng.pick([1, 2, 512]) }); break;
      case 'age': ops.push({ op: 'vm_age', vm: rng.pick([NP, PVM]), gfn: this.gfnFor(), pages: rng.pick([1, 2, 512]) }); break;
      case 'attrs': {
        const vm = rng.pick([NP, PVM]);
        const g = vm === NP ? rng.pick(npGfns) : rng.pick(pvmGfns);
        ops.push({ op: 'set_mem_attrs', vm, gpa: BigInt(g * 4096), size: BigInt(rng.pick([1, 1, 2, 1100]) * 4096), attrs: BigInt(vm === NP ? rng.pick([0, 1 | 2 | 4, 2, 4, 6]) : rng.pick([0, 8, 8])), flags: 0n });
        break;
      }
      case 'vtl_call': ops.push({ op: 'vtl_call', cpu: this.cpu() }); break;
      case 'vtl_return': ops.push({ op: 'vtl_return', cpu: this.cpu() }); break;
      case 'vtl_protect': {
        // The VSM pattern: enter VTL1, protect a page VTL0 uses, let the other vCPU touch it, return.
        const c = this.cpu();
        const g = this.gfnFor();
        const call = rng.chance(0.7);
        // Often both vCPUs first run the np VM's VTL 0 and the other one touches the page, so it
        // holds a translation the protection must flush (extra stream: the main draws stay as they were).
        if (this.extra.chance(0.4)) {
          const o = (c + 1) % config.vcpus;
          ops.push({ op: 'vcpu_load', cpu: c, vm: NP }, { op: 'vcpu_load', cpu: o, vm: NP });
          ops.push({ op: 'read', cpu: o, la: g * 4096 + this.extra.int(4088), size: 8 });
        }
        if (call) ops.push({ op: 'vtl_call', cpu: c });
        // Under vtlMbec also user-execute only (0x9, 0xb: UMX without KMX); 0x5 (KMX only) is refused then.
        // Target 1: VTL 1 sets its protections for VTL 0 (the ABI's TargetVtl); from VTL 0 it is ACCESS_DENIED.
        const mbec = this.config.hv?.vtlMbec === true;
        // With 3 or more VTLs the target is drawn (from the extra stream: two-VTL traces stay as they were).
        const vtls = this.config.hv?.vtls ?? 2;
        const target = vtls > 2 ? 1 + this.extra.int(vtls - 1) : 1;
        if (vtls > 2 && target > 1) for (let v = 1; v < target; v++) ops.push({ op: 'vtl_call', cpu: c });
        ops.push({ op: 'vtl_protect', cpu: c, target, gfn: g, count: rng.range(1, 2), flags: rng.pick(mbec ? [0x1, 0xd, 0x3, 0xf, 0x10000, 0x5, 0x9, 0xb] : [0x1, 0xd, 0x3, 0xf, 0x10000, 0x5]) });
        const other = (c + 1) % config.vcpus; // the other vCPU touches the page
        if (rng.chance(0.6)) {
          const la = g * 4096 + rng.int(4088);
          const k = rng.float();
          if (mbec && k < 0.3) ops.push({ op: 'fetch', cpu: other, la, size: rng.range(1, 8) });
          else ops.push(k < 0.5 ? { op: 'read', cpu: other, la, size: 8 } : { op: 'write', cpu: other, la, size: 8, value: rng.u64() });
        }
        if (call) ops.push({ op: 'vtl_return', cpu: c });
        break;
      }
      case 'memslot': {
        const r = rng.int(3);
        if (r === 0) ops.push({ op: 'memslot_set', vm: NP, slot: 1, gfn: 0x900, pfn: 0x800, pages: 16, flags: rng.pick([0, 2, 4]) });
        else if (r === 1) ops.push({ op: 'memslot_set', vm: NP, slot: 1, gfn: 0, pfn: 0, pages: 0, flags: 0 });
        else ops.push({ op: 'memslot_set', vm: NP, slot: 0, gfn: rng.pick([SLOT_GFN, 0x1200]), pfn: SLOT_PFN, pages: SLOT_PAGES, flags: 0 });
        break;
      }
      case 'query': {
        // State you can see: the model and the hypervisor must report the same page state.
        const x = this.extra;
        const vm = x.pick([1, NP, NP, PVM, PVM]);
        ops.push({ op: 'hv_query', vm, pfn: x.pick(hostPfns), gfn: vm === PVM ? x.pick(pvmGfns) : x.pick(npGfns) });
        break;
      }
      case 'pin': {
        // Share with the hypervisor (often), then pin for the hypervisor or a VM's state; two
        // pages reach the path where the second one is not shared.
        const x = this.extra;
        const pfn = x.pick(hostPfns);
        if (x.chance(0.6)) ops.push({ op: 'host_share_hyp', pfn });
        ops.push({ op: 'hyp_pin', vm: x.pick([1, NP, PVM]), pfn, nr: x.chance(0.7) ? 1 : 2 });
        if (x.chance(0.3)) ops.push({ op: 'host_unshare_hyp', pfn });
        break;
      }
      case 'unpin': {
        const x = this.extra;
        ops.push({ op: 'hyp_unpin', vm: x.pick([1, NP, PVM]), pfn: x.pick(hostPfns), nr: 1 });
        break;
      }
      case 'ffa': {
        const x = this.extra;
        const pfn = x.pick(hostPfns);
        const nr = BigInt(x.chance(0.9) ? x.range(1, 2) : 0);
        ops.push(x.chance(0.55) ? { op: 'host_share_ffa', pfn, nr } : { op: 'host_unshare_ffa', pfn, nr });
        break;
      }
      case 'force_reclaim': {
        // A private page of the protected VM (those donated at setup, or any page in play), then
        // maybe its guest touching the poisoned gfn or donating there again.
        const x = this.extra;
        const i = x.int(pvmGfns.length);
        ops.push({ op: 'host_force_reclaim', pfn: x.chance(0.7) ? PVM_PFN + i : x.pick(hostPfns) });
        if (x.chance(0.4)) ops.push({ op: 'read', cpu: 1, la: pvmGfns[i] * 4096 + x.int(4088), size: 8 });
        if (x.chance(0.3)) ops.push({ op: 'host_donate_guest', vm: PVM, pfn: x.pick(hostPfns), gfn: pvmGfns[i] });
        break;
      }
      case 'multi_share': {
        // One host page into the np VM at two gfns (arm64 counts them; x86-rfc refuses the second).
        const x = this.extra;
        const pfn = x.pick(hostPfns);
        const g = x.pick([0x9, 0xa, 0xb]);
        ops.push({ op: 'host_share_guest', vm: NP, pfn, gfn: g, nr: 1, prot: 7 });
        ops.push({ op: 'host_share_guest', vm: NP, pfn, gfn: g + 3, nr: 1, prot: x.pick([1, 3, 7]) });
        if (x.chance(0.5)) ops.push({ op: 'host_unshare_guest', vm: NP, gfn: x.pick([g, g + 3]), nr: 1 });
        break;
      }
      case 'attrs_wrap': {
        // A range whose end wraps past 2^64 (KVM refuses it: address + size < address).
        const x = this.extra;
        ops.push({ op: 'set_mem_attrs', vm: x.pick([NP, PVM]), gpa: 2n ** 64n - BigInt(x.range(1, 4) * 4096), size: BigInt(x.range(1, 8) * 4096), attrs: BigInt(x.pick([0, 2, 6, 8])), flags: 0n });
        break;
      }
      case 'mc_topup': {
        // Often a range running into pages the hypervisor already holds (-EPERM at a later page).
        const x = this.mc;
        const vm = x.pick([NP, NP, PVM]);
        ops.push({ op: 'hv_topup', vm, cpu: this.mcCpu(vm), pfn: x.chance(0.8) ? x.pick(this.mcPfns) : x.pick(hostPfns), nr: x.pick([1, 1, 2, 3, 4]) });
        break;
      }
      case 'mc_undonate': {
        // Pages of either VM's cache (free or a table), pages donated to the hypervisor, pages in play.
        const x = this.mc;
        const vm = x.pick([NP, PVM]);
        if (x.chance(0.3)) ops.push({ op: 'host_donate_hyp', pfn: x.pick(hostPfns), nr: 1n });
        ops.push({ op: 'hv_undonate', vm, cpu: this.mcCpu(vm), pfn: x.chance(0.7) ? x.pick(this.mcPfns) : x.pick(hostPfns), nr: x.pick([1, 1, 2]) });
        break;
      }
      case 'mc_vcpu': {
        // A VM run on another vCPU, whose cache is its own: often empty (-ENOMEM for the share or
        // donation the host makes on it), sometimes topped up first; or its guest faults there
        // (the host's fault handler tops that vCPU's cache up on its own).
        const x = this.mc;
        const vm = x.pick([NP, NP, PVM]);
        const c = x.int(this.config.vcpus);
        // The host call acts on the lowest cpu the VM runs on: free the ones below c now and then.
        if (x.chance(0.5)) for (let k = 0; k < c; k++) ops.push({ op: 'vcpu_load', cpu: k, vm: 1 });
        ops.push({ op: 'vcpu_load', cpu: c, vm });
        if (x.chance(0.4)) ops.push({ op: 'hv_topup', vm, cpu: c, pfn: x.pick(this.mcPfns), nr: x.pick([1, 2, 3, 4]) });
        const k = x.int(4);
        if (vm === PVM) ops.push({ op: 'host_donate_guest', vm: PVM, pfn: x.pick(hostPfns), gfn: x.pick([...pvmGfns, 4, 5]) });
        else if (k < 2) ops.push({ op: 'host_share_guest', vm: NP, pfn: x.pick(hostPfns), gfn: x.pick([0x9, 0xa, 0x7, ...npGfns]), nr: 1, prot: x.pick([7, 3, 1]) });
        else {
          // From VTL 1 now and then: view 0's tables from the vCPU's cache, view 1's from the pool
          // (an -ENOMEM there takes the share back and keeps the top-up).
          const up = x.chance(0.5);
          if (up) ops.push({ op: 'vtl_call', cpu: c });
          ops.push({ op: x.chance(0.5) ? 'read' : 'fetch', cpu: c, la: x.pick(npGfns) * 4096 + x.int(4080), size: 1 } as Op);
          if (up) ops.push({ op: 'vtl_return', cpu: c });
        }
        if (x.chance(0.4)) ops.push({ op: 'hv_query', vm, pfn: x.pick(hostPfns), gfn: x.pick([0x9, 0xa, ...npGfns]) });
        break;
      }
      case 'relax_perms': {
        const x = this.mc;
        if (x.chance(0.3)) ops.push({ op: 'vcpu_load', cpu: 0, vm: NP });
        ops.push({ op: 'host_relax_perms', vm: x.pick([NP, NP, NP, PVM]), gfn: x.pick([0x9, 0xa, ...npGfns]), prot: x.pick([1, 2, 3, 4, 7, 8]) });
        break;
      }
      case 'np_wrprotect': {
        const x = this.mc;
        ops.push({ op: 'host_wrprotect', vm: x.pick([NP, NP, PVM]), gfn: x.pick([0x9, 0xa, 0x200, ...npGfns]), nr: x.pick([1, 1, 2, 512]) });
        break;
      }
      case 'mmio': {
        // Transitions on device memory (and ranges straddling RAM and MMIO), and the host's access to it.
        const x = this.mc;
        if ((config.hv?.mmioPages ?? 0) === 0) break;
        const pfn = x.pick([MMIO_PFN, MMIO_PFN + 1, MMIO_PFN - 1]);
        const k = x.int(6);
        if (k === 0) ops.push({ op: 'host_share_guest', vm: NP, pfn, gfn: x.pick([0x9, 0xa]), nr: 1, prot: 7 });
        else if (k === 1) ops.push({ op: 'host_donate_guest', vm: PVM, pfn, gfn: x.pick([4, 5]) });
        else if (k === 2) ops.push({ op: 'host_donate_hyp', pfn, nr: BigInt(x.range(1, 2)) });
        else if (k === 3) {
          const vm = x.pick([NP, PVM]);
          ops.push({ op: 'hv_topup', vm, cpu: this.mcCpu(vm), pfn, nr: x.range(1, 2) });
        }
        else if (k === 4) ops.push(x.chance(0.5) ? { op: 'host_share_ffa', pfn, nr: 1n } : { op: 'host_force_reclaim', pfn });
        else {
          const c = this.cpu();
          ops.push({ op: 'vcpu_load', cpu: c, vm: 1 });
          const la = MMIO_PFN * 4096 + x.int(4088);
          ops.push(x.chance(0.5) ? { op: 'read', cpu: c, la, size: 8 } : { op: 'write', cpu: c, la, size: 8, value: x.u64() });
        }
        break;
      }
      case 'mkyoung': {
        const x = this.mc;
        if (x.chance(0.5)) ops.push({ op: 'vm_age', vm: NP, gfn: x.pick(npGfns), pages: 1 });
        ops.push({ op: 'host_mkyoung', vm: x.pick([NP, NP, PVM]), gfn: x.pick(npGfns) });
        break;
      }
      case 'teardown': {
        const vm = rng.pick([NP, PVM]);
        for (let c = 0; c < config.vcpus; c++) ops.push({ op: 'vcpu_load', cpu: c, vm: 1 });
        ops.push({ op: 'vm_teardown_start', vm });
        for (const g of vm === PVM ? pvmGfns : npGfns) ops.push({ op: 'vm_reclaim', vm, gfn: g });
        ops.push({ op: 'vm_teardown_finish', vm });
        ops.push({ op: 'vm_create', vm, type: vm === NP ? 'np' : 'protected' });
        if (vm === NP) ops.push({ op: 'memslot_set', vm: NP, slot: 0, gfn: SLOT_GFN, pfn: SLOT_PFN, pages: SLOT_PAGES, flags: 0 }, { op: 'spp_enable', vm: NP });
        ops.push({ op: 'vcpu_load', cpu: 0, vm });
        if (this.memcache) ops.push({ op: 'hv_topup', vm, cpu: 0, pfn: vm === NP ? MC_NP_PFN : MC_PVM_PFN, nr: MC_SETUP_PAGES });
        break;
      }
    }
  }
}

/** The workload kind whose maker produces op `name` (for operand mutations), or null. */
export function hvKindOfOp(name: string): string | null {
  return OP_KIND.get(name) ?? null;
}

const OP_KIND: ReadonlyMap<string, string> = new Map([
  ['read', 'read'], ['write', 'write'], ['fetch', 'fetch'], ['invlpg', 'invlpg'], ['vcpu_load', 'vcpu_load'],
  ['host_share_guest', 'share_guest'], ['host_unshare_guest', 'unshare_guest'], ['host_donate_guest', 'donate_guest'],
  ['guest_share_host', 'guest_share'], ['guest_unshare_host', 'guest_unshare'], ['host_donate_hyp', 'donate_hyp'],
  ['hyp_donate_host', 'hyp_donate'], ['host_share_hyp', 'share_hyp'], ['host_unshare_hyp', 'unshare_hyp'],
  ['spp_set', 'spp_set'], ['spp_get', 'spp_get'], ['vm_write_protect', 'wp'], ['vm_age', 'age'], ['set_mem_attrs', 'attrs'],
  ['vtl_call', 'vtl_call'], ['vtl_return', 'vtl_return'], ['vtl_protect', 'vtl_protect'], ['memslot_set', 'memslot'],
  ['hv_query', 'query'], ['hyp_pin', 'pin'], ['hyp_unpin', 'unpin'], ['host_share_ffa', 'ffa'], ['host_unshare_ffa', 'ffa'],
  ['host_force_reclaim', 'force_reclaim'], ['hv_topup', 'mc_topup'], ['hv_undonate', 'mc_undonate'], ['host_relax_perms', 'relax_perms'],
  ['host_wrprotect', 'np_wrprotect'], ['host_mkyoung', 'mkyoung'], ['set_reg', 'guest_reg'], ['vm_teardown_start', 'teardown'], ['vm_reclaim', 'teardown'], ['vm_teardown_finish', 'teardown'], ['vm_create', 'teardown'],
]);

/** A world for mutating a hv trace: guest paging is on when the trace's setup turned it on. */
export function hvWorldFromOps(ops: readonly Op[], config: MachineConfig, rng: Rng): HvWorld {
  const paging = ops.some((o) => o.op === 'set_reg' && o.cpu === 0 && o.reg === 'cr0' && o.value === PAGING_ON);
  return new HvWorld(rng, config, paging);
}

export function generateHvTrace(seed: string, options: HvGenOptions = {}): Trace {
  return generateHvTraceFrom(new Rng(`hv/${seed}`), seed, options);
}

/** generateHvTrace over a given stream (a campaign's run stream): deterministic in its seed. */
export function generateHvTraceFrom(rng: Rng, seed: string, options: HvGenOptions = {}): Trace {
  const drawn = options.poolFrames ?? rng.pick(HV_POOL_CHOICES);
  // Per-VM memory caches when the base leaves them open: in a third of the traces, from a stream
  // of their own (traces without them keep their bytes).
  const memcache = options.base?.hv?.memcache ?? (rng.derive('hv-memcache').chance(0.35) ? 'vm' : undefined);
  // Without huge pages, or with per-VM caches, the host EPT alone needs a page table per 2 MiB of
  // RAM: the pool keeps HV_POOL_SPARE frames beyond it, so small pools still reach -ENOMEM.
  const pageGranular = options.base?.hv?.hugePages === false || memcache === 'vm';
  const poolFrames = pageGranular && options.poolFrames === undefined
    ? Math.max(drawn, hostEptFrames(FRAMES - drawn, false) + HV_POOL_SPARE) : drawn;
  let config = hvGenConfig(poolFrames, options.bugs ?? options.base?.bugs ?? [], options.vtls ?? options.base?.hv?.vtls ?? 2, options.base);
  // MBEC-aware VTL protections on some runs (a stream of its own: the workload's draws stay as they were).
  const vtlMbec = options.vtlMbec ?? (config.hv?.vtlMbec === true || (config.caps.mbec && rng.derive('vtl-mbec').chance(0.3)));
  if (vtlMbec !== (config.hv?.vtlMbec === true)) config = normalizeConfig({ ...config, hv: { ...(config.hv ?? {}), vtlMbec } });
  // The pKVM source profile, when the base leaves it open (a campaign epoch sets it): arm64 in half
  // the traces, from a stream of its own, so the arm64-only paths (FF-A, force reclaim,
  // multi-share) are reached by plain generation too.
  if (config.hv?.pkvm === undefined && rng.derive('hv-profile').chance(0.5)) config = normalizeConfig({ ...config, hv: { ...(config.hv ?? {}), pkvm: 'arm64' } });
  if (memcache !== undefined && config.hv?.memcache !== memcache) config = normalizeConfig({ ...config, hv: { ...(config.hv ?? {}), memcache } });
  // A host MMIO window in half of the memory-cache traces (a stream of its own; other traces keep their bytes).
  if (config.hv?.memcache === 'vm' && config.hv.mmioPages === undefined && rng.derive('hv-mmio').chance(0.5)) {
    config = normalizeConfig({ ...config, hv: { ...(config.hv ?? {}), mmioPfn: MMIO_PFN, mmioPages: MMIO_PAGES } });
  }
  const ops: Op[] = HvWorld.baseSetup(config.hv?.memcache === 'vm');
  const paging = rng.chance(options.paging ?? 0.5);
  const world = new HvWorld(rng, config, paging);
  if (paging) ops.push(...world.pagingSetup());
  const opsMax = options.opsMax;
  const n = options.ops ?? 200;
  if (opsMax === undefined) {
    for (let i = 0; i < n; i++) world.workStep(ops);
  } else {
    while (ops.length < opsMax) world.workStep(ops);
    ops.length = Math.min(ops.length, opsMax);
  }
  const provenance: Record<string, string | number | boolean> = { generator: 'hv', poolFrames, paging };
  if (opsMax === undefined) provenance.ops = n;
  else provenance.ops_max = opsMax;
  return {
    schema: SCHEMA_VERSION,
    eptfuzz: '0.1.0',
    machine: config,
    ops,
    provenance: { seed, options: provenance },
  };
}
