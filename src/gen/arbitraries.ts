/**
 * fast-check arbitraries for ops and traces, for users' own property tests (and ours).
 * Contract: every value produced is a valid Trace / Op for its machine (it passes validateTrace):
 * fields in range, `cpu` below the machine's vcpus, machine configurations that validateConfig
 * accepts. Values are biased toward the interesting: addresses at page, 2 MiB, 1 GiB and 128-byte
 * sub-page boundaries (and just before them, to cross), near the end of RAM and of the address
 * width; table entries built from real permission, memory-type, PS, A/D, XU, SPP, XD and reserved
 * bit patterns; register values near the ones the machine accepts. Generation is driven by
 * OP_SCHEMAS, with per-field biases looked up by name. fast-check's seeded generator is the only
 * source of randomness (no ambient random source, no clock).
 */
import fc from 'fast-check';
import { CATALOGUE } from '../bugs/catalogue.js';
import { DEFAULT_CAPABILITIES, FRAMES_MAX_LIMIT, MAXPHYADDR_MAX, MAXPHYADDR_MIN, VCPUS_MAX, configMode, defaultConfig, type Capabilities, type MachineConfig } from '../hw/config.js';
import { OP_SCHEMAS, REGS, opAllowedIn, type FieldKind, type Op, type OpName, type OpSchema, type Reg } from '../trace/ops.js';
import { OPS_MAX, SCHEMA_VERSION, type Provenance, type Signature, type Trace } from '../trace/trace.js';

const PAGE = 4096;
const SUBPAGE = 128;
const U64_MAX = (1n << 64n) - 1n;

/** A natural number in 0..max (max up to 2^53 - 1). */
function natUpTo(max: number): fc.Arbitrary<number> {
  return max <= 0x7fff_ffff ? fc.integer({ min: 0, max }) : fc.bigInt(0n, BigInt(max)).map(Number);
}

/** Offsets inside a page that matter: 0, just before the end (to cross), sub-page edges, any. */
const pageOffset: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.constant(0), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 15 }).map((k) => PAGE - k), weight: 2 },
  { arbitrary: fc.tuple(fc.integer({ min: 0, max: PAGE / SUBPAGE - 1 }), fc.integer({ min: -2, max: 1 })).map(([i, d]) => Math.max(0, i * SUBPAGE + d)), weight: 2 },
  { arbitrary: fc.integer({ min: 0, max: PAGE - 1 }), weight: 2 },
);

/**
 * An address in 0..max, biased: low pages (so ops meet each other), pages of RAM, 2 MiB and 1 GiB
 * boundaries, the last page below `max` and below `ramBytes`, anything.
 */
function addressArbitrary(max: number, ramBytes: number): fc.Arbitrary<number> {
  const pages = (limit: number): fc.Arbitrary<number> => natUpTo(Math.max(0, Math.floor(limit / PAGE) - 1)).map((p) => p * PAGE);
  const base = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 63 }).map((p) => p * PAGE), weight: 6 },
    { arbitrary: pages(Math.min(ramBytes, max + 1)), weight: 3 },
    { arbitrary: natUpTo(Math.min(511, Math.floor(max / 2 ** 21))).map((k) => k * 2 ** 21), weight: 2 },
    { arbitrary: natUpTo(Math.min(511, Math.floor(max / 2 ** 30))).map((k) => k * 2 ** 30), weight: 1 },
    { arbitrary: fc.constantFrom(Math.max(0, ramBytes - PAGE), Math.floor(max / PAGE) * PAGE), weight: 1 },
    { arbitrary: natUpTo(max).map((a) => a - (a % PAGE)), weight: 1 },
  );
  return fc.tuple(base, pageOffset).map(([b, o]) => Math.min(max, b + o));
}

/** A page frame number, mostly in RAM and low (shared by several ops), sometimes anywhere. */
function frameArbitrary(config: MachineConfig): fc.Arbitrary<bigint> {
  const physFrames = 2 ** (config.maxPhyAddr - 12);
  return fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 63 }), weight: 6 },
    { arbitrary: fc.integer({ min: 0, max: config.framesMax - 1 }), weight: 3 },
    { arbitrary: natUpTo(physFrames - 1), weight: 1 },
  ).map(BigInt);
}

