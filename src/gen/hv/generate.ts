/**
 * The hv-mode trace generator: a setup (a np VM with a memslot, a protected VM with donated
 * private pages, SPP on) and a weighted workload interleaving guest and host accesses with
 * hypervisor operations, biased toward pages and gfns already in play.
 * Contract: deterministic in (seed, options): seedrandom alea through Rng, no clock, no
 * Math.random; every op is well-formed per HV_OP_SCHEMAS / OP_SCHEMAS; the result is a Trace
 * whose machine configuration has mode 'hv' (hv ops ride in `ops` typed as Op until the Op union
 * includes them).
 */
import { Rng } from '../rng.js';
import { normalizeConfig, type MachineConfig } from '../../hw/config.js';
import type { AnyOp, Op, Reg } from '../../trace/ops.js';
import { SCHEMA_VERSION, type Trace } from '../../trace/trace.js';

export interface HvGenOptions {
  /** Workload ops after the setup (default 200). */
  ops?: number;
  bugs?: string[];
  /** Hypervisor pool frames (small pools make -ENOMEM paths reachable; default: one of 16, 24, 64, 256 by seed). */
  poolFrames?: number;
  vtls?: number;
  /**
   * Probability that the np VM's VTL 0 on cpu 0 builds 4-level guest page tables and runs with
   * paging on (default 0.5): accesses then use linear addresses, some PTEs select the XO alias
   * through the stolen bit, and the workload rewrites PTEs through a self-map, with or without INVLPG.
   */
  paging?: number;
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

export function generateHvTrace(seed: string, options: HvGenOptions = {}): Trace {
  const rng = new Rng(`hv/${seed}`);
  const poolFrames = options.poolFrames ?? rng.pick([16, 24, 64, 256]);
  const config: MachineConfig = normalizeConfig({
    mode: 'hv', vcpus: 2, framesMax: FRAMES, kvmXo: true, bugs: [...(options.bugs ?? [])],
    hv: { poolFrames, vtls: options.vtls ?? 2 },
  });
  const alias = 2 ** (config.maxPhyAddr - 1);
  const ops: AnyOp[] = [
    { op: 'vm_create', vm: NP, type: 'np' },
    { op: 'memslot_set', vm: NP, slot: 0, gfn: SLOT_GFN, pfn: SLOT_PFN, pages: SLOT_PAGES, flags: 0 },
    { op: 'spp_enable', vm: NP },
    { op: 'vm_create', vm: PVM, type: 'protected' },
  ];
  const pvmGfns = [1, 2, 3, 0x201];
  pvmGfns.forEach((g, i) => ops.push({ op: 'host_donate_guest', vm: PVM, pfn: PVM_PFN + i, gfn: g }));
  ops.push({ op: 'set_mem_attrs', vm: PVM, gpa: 0x1000n, size: 0x3000n, attrs: 8n, flags: 0n });
  ops.push({ op: 'vcpu_load', cpu: 0, vm: NP }, { op: 'vcpu_load', cpu: 1, vm: PVM });

  // Pages in play: a few slot gfns (two 2 MiB regions), the pVM's gfns, some host pfns.
  const npGfns = [0x200, 0x201, 0x202, 0x3ff, 0x400, 0x401, 0x5ff];
  const paging = rng.chance(options.paging ?? 0.5);
  /** PTE i maps LA_BASE + i * 4 KiB; the last one maps the page table itself (the guest edits PTEs through it). */
  const pteTargets = [...npGfns, PT_GFN];
  const selfMap = pteTargets.length - 1;
  const pte = (i: number): bigint => {
    if (i === selfMap) return BigInt(PT_GFN * 4096) | P | RW;
    const flags = rng.pick([P | RW | US, P | RW | US, P | RW, P | US, P | RW | US | XD, 0n]);
    const xo = rng.chance(0.2) ? BigInt(alias) : 0n; // the stolen bit: the execute-only alias (ref §5.2)
    return xo | BigInt(pteTargets[i] * 4096) | flags;
  };
  if (paging) {
    // The guest builds its tables with ordinary writes while paging is off (la = gpa), then turns it on.
    const w = (gpa: number, v: bigint): AnyOp => ({ op: 'write', cpu: 0, la: gpa, size: 8, value: v });
    ops.push(w(PML4_GFN * 4096, BigInt((PML4_GFN + 1) * 4096) | P | RW | US));
    ops.push(w((PML4_GFN + 1) * 4096 + 8, BigInt((PML4_GFN + 2) * 4096) | P | RW | US));
    ops.push(w((PML4_GFN + 2) * 4096, BigInt(PT_GFN * 4096) | P | RW | US));
    pteTargets.forEach((_, i) => ops.push(w(PT_GFN * 4096 + 8 * i, pte(i))));
    ops.push({ op: 'set_reg', cpu: 0, reg: 'cr3', value: BigInt(PML4_GFN * 4096) }, { op: 'set_reg', cpu: 0, reg: 'cr0', value: 0x80010001n });
    npGfns.push(PT_GFN); // the page table is a page in play too (SPP, VTL protections, dirty logging)
  }
  const hostPfns = [0x10, 0x11, 0x30, PVM_PFN, PVM_PFN + 1, SLOT_PFN, SLOT_PFN + 1, 0x600, 0x601];
  const total = WEIGHTS.reduce((s, [, w]) => s + w, 0);
  const kind = (): string => {
    let x = rng.float() * total;
    for (const [k, w] of WEIGHTS) { x -= w; if (x < 0) return k; }
    return WEIGHTS[0][0];
  };
  const cpu = (): number => rng.int(config.vcpus);
  const gfnFor = (): number => (rng.chance(0.6) ? rng.pick(npGfns) : rng.pick(pvmGfns));
  const gpa = (): number => {
    const off = rng.chance(0.3) ? rng.pick([0, 0x7c, 0x80, 0xff8, 0xffc]) : rng.int(4096 - 8);
    if (paging && rng.chance(0.6)) return LA_BASE + rng.int(pteTargets.length) * 4096 + off; // a linear address
    const g = gfnFor();
    return (rng.chance(0.1) ? alias : 0) + g * 4096 + off;
  };
  const size = (): number => rng.pick([1, 2, 4, 8]);
  const n = options.ops ?? 200;
  for (let i = 0; i < n; i++) {
    switch (kind()) {
      case 'pte': {
        // Rewrite a PTE through the self-map (cpu 0 if it still runs paged), INVLPG most of the time.
        if (!paging) break;
        const i = rng.int(selfMap);
        ops.push({ op: 'write', cpu: 0, la: LA_BASE + selfMap * 4096 + 8 * i, size: 8, value: pte(i) });
        if (rng.chance(0.7)) ops.push({ op: 'invlpg', cpu: 0, la: LA_BASE + i * 4096 });
        break;
      }
      case 'guest_reg': {
        const c = cpu();
        const [reg, value] = rng.pick<[Reg, bigint]>([
          ['cr0', 0x80010001n], ['cr0', 0x10001n], ['cr0', 0x80000001n], ['cr3', BigInt(PML4_GFN * 4096)], ['cr4', 0x20n], ['cr4', 0x300020n],
          ['cr4', 0x1300020n], ['efer', 0x500n], ['efer', 0xd00n], ['pkrs', BigInt(rng.pick([0, 4, 8, 12]))], ['cr3', BigInt(alias)],
        ]);
        ops.push({ op: 'set_reg', cpu: c, reg, value });
        break;
      }
      case 'invlpg': ops.push({ op: 'invlpg', cpu: cpu(), la: LA_BASE + rng.int(pteTargets.length) * 4096 }); break;
      case 'read': ops.push({ op: 'read', cpu: cpu(), la: gpa(), size: size() }); break;
      case 'write': ops.push({ op: 'write', cpu: cpu(), la: gpa(), size: size(), value: rng.u64() }); break;
      case 'fetch': ops.push({ op: 'fetch', cpu: cpu(), la: gpa(), size: rng.range(1, 15) }); break;
      case 'host_access': {
        const c = cpu();
        ops.push({ op: 'vcpu_load', cpu: c, vm: 1 });
        const la = rng.pick(hostPfns) * 4096 + rng.int(4088);
        ops.push(rng.chance(0.5) ? { op: 'read', cpu: c, la, size: 8 } : { op: 'write', cpu: c, la, size: 8, value: rng.u64() });
        break;
      }
      case 'vcpu_load': ops.push({ op: 'vcpu_load', cpu: cpu(), vm: rng.pick([1, NP, NP, PVM, PVM, 4]) }); break;
      case 'set_cpl': ops.push({ op: 'set_reg', cpu: cpu(), reg: 'cpl', value: BigInt(rng.pick([0, 0, 3])) }); break;
      case 'share_guest': ops.push({ op: 'host_share_guest', vm: rng.pick([NP, NP, PVM]), pfn: rng.pick(hostPfns), gfn: rng.pick([0x9, 0xa, ...npGfns]), nr: rng.chance(0.9) ? 1 : 512, prot: rng.pick([7, 7, 3, 1, 5, 2]) }); break;
      case 'unshare_guest': ops.push({ op: 'host_unshare_guest', vm: NP, gfn: rng.pick([0x9, 0xa, ...npGfns]), nr: rng.chance(0.9) ? 1 : 512 }); break;
      case 'donate_guest': ops.push({ op: 'host_donate_guest', vm: PVM, pfn: rng.pick(hostPfns), gfn: rng.pick([...pvmGfns, 4, 5]) }); break;
      case 'guest_share': ops.push({ op: 'guest_share_host', cpu: cpu(), gfn: rng.pick(pvmGfns) }); break;
      case 'guest_unshare': ops.push({ op: 'guest_unshare_host', cpu: cpu(), gfn: rng.pick(pvmGfns) }); break;
      case 'donate_hyp': ops.push({ op: 'host_donate_hyp', pfn: rng.pick(hostPfns), nr: rng.chance(0.95) ? BigInt(rng.range(1, 2)) : 2n ** 64n - BigInt(rng.range(1, 4)) }); break;
      case 'hyp_donate': ops.push({ op: 'hyp_donate_host', pfn: rng.pick(hostPfns), nr: BigInt(rng.range(1, 2)) }); break;
      case 'share_hyp': ops.push({ op: 'host_share_hyp', pfn: rng.pick(hostPfns) }); break;
      case 'unshare_hyp': ops.push({ op: 'host_unshare_hyp', pfn: rng.pick(hostPfns) }); break;
      case 'spp_set': ops.push({ op: 'spp_set', vm: NP, gfn: rng.pick(npGfns), npages: rng.range(1, 3), flags: 0, map: rng.pick([0xffffffff, 0xfffffffe, 0x7fffffff, 0x0, 0xaaaaaaaa, rng.u32()]) }); break;
      case 'spp_get': ops.push({ op: 'spp_get', vm: NP, gfn: rng.pick(npGfns) }); break;
      case 'wp': ops.push({ op: 'vm_write_protect', vm: rng.pick([NP, PVM]), gfn: rng.pick(npGfns) - rng.int(2), pages: rng.pick([1, 2, 512]) }); break;
      case 'age': ops.push({ op: 'vm_age', vm: rng.pick([NP, PVM]), gfn: gfnFor(), pages: rng.pick([1, 2, 512]) }); break;
      case 'attrs': {
        const vm = rng.pick([NP, PVM]);
        const g = vm === NP ? rng.pick(npGfns) : rng.pick(pvmGfns);
        ops.push({ op: 'set_mem_attrs', vm, gpa: BigInt(g * 4096), size: BigInt(rng.pick([1, 1, 2, 1100]) * 4096), attrs: BigInt(vm === NP ? rng.pick([0, 1 | 2 | 4, 2, 4, 6]) : rng.pick([0, 8, 8])), flags: 0n });
        break;
      }
      case 'vtl_call': ops.push({ op: 'vtl_call', cpu: cpu() }); break;
      case 'vtl_return': ops.push({ op: 'vtl_return', cpu: cpu() }); break;
      case 'vtl_protect': {
        // The VSM pattern: enter VTL1, protect a page VTL0 uses, let the other vCPU touch it, return.
        const c = cpu();
        const g = gfnFor();
        const call = rng.chance(0.7);
        if (call) ops.push({ op: 'vtl_call', cpu: c });
        ops.push({ op: 'vtl_protect', cpu: c, target: 0, gfn: g, count: rng.range(1, 2), flags: rng.pick([0x1, 0xd, 0x3, 0xf, 0x10000, 0x5]) });
        if (rng.chance(0.6)) {
          const la = g * 4096 + rng.int(4088);
          ops.push(rng.chance(0.5) ? { op: 'read', cpu: 1 - c, la, size: 8 } : { op: 'write', cpu: 1 - c, la, size: 8, value: rng.u64() });
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
      case 'teardown': {
        const vm = rng.pick([NP, PVM]);
        for (let c = 0; c < config.vcpus; c++) ops.push({ op: 'vcpu_load', cpu: c, vm: 1 });
        ops.push({ op: 'vm_teardown_start', vm });
        for (const g of vm === PVM ? pvmGfns : npGfns) ops.push({ op: 'vm_reclaim', vm, gfn: g });
        ops.push({ op: 'vm_teardown_finish', vm });
        ops.push({ op: 'vm_create', vm, type: vm === NP ? 'np' : 'protected' });
        if (vm === NP) ops.push({ op: 'memslot_set', vm: NP, slot: 0, gfn: SLOT_GFN, pfn: SLOT_PFN, pages: SLOT_PAGES, flags: 0 }, { op: 'spp_enable', vm: NP });
        ops.push({ op: 'vcpu_load', cpu: 0, vm });
        break;
      }
    }
  }
  return {
    schema: SCHEMA_VERSION,
    eptfuzz: '0.1.0',
    machine: config,
    ops: ops as Op[],
    provenance: { seed, options: { generator: 'hv', ops: n, poolFrames, paging } },
  };
}
