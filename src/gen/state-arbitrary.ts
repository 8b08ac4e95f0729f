/**
 * A fast-check arbitrary of traces that run on a working machine: the campaign generator's setup
 * (EPT and guest paging that map data pages, SPP pages, keys, XO aliases; src/gen/setup.ts), then a
 * workload aimed at what setup mapped: reads, writes and fetches at those pages (biased to page and
 * sub-page edges, and to accesses that cross a 4 KiB boundary), INVLPG of them, EPT and guest leaf
 * rewrites of them with other rights, CPL and protection-key register changes, INVEPT of the EPTP
 * in use and INVVPID, and a few ops of any kind.
 * Contract: every trace is valid for its machine (validateTrace); the machine has no planted bug
 * unless `bugs` names some; the setup is drawn from a seed fast-check chooses (it shrinks toward
 * seed 0, a different but equally working setup) and the workload shrinks op by op. Bare mode only.
 * No ambient randomness: fast-check's seed and the setup seed decide everything.
 */
import fc from 'fast-check';
import { EPT_MEMTYPE_SHIFT, EPT_MEMTYPE_WB, EPT_PS, PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW, PTE_US } from '../hw/bits.js';
import { BUG_NAMES } from '../bugs/catalogue.js';
import { configMode, defaultConfig, normalizeConfig, validateConfig, type MachineConfig } from '../hw/config.js';
import type { Op } from '../trace/ops.js';
import { OPS_MAX, type Trace } from '../trace/trace.js';
import { opArbitrary } from './arbitraries.js';
import { allFeatures, type Feature } from './features.js';
import { makeTrace } from './generate.js';
import { Rng } from './rng.js';
import { buildSetup } from './setup.js';
import { World, type GuestPage } from './world.js';

export interface MachineStateTraceOptions {
  /** The machine; default defaultConfig(). Its own `bugs` are replaced by `bugs`. */
  config?: MachineConfig;
  /** Planted bugs to switch on (names from `eptfuzz bugs`); default none: a correct machine. */
  bugs?: readonly string[];
  /** Mechanisms setup builds (ept, spp, pk, xo, tlb); default all. */
  features?: ReadonlySet<Feature>;
  /** Workload ops after setup; default 1..30. */
  workloadMin?: number;
  workloadMax?: number;
}

const PAGE = 0x1000;
const LARGE = 0x20_0000;
const SUBPAGE = 128;

/** Offsets in a page of `span` bytes: its start, its last bytes (to cross), sub-page edges, anywhere. */
function offsetIn(span: number): fc.Arbitrary<number> {
  return fc.oneof(
    { arbitrary: fc.constant(0), weight: 2 },
    { arbitrary: fc.integer({ min: 1, max: 8 }).map((k) => span - k), weight: 3 },
    { arbitrary: fc.tuple(fc.integer({ min: 0, max: span / SUBPAGE - 1 }), fc.integer({ min: -2, max: 1 })).map(([i, d]) => Math.max(0, i * SUBPAGE + d)), weight: 2 },
    { arbitrary: fc.integer({ min: 0, max: span - 1 }), weight: 2 },
  );
}

/** An EPT leaf for `p` with rights `rwx` (bits 2:0), WB, PS for a 2 MiB page. */
function eptLeaf(p: GuestPage, rwx: number): bigint {
  return BigInt(p.hpa) | BigInt(rwx | (EPT_MEMTYPE_WB << EPT_MEMTYPE_SHIFT) | (p.large ? EPT_PS : 0));
}

/** A guest leaf for `p` with P and some of RW / US, A and D set, PS for a 2 MiB page. */
function guestLeaf(p: GuestPage, flags: number): bigint {
  return BigInt(p.gpa) | BigInt(PTE_P | (flags & (PTE_RW | PTE_US)) | PTE_A | PTE_D | (p.large ? PTE_PS : 0));
}

/**
 * An access at a mapped page: a size, then an offset that is anywhere, or that makes the access
 * cross a 4 KiB boundary inside or at the end of the page (where two translations meet).
 */
function accessAt(pages: readonly GuestPage[], sizeMax: number): fc.Arbitrary<{ la: number; size: number }> {
  return fc.tuple(fc.constantFrom(...pages), fc.oneof(fc.constantFrom(1, 2, 4, 8), fc.integer({ min: 1, max: sizeMax })).map((n) => Math.min(n, sizeMax)))
    .chain(([p, size]) => {
      const span = p.large ? LARGE : PAGE;
      const crossing = fc.tuple(fc.integer({ min: 1, max: span / PAGE }), fc.integer({ min: 1, max: Math.max(1, size - 1) }))
        .map(([boundary, back]) => boundary * PAGE - back);
      return fc.oneof({ arbitrary: offsetIn(span), weight: 3 }, { arbitrary: crossing, weight: 1 }).map((off) => ({ la: p.la + off, size }));
    });
}