// Low 12 bits of real entries: EPT R/W/X (bits 2:0) with WB memory type (6 << 3), PS (7),
// A (8), D (9), XU (10); guest P/RW/US/PWT/PCD/A/D/PS/G; misconfigurations (W without R, RWX = 0b110).
const ENTRY_LOW_BITS: readonly number[] = [
  0x007, 0x037, 0x0b7, 0x137, 0x337, 0x437, 0x005, 0x001, 0x003, 0x004, 0x034, 0x002, 0x006, 0x000, 0x400, 0x404,
  0x003, 0x007, 0x005, 0x001, 0x083, 0x087, 0x023, 0x063, 0x107, 0x187, 0x00f, 0x017,
];
// High bits: XD / suppress-#VE (63), SPP (61), pKVM page state (57:56), protection key (62:59),
// software and ignored bits (52..58), and the reserved address bits 51..MAXPHYADDR.
function entryHighBits(config: MachineConfig): fc.Arbitrary<bigint> {
  const reservedLow = BigInt(config.maxPhyAddr);
  return fc.oneof(
    { arbitrary: fc.constant(0n), weight: 6 },
    { arbitrary: fc.constantFrom(1n << 63n, 1n << 61n, 1n << 56n, 2n << 56n, 3n << 56n, 0xfn << 59n, 1n << 52n), weight: 3 },
    { arbitrary: fc.integer({ min: Math.min(Number(reservedLow), 51), max: 51 }).map((b) => 1n << BigInt(b)), weight: 1 },
    { arbitrary: fc.bigInt(0n, 0xfffn).map((h) => h << 52n), weight: 1 },
  );
}

/** A raw table entry: frame | low bits | high bits, or an SPPT leaf bitmap, or anything. */
function entryArbitrary(config: MachineConfig): fc.Arbitrary<bigint> {
  const structured = fc.tuple(frameArbitrary(config), fc.oneof(fc.constantFrom(...ENTRY_LOW_BITS), fc.integer({ min: 0, max: 0xfff })), entryHighBits(config))
    .map(([frame, low, high]) => (frame << 12n) | BigInt(low) | high);
  // SPPT leaf: write permission for sub-page i in bit 2i; odd bits are reserved.
  const sppBitmap = fc.oneof(fc.constantFrom(0n, 0x5555_5555_5555_5555n, 0xffff_ffff_ffff_ffffn, 1n, 1n << 62n),
    fc.bigInt(0n, 0xffff_ffffn).map(spreadToEvenBits));
  return fc.oneof(
    { arbitrary: structured, weight: 8 },
    { arbitrary: sppBitmap, weight: 2 },
    { arbitrary: fc.bigInt(0n, U64_MAX), weight: 1 },
  );
}

function spreadToEvenBits(bits: bigint): bigint {
  let out = 0n;
  for (let i = 0n; i < 32n; i++) if ((bits >> i) & 1n) out |= 1n << (2n * i);
  return out;
}

/** Data for a write: small numbers, all-ones, byte patterns, table entries, anything. */
function dataArbitrary(config: MachineConfig): fc.Arbitrary<bigint> {
  return fc.oneof(
    fc.bigInt(0n, 0xffn),
    fc.constantFrom(U64_MAX, 0x0101_0101_0101_0101n, 0x8000_0000_0000_0000n, 0xdead_beefn),
    entryArbitrary(config),
    fc.bigInt(0n, U64_MAX),
  );
}

/** A set of bits drawn from `bits`, each in or out. */
function bitSubset(bits: readonly number[]): fc.Arbitrary<bigint> {
  return fc.subarray([...bits]).map((chosen) => chosen.reduce((acc, b) => acc | (1n << BigInt(b)), 0n));
}

/** Register values near the ones the machine accepts, plus single stray bits and noise. */
function regValueArbitrary(reg: Reg, config: MachineConfig): fc.Arbitrary<bigint> {
  const strayBit = fc.integer({ min: 0, max: 63 }).map((b) => 1n << BigInt(b));
  let near: fc.Arbitrary<bigint>;
  switch (reg) {
    case 'cr0': near = fc.tuple(fc.constantFrom(0x8001_0001n, 0x8000_0001n, 0x1_0001n, 0x1n, 0x8001_0000n), bitSubset([1, 2, 3, 5, 18, 29, 30])).map(([a, b]) => a | b); break;
    case 'cr3': near = frameArbitrary(config).map((f) => f << 12n); break;
    case 'cr4': near = bitSubset([4, 5, 7, 20, 21, 22, 24]).map((b) => b | 0x20n); break;
    case 'efer': near = bitSubset([0, 8, 10, 11]); break;
    case 'rflags': near = fc.constantFrom(0n, 1n << 18n, 0x2n, 0x4_0202n); break;
    case 'cpl': near = fc.bigInt(0n, 3n); break;
    case 'pkru': case 'pkrs': near = fc.oneof(fc.constantFrom(0n, 0x5555_5554n, 0xffff_fffcn, 0x4n, 0x8n, 0xcn), fc.bigInt(0n, 0xffff_ffffn)); break;
  }
  return fc.oneof({ arbitrary: near, weight: 6 }, { arbitrary: strayBit, weight: 1 }, { arbitrary: fc.bigInt(0n, U64_MAX), weight: 1 });
}

/** A generic integer in min..max, biased to the edges and small powers of two. */
function intArbitrary(min: number, max: number): fc.Arbitrary<number> {
  const edges = [min, max, ...[1, 2, 4, 8].filter((v) => v >= min && v <= max)];
  return fc.oneof(fc.constantFrom(...edges), fc.integer({ min, max }));
}

/** The arbitrary of one field: a bias by `op.field` or field name, else by kind. */
function fieldArbitrary(schema: OpSchema, name: string, type: FieldKind, config: MachineConfig): fc.Arbitrary<number | bigint | string> {
  const ramBytes = config.framesMax * PAGE;
  const physMax = 2 ** config.maxPhyAddr - 1;
  switch (`${schema.name}.${name}`) {
    case 'invvpid.la': {
      const canonical = addressArbitrary(2 ** 48 - 1, ramBytes).map((a) => BigInt(a) | (a >= 2 ** 47 ? 0xffffn << 48n : 0n));
      return fc.oneof({ arbitrary: canonical, weight: 3 }, { arbitrary: fc.bigInt(0n, U64_MAX), weight: 1 });
    }
    case 'invvpid.vpid': return fc.oneof(fc.integer({ min: 0, max: config.vcpus + 1 }), fc.integer({ min: 0, max: 0xffff }));
    case 'invept.type': case 'invvpid.type': return fc.oneof({ arbitrary: fc.integer({ min: 0, max: 3 }), weight: 4 }, { arbitrary: intArbitrary(0, 15), weight: 1 });
    case 'invept.eptp': case 'set_eptp.value': {
      const lowBits = fc.oneof({ arbitrary: fc.constantFrom(0x1en, 0x5en, 0x18n, 0x1an, 0x9en), weight: 4 }, { arbitrary: fc.bigInt(0n, 0xfffn), weight: 1 });
      return fc.tuple(frameArbitrary(config), lowBits, entryHighBits(config)).map(([f, low, high]) => (f << 12n) | low | high);
    }
    case 'set_spptp.value':
      return fc.tuple(frameArbitrary(config), fc.oneof({ arbitrary: fc.constant(0n), weight: 4 }, { arbitrary: fc.bigInt(0n, 0xfffn), weight: 1 }), entryHighBits(config))
        .map(([f, low, high]) => (f << 12n) | low | high);
    case 'set_ctls2.value':
      return fc.oneof({ arbitrary: bitSubset([22, 23]).map((b) => Number(b) + 0x22), weight: 4 }, { arbitrary: bitSubset([1, 5, 22, 23, 0, 2, 24]).map(Number), weight: 1 }, { arbitrary: natUpTo(0xffff_ffff), weight: 1 });
    default: break;
  }
  // Name biases for address fields (a hv op's u64 `gpa`, e.g. set_mem_attrs, takes its kind's).
  switch (type.kind === 'addr' || name === 'cpu' || name === 'entry' ? name : '') {
    case 'cpu': return fc.integer({ min: 0, max: config.vcpus - 1 });
    case 'gpa': return fc.oneof({ arbitrary: addressArbitrary(physMax, ramBytes), weight: 4 }, { arbitrary: addressArbitrary(type.kind === 'addr' ? type.max : physMax, ramBytes), weight: 1 });
    case 'hpa': return fc.oneof({ arbitrary: addressArbitrary(Math.min(physMax, ramBytes + PAGE - 1), ramBytes), weight: 4 }, { arbitrary: addressArbitrary(type.kind === 'addr' ? type.max : physMax, ramBytes), weight: 1 });
    case 'entry': return entryArbitrary(config);
    default: break;
  }
  switch (type.kind) {
    case 'int': return intArbitrary(type.min, type.max);
    case 'addr': return addressArbitrary(type.max, ramBytes);
    case 'u64': return dataArbitrary(config);
    case 'u32': return natUpTo(0xffff_ffff);
    case 'enum': return fc.constantFrom(...type.values);
  }
}