/** Protection-key register values: all access, write-disable or access-disable on some keys. */
const PK_VALUES: readonly bigint[] = [0n, 0x5555_5554n, 0xffff_fffcn, 0x4n, 0x8n, 0xcn, 0xaaaa_aaa8n];

function workloadOp(config: MachineConfig, world: World): fc.Arbitrary<Op> {
  const pages = world.pages;
  const cpu = fc.integer({ min: 0, max: config.vcpus - 1 });
  const value = fc.oneof(fc.bigInt(0n, 0xffn), fc.bigInt(0n, (1n << 64n) - 1n));
  const page = fc.constantFrom(...pages);
  const control = fc.oneof(
    fc.tuple(cpu, fc.constantFrom(0n, 3n)).map(([c, v]): Op => ({ op: 'set_reg', cpu: c, reg: 'cpl', value: v })),
    fc.tuple(cpu, fc.constantFrom('pkru' as const, 'pkrs' as const), fc.constantFrom(...PK_VALUES)).map(([c, reg, v]): Op => ({ op: 'set_reg', cpu: c, reg, value: v })),
    // Single-context INVEPT of the EPTP in use, and all-context.
    fc.tuple(cpu, fc.constantFrom(1, 2)).map(([c, type]): Op => ({ op: 'invept', cpu: c, type, eptp: world.eptp[c] })),
    fc.tuple(cpu, fc.constantFrom(1, 2, 3)).map(([c, type]): Op => ({ op: 'invvpid', cpu: c, type, vpid: c + 1, la: 0n })),
  );
  return fc.oneof(
    { arbitrary: fc.tuple(cpu, accessAt(pages, 8)).map(([c, a]): Op => ({ op: 'read', cpu: c, la: a.la, size: a.size })), weight: 6 },
    { arbitrary: fc.tuple(cpu, accessAt(pages, 8), value).map(([c, a, v]): Op => ({ op: 'write', cpu: c, la: a.la, size: a.size, value: v })), weight: 6 },
    { arbitrary: fc.tuple(cpu, accessAt(pages, 15)).map(([c, a]): Op => ({ op: 'fetch', cpu: c, la: a.la, size: a.size })), weight: 3 },
    { arbitrary: fc.tuple(cpu, page).map(([c, p]): Op => ({ op: 'invlpg', cpu: c, la: p.la })), weight: 1 },
    { arbitrary: fc.tuple(cpu, page, fc.integer({ min: 0, max: 7 })).map(([c, p, rwx]): Op => ({ op: 'ept_set', cpu: c, gpa: p.gpa, level: p.large ? 2 : 1, entry: eptLeaf(p, rwx) })), weight: 2 },
    { arbitrary: fc.tuple(cpu, page, fc.integer({ min: 0, max: 7 })).map(([c, p, f]): Op => ({ op: 'gpt_set', cpu: c, la: p.la, level: p.large ? 2 : 1, entry: guestLeaf(p, f) })), weight: 2 },
    { arbitrary: control, weight: 3 },
    { arbitrary: opArbitrary(config, { kinds: ['set_reg', 'invept', 'invvpid', 'phys_read'] }), weight: 1 },
  );
}

/** Traces over a machine that setup made work, with a workload on its mapped pages. */
export function machineStateTraceArbitrary(options: MachineStateTraceOptions = {}): fc.Arbitrary<Trace> {
  const unknown = (options.bugs ?? []).find((b) => !BUG_NAMES.has(b));
  if (unknown !== undefined) throw new Error(`machineStateTraceArbitrary: unknown planted bug '${unknown}' (see 'eptfuzz bugs')`);
  const config = normalizeConfig({ ...(options.config ?? defaultConfig()), bugs: [...(options.bugs ?? [])] });
  const invalid = validateConfig(config);
  if (invalid !== null) throw new Error(`machineStateTraceArbitrary: ${invalid}`);
  if (configMode(config) !== 'bare') throw new Error('machineStateTraceArbitrary: bare-mode machines only (a hv configuration was given)');
  const features = options.features ?? allFeatures();
  const workloadMin = options.workloadMin ?? 1;
  const workloadMax = options.workloadMax ?? 30;
  return fc.integer({ min: 0, max: 0x7fff_ffff }).chain((setupSeed) => {
    const seed = `arbitrary-setup/${setupSeed}`;
    const world = new World(config, features, new Rng(seed));
    buildSetup(world);
    const setup = world.ops.slice(0, OPS_MAX);
    const room = Math.max(0, OPS_MAX - setup.length);
    const ops = world.pages.length > 0 ? workloadOp(config, world) : opArbitrary(config);
    return fc.array(ops, { minLength: Math.min(workloadMin, room), maxLength: Math.min(workloadMax, room) })
      .map((workload) => makeTrace(config, [...setup, ...workload], { seed, options: { setup_ops: setup.length } }));
  });
}