function schemaOpArbitrary(schema: OpSchema, config: MachineConfig): fc.Arbitrary<Op> {
  if (schema.name === 'set_reg') {
    return fc.tuple(fc.integer({ min: 0, max: config.vcpus - 1 }), fc.constantFrom(...REGS))
      .chain(([cpu, reg]) => regValueArbitrary(reg, config).map((value): Op => ({ op: 'set_reg', cpu, reg, value })));
  }
  const fields = schema.fields.map((field) => fieldArbitrary(schema, field.name, field.type, config));
  return fc.tuple(...fields).map((values) => {
    const op: Record<string, unknown> = { op: schema.name };
    schema.fields.forEach((field, i) => { op[field.name] = values[i]; });
    return op as unknown as Op;
  });
}

export interface OpArbitraryOptions {
  /** Op kinds to produce; default every kind in OP_SCHEMAS that the config's mode runs. */
  kinds?: readonly OpName[];
}

/** One op of any kind (or of `kinds`), valid for `config` (default: the default machine). */
export function opArbitrary(config: MachineConfig = defaultConfig(), options: OpArbitraryOptions = {}): fc.Arbitrary<Op> {
  const mode = configMode(config);
  const schemas = OP_SCHEMAS.filter((s) => opAllowedIn(s.name, mode) && (options.kinds === undefined || options.kinds.includes(s.name)));
  if (schemas.length === 0) throw new Error('opArbitrary: no op kinds selected');
  return fc.oneof(...schemas.map((s) => schemaOpArbitrary(s, config)));
}

export interface MachineConfigArbitraryOptions {
  /**
   * Planted bugs in the configurations: none by default (a correct machine), these names, or
   * 'any' (random subsets of the catalogue: for tests of the trace formats, not of behaviour).
   */
  bugs?: readonly string[] | 'any';
}

/** A machine configuration that validateConfig accepts: any capabilities and sizes; no planted bug unless asked. */
export function machineConfigArbitrary(options: MachineConfigArbitraryOptions = {}): fc.Arbitrary<MachineConfig> {
  const bugs: fc.Arbitrary<string[]> = options.bugs === 'any' ? fc.subarray(CATALOGUE.map((b) => b.name)) : fc.constant([...(options.bugs ?? [])]);
  const capNames = Object.keys(DEFAULT_CAPABILITIES).filter((k) => k !== 'invvpidTypes');
  const caps = fc.tuple(fc.array(fc.boolean(), { minLength: capNames.length, maxLength: capNames.length }), fc.tuple(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean()))
    .map(([flags, invvpidTypes]) => {
      const out: Record<string, unknown> = {};
      capNames.forEach((name, i) => { out[name] = flags[i]; });
      out.invvpidTypes = invvpidTypes;
      return out as unknown as Capabilities;
    });
  return fc.record({
    maxPhyAddr: fc.oneof(fc.constantFrom(MAXPHYADDR_MIN, 39, 46, MAXPHYADDR_MAX), fc.integer({ min: MAXPHYADDR_MIN, max: MAXPHYADDR_MAX })),
    vcpus: fc.integer({ min: 1, max: VCPUS_MAX }),
    framesMax: fc.oneof(fc.constantFrom(16, 256, 1 << 16, FRAMES_MAX_LIMIT), fc.integer({ min: 16, max: FRAMES_MAX_LIMIT })),
    caps,
    kvmXo: fc.boolean(),
    pk: fc.constantFrom('sdm' as const, 'qemu' as const),
    bugs,
  }).map(({ pk, kvmXo, ...rest }): MachineConfig => ({
    ...rest,
    kvmXo: kvmXo && rest.caps.eptExecOnly, // kvmXo needs execute-only EPT (validateConfig)
    choices: { pkOnUserToSupervisor: pk },
  }));
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

function provenanceArbitrary(): fc.Arbitrary<Provenance> {
  const key = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !FORBIDDEN.has(k));
  const value = fc.oneof(fc.string({ maxLength: 16 }), fc.integer(), fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (d === 0 ? 0 : d)));
  return fc.record({
    seed: fc.bigInt(0n, U64_MAX).map((s) => '0x' + s.toString(16)),
    options: fc.array(fc.tuple(key, value), { maxLength: 6 }).map((pairs) => {
      const options: Record<string, string | number | boolean> = {};
      for (const [k, v] of pairs) options[k] = v;
      return options;
    }),
  });
}

function signatureArbitrary(): fc.Arbitrary<Signature> {
  return fc.record({
    invariant: fc.constantFrom('fault.pf-error-code', 'spp.subpage-write', 'mem.no-lost-write', 'tlb.stale-after-flush'),
    op: fc.constantFrom(...OP_SCHEMAS.map((s) => s.name)),
    detail: fc.string({ maxLength: 40 }),
  });
}

export interface TraceArbitraryOptions {
  /** A fixed machine; default: a random one from machineConfigArbitrary({ bugs }). */
  config?: MachineConfig;
  /** Planted bugs of the random machines (ignored with `config`): default none; 'any' for format tests. */
  bugs?: readonly string[] | 'any';
  /** Op count bounds; default 0..40. */
  opsMin?: number;
  opsMax?: number;
  kinds?: readonly OpName[];
  /** Include provenance / signature: true always, false never, default sometimes. */
  provenance?: boolean;
  signature?: boolean;
  /** The version recorded in the header; default '0.0.0-test'. */
  eptfuzz?: string;
}

function optional<T>(arbitrary: fc.Arbitrary<T>, choice: boolean | undefined): fc.Arbitrary<T | undefined> {
  if (choice === true) return arbitrary;
  if (choice === false) return fc.constant(undefined);
  return fc.option(arbitrary, { nil: undefined });
}

/**
 * A whole trace valid for its machine: any ops with any operands (for decoders, formats and
 * robustness). It builds no working machine state, so most accesses fault at once; for behaviour
 * (machine against model) use machineStateTraceArbitrary (state-arbitrary.ts).
 */
export function traceArbitrary(options: TraceArbitraryOptions = {}): fc.Arbitrary<Trace> {
  const opsMin = options.opsMin ?? 0;
  const opsMax = Math.min(options.opsMax ?? 40, OPS_MAX);
  const machine = options.config !== undefined ? fc.constant(options.config) : machineConfigArbitrary({ bugs: options.bugs });
  return machine.chain((config) => fc.tuple(
    fc.array(opArbitrary(config, { kinds: options.kinds }), { minLength: opsMin, maxLength: opsMax }),
    optional(provenanceArbitrary(), options.provenance),
    optional(signatureArbitrary(), options.signature),
  ).map(([ops, provenance, signature]) => {
    const trace: Trace = { schema: SCHEMA_VERSION, eptfuzz: options.eptfuzz ?? '0.0.0-test', machine: config, ops };
    if (provenance !== undefined) trace.provenance = provenance;
    if (signature !== undefined) trace.signature = signature;
    return trace;
  }));
}
