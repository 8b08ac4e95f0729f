/**
 * Semantic coverage: which (op kind, outcome kind, exit reason, qualification bits, error-code
 * bits) combinations and which (previous op kind, op kind, outcome shape) transitions a run
 * reached; in hv mode also the hypervisor's outcomes (return values by errno, handled exits,
 * user-space exits by name and payload), pKVM page-state transitions (op kind, host state of a
 * page before and after it) and guest-mapping shape transitions (op kind, the shape of view 0's
 * entry at a gfn the op touched before and after it: no page table under it, an empty slot in a
 * table, an empty slot in a table that maps nothing at all, a 4 KiB leaf, a huge leaf).
 * Contract: `observe` is allocation-free on the bare path (one bitmap store and one probe of the
 * run's feature set per feature, one push per feature new to this map or to the run); `endRun` returns how many features the run added and `fresh()`
 * lists them, in the order first reached. Features are small integers, so the whole map is one
 * bit array; the layout below fixes their meaning (persisted coverage files depend on it: change
 * it only with COVERAGE_LAYOUT).
 */
import type { Outcome, PageView } from '../hw/outcome.js';
import type { MachineApi } from '../hw/api.js';
import type { Op } from '../trace/ops.js';
import { OP_SCHEMAS } from '../trace/ops.js';
import type { StepObserver } from '../check/runner.js';
import { Hypervisor } from '../hv/hypervisor.js';
import { PS_NOPAGE, PS_OWNED } from '../hv/consts.js';
import { EPT_GPA_SPAN } from '../hv/ept-tables.js';
import type { Vm } from '../hv/vm.js';
import { blockUniform } from '../hv/pkvm.js';

const OP_INDEX: ReadonlyMap<string, number> = new Map(OP_SCHEMAS.map((s, i) => [s.name, i]));

/** Outcome kinds (4 bits): the hardware's, then the hypervisor's. */
const KIND_INDEX: Readonly<Record<Outcome['kind'], number>> = {
  ok: 0, data: 1, pf: 2, exit: 3, gp: 4, vmfail: 5, noent: 6, ret: 7, handled: 8, hv_exit: 9, ud: 10, page: 11,
};
const HV_EXIT_INDEX: Readonly<Record<string, number>> = { spp: 0, memory_fault: 1, unknown: 2, mmio: 3, intercept: 4, abort: 5, hwpoison: 6 };

function reasonIndex(reason: number): number {
  return reason === 48 ? 0 : reason === 49 ? 1 : reason === 66 ? 2 : 3;
}

// Layout (COVERAGE_LAYOUT 2): bits 24:19 op index (OP_SCHEMAS order), 18:15 outcome kind, 14:0
// detail (exit: reason index << 13 | qual bits 12:0; pf: error code bits 6:0; vmfail: error & 0x1f;
// ret: 0x100 | errno for a negative value, else min(value, 16); handled: then-kind << 12 | #PF code
// << 5 | min(exits, 3) << 3 | reasons seen (48: 1, 49: 2, 66: 4); hv_exit: exit << 10 | info & 0x7f
// << 3 | min(exits, 7)). Transitions (previous op, op, kind, reason) live above 2^25, page-state
// transitions (op, host state before, after) above them, gfn-shape transitions (op, shape before,
// after) above those (appended: every feature number below keeps its meaning, so layout 2 files
// stay valid and the version is unchanged).
const DETAIL_BITS = 15;
const KIND_SHIFT = DETAIL_BITS;
const OP_SHIFT = DETAIL_BITS + 4;
const OP_BITS = 6;
const FEATURES_DIRECT = 2 ** (OP_SHIFT + OP_BITS);
const TRANSITIONS = 2 ** (2 * OP_BITS + 4 + 2);
const PAGE_STATES = 2 ** (OP_BITS + 4);
const SHAPE_BITS = 3;
const GFN_SHAPES = 2 ** (OP_BITS + 2 * SHAPE_BITS);
const START_OP = 2 ** OP_BITS - 1;
const FEATURES_TRANSITIONS = FEATURES_DIRECT;
const FEATURES_PAGE_STATES = FEATURES_DIRECT + TRANSITIONS;
const FEATURES_GFN_SHAPES = FEATURES_PAGE_STATES + PAGE_STATES;
export const FEATURE_SPACE = FEATURES_DIRECT + TRANSITIONS + PAGE_STATES + GFN_SHAPES;
/** Version of the feature layout above; persisted coverage of another layout is ignored. */
export const COVERAGE_LAYOUT = 2;

if (OP_SCHEMAS.length >= START_OP) throw new Error('coverage layout: more ops than the op index field holds');

/** Exit reasons a handled access went through, as a 3-bit set, and their count. */
function exitsDetail(exits: readonly number[], countMax: number): number {
  let mask = 0;
  for (let i = 0; i < exits.length; i++) mask |= exits[i] === 48 ? 1 : exits[i] === 49 ? 2 : exits[i] === 66 ? 4 : 0;
  return (Math.min(exits.length, countMax) << 3) | mask;
}

function outcomeDetail(actual: Outcome): number {
  switch (actual.kind) {
    case 'exit': return (reasonIndex(actual.reason) << 13) | (actual.qual & 0x1fff);
    case 'pf': return actual.code & 0x7f;
    case 'vmfail': return actual.error & 0x1f;
    case 'ret': return actual.value < 0 ? 0x100 | (-actual.value & 0xff) : Math.min(actual.value, 16);
    case 'handled': {
      const then = actual.then;
      const thenKind = then.kind === 'ok' ? 0 : then.kind === 'data' ? 1 : then.kind === 'pf' ? 2 : 3;
      return (thenKind << 12) | ((then.kind === 'pf' ? then.code & 0x7f : 0) << 5) | exitsDetail(actual.exits, 3);
    }
    case 'hv_exit': return ((HV_EXIT_INDEX[actual.exit] ?? 7) << 10) | ((actual.info & 0x7f) << 3) | Math.min(actual.exits.length, 7);
    case 'page': return pageDetail(actual.page);
    default: return 0;
  }
}

const HOST_INDEX: Readonly<Record<string, number>> = { O: 0, SO: 1, SB: 2, NOPAGE: 3 };
const GUEST_INDEX: Readonly<Record<string, number>> = { none: 0, O: 1, SO: 2, SB: 3, POISON: 4 };

/** A queried page's shape: host, hyp and guest states, whether pinned, shared several times, FF-A-shared. */
function pageDetail(p: PageView): number {
  return (HOST_INDEX[p.host] << 9) | ((p.hyp === 'O' ? 0 : p.hyp === 'SB' ? 1 : 2) << 7) | (GUEST_INDEX[p.guest] << 4)
    | ((p.pins > 0 ? 1 : 0) << 3) | (Math.min(p.shares, 3) << 1) | (p.ffa ? 1 : 0);
}

/** The (op kind, outcome) feature of one step. */
function directFeature(opIndex: number, actual: Outcome): number {
  return opIndex * 2 ** OP_SHIFT + KIND_INDEX[actual.kind] * 2 ** KIND_SHIFT + outcomeDetail(actual);
}

/** The (previous op kind, op kind, outcome shape) feature of one step. */
function transitionFeature(prevOp: number, opIndex: number, actual: Outcome): number {
  const reason = actual.kind === 'exit' ? reasonIndex(actual.reason) : actual.kind === 'hv_exit' ? Math.min(HV_EXIT_INDEX[actual.exit] ?? 3, 3) : 0;
  return FEATURES_TRANSITIONS + ((prevOp << (OP_BITS + 6)) | (opIndex << 6) | (KIND_INDEX[actual.kind] << 2) | reason);
}

/** The (op kind, host page state before, after) feature of one page an op changed (hv mode). */
function pageStateFeature(opIndex: number, before: number, after: number): number {
  return FEATURES_PAGE_STATES + ((opIndex << 4) | ((before & 3) << 2) | (after & 3));
}

/**
 * Shapes of view 0's entry at a gfn (hv mode): what the mapping of a guest page is built of. A
 * table left empty (every page under it unmapped, the table kept) is the state a later huge leaf
 * is written over; reaching it takes several ops (a 4 KiB map where a 2 MiB leaf could go, then
 * the unmaps), so it is a shape of its own, split by whether the hypervisor's own predicate lets
 * view 0 hold the region as one 2 MiB leaf now (pkvm.ts `blockUniform`: huge pages on, no page of
 * the region with rights of its own).
 */
export const GFN_SHAPE = { none: 0, slot: 1, emptyTable: 2, leaf4k: 3, huge: 4, emptyTableBlock: 5 } as const;

/** The (op kind, gfn shape before, after) feature of one gfn an op touched (hv mode). */
function gfnShapeFeature(opIndex: number, before: number, after: number): number {
  return FEATURES_GFN_SHAPES + ((opIndex << (2 * SHAPE_BITS)) | (before << SHAPE_BITS) | after);
}

/** The gfn-shape feature of op kind `name` (tests, and reading a coverage map). */
export function gfnShapeFeatureOf(name: string, before: number, after: number): number {
  return gfnShapeFeature(OP_INDEX.get(name) ?? START_OP, before, after);
}

function opIndexOf(op: Op): number {
  return OP_INDEX.get(op.op) ?? START_OP;
}

/**
 * pKVM page-state transitions of the last op: every host page the hypervisor changed, with the
 * state it had when last seen in this run (boot state before: OWNED, NOPAGE for pool pages).
 */
class PageStates {
  private readonly seen = new Map<number, number>();
  reset(): void {
    if (this.seen.size !== 0) this.seen.clear();
  }
  each(machine: MachineApi, opIndex: number, emit: (feature: number) => void): void {
    if (!(machine instanceof Hypervisor) || machine.touchedPfns.size === 0) return;
    for (const pfn of machine.touchedPfns) {
      const after = machine.hostState(pfn);
      const before = this.seen.get(pfn) ?? (machine.pool.contains(pfn) ? PS_NOPAGE : PS_OWNED);
      this.seen.set(pfn, after);
      emit(pageStateFeature(opIndex, before, after));
    }
  }
}

/**
 * Guest-mapping shape transitions of the last op: every gfn the hypervisor touched, the shape of
 * its VM's view-0 entry now, and the shape it had when last seen in this run (none before: a new
 * VM's views are empty). Reads the tables (memoized walks; a table's 512 entries only for an
 * empty slot, once per table per op); allocates only a map entry per gfn new to the run.
 */
class GfnShapes {
  /**
   * Per VM (the object: a VM torn down and created again under its handle starts empty): the last
   * shape seen, as shape + 8 * stamp (the observation's order in the run), under the gfn for the
   * per-page shapes (4 KiB leaf, slot) and under the 2 MiB region's first gfn for the shapes that
   * hold for the whole region (no table, empty table, huge leaf). A gfn's shape before an op is
   * the newer of the two.
   */
  private readonly seen = new Map<Vm, Map<number, number>>();
  private stamp = 0;
  reset(): void {
    if (this.seen.size !== 0) this.seen.clear();
    this.stamp = 0;
  }
  each(machine: MachineApi, opIndex: number, emit: (feature: number) => void): void {
    if (!(machine instanceof Hypervisor) || machine.touchedGfnCount === 0) return;
    const mem = machine.machine.mem;
    let lastTable = -1;
    let lastShape: number = GFN_SHAPE.none;
    // A 2 MiB op touches 512 gfns of one region: once a region-wide shape is seen, the rest agree.
    let lastRegionKey = -1;
    for (let i = 0; i < machine.touchedGfnCount; i++) {
      const key = machine.touchedGfnKeys[i];
      const regionKey = key - (key % 512);
      if (regionKey === lastRegionKey) continue;
      lastRegionKey = -1;
      const id = Math.floor(key / 2 ** 40);
      const vm = machine.vms.get(id);
      const gfn = key - id * 2 ** 40;
      if (vm === undefined || gfn * 4096 >= EPT_GPA_SPAN) continue;
      const t = vm.views[0];
      let after: number;
      if (t.find(gfn * 4096)) after = t.level === 1 ? GFN_SHAPE.leaf4k : GFN_SHAPE.huge;
      else if (t.level !== 1) after = GFN_SHAPE.none;
      else {
        const table = t.addr - (t.addr % 4096);
        if (table !== lastTable) {
          lastTable = table;
          let empty = true;
          for (let a = table; a < table + 4096 && empty; a += 8) empty = mem.read32(a) === 0 && mem.read32(a + 4) === 0;
          lastShape = !empty ? GFN_SHAPE.slot : blockUniform(machine, vm, gfn - (gfn % 512)) ? GFN_SHAPE.emptyTableBlock : GFN_SHAPE.emptyTable;
        }
        after = lastShape;
      }
      const regionWide = after !== GFN_SHAPE.leaf4k && after !== GFN_SHAPE.slot;
      if (regionWide) lastRegionKey = regionKey;
      let mine = this.seen.get(vm);
      if (mine === undefined) {
        mine = new Map();
        this.seen.set(vm, mine);
      }
      const regionGfn = gfn - (gfn % 512);
      const byGfn = mine.get(gfn) ?? -1;
      const byRegion = regionGfn === gfn ? -1 : mine.get(regionGfn) ?? -1;
      const last = byGfn > byRegion ? byGfn : byRegion;
      const before = last < 0 ? GFN_SHAPE.none : last % 8;
      mine.set(regionWide ? regionGfn : gfn, after + 8 * ++this.stamp);
      if (before === after && last >= 0) continue;
      emit(gfnShapeFeature(opIndex, before, after));
    }
  }
}

/** Every feature one trace reaches (corpus list and minimize): a set, not the campaign bitmap. */
export class FeatureSet implements StepObserver {
  readonly features = new Set<number>();
  private prevOp = START_OP;
  private lastOp = START_OP;
  private readonly states = new PageStates();
  private readonly shapes = new GfnShapes();
  private readonly add = (f: number): void => { this.features.add(f); };

  observe(op: Op, actual: Outcome): void {
    const opIndex = opIndexOf(op);
    this.features.add(directFeature(opIndex, actual));
    this.features.add(transitionFeature(this.prevOp, opIndex, actual));
    this.prevOp = opIndex;
    this.lastOp = opIndex;
  }

  observeState(machine: MachineApi): void {
    this.states.each(machine, this.lastOp, this.add);
    this.shapes.each(machine, this.lastOp, this.add);
  }
}

/**
 * Every feature one run reached, new to the map or not (the seed scheduler's input for the trace,
 * corpus.ts): an open-addressing set whose slots are stamped with the run's number, so starting a
 * run is one increment and adding a feature allocates nothing but a push to the list of features
 * new to the run. A run reaching more than RUN_SLOTS / 2 distinct features overflows: it says so
 * (`complete` false) and the caller computes the set another way.
 */
const RUN_SLOT_BITS = 12;
const RUN_SLOTS = 1 << RUN_SLOT_BITS;
class RunFeatures {
  private readonly keys = new Int32Array(RUN_SLOTS);
  private readonly stamps = new Uint32Array(RUN_SLOTS);
  private run = 1;
  readonly list: number[] = [];
  complete = true;

  begin(): void {
    this.list.length = 0;
    this.complete = true;
    if (++this.run === 0x1_0000_0000) {
      this.stamps.fill(0);
      this.run = 1;
    }
  }

  add(feature: number): void {
    if (!this.complete) return;
    let slot = Math.imul(feature, 0x9e3779b1) >>> (32 - RUN_SLOT_BITS);
    for (;;) {
      if (this.stamps[slot] !== this.run) break;
      if (this.keys[slot] === feature) return;
      slot = (slot + 1) & (RUN_SLOTS - 1);
    }
    if (this.list.length >= RUN_SLOTS / 2) {
      this.complete = false;
      return;
    }
    this.stamps[slot] = this.run;
    this.keys[slot] = feature;
    this.list.push(feature);
  }
}

export class Coverage implements StepObserver {
  private readonly map = new Uint32Array(Math.ceil(FEATURE_SPACE / 32));
  private total = 0;
  private readonly freshList: number[] = [];
  private readonly reached = new RunFeatures();
  /** Op index of the previous step; START_OP before the first (no op has that index). */
  private prevOp = START_OP;
  private readonly states = new PageStates();
  private readonly shapes = new GfnShapes();
  private readonly markFn = (f: number): void => this.mark(f);

  /** Distinct features in the map. */
  get count(): number {
    return this.total;
  }

  beginRun(): void {
    this.freshList.length = 0;
    this.reached.begin();
    this.prevOp = START_OP;
    this.states.reset();
    this.shapes.reset();
  }

  observe(op: Op, actual: Outcome): void {
    const opIndex = opIndexOf(op);
    this.mark(directFeature(opIndex, actual));
    this.mark(transitionFeature(this.prevOp, opIndex, actual));
    this.prevOp = opIndex;
  }

  /** hv mode: the software state the last op changed (page-state and gfn-shape transitions). */
  observeState(machine: MachineApi): void {
    this.states.each(machine, this.prevOp, this.markFn);
    this.shapes.each(machine, this.prevOp, this.markFn);
  }

  private mark(feature: number): void {
    this.reached.add(feature);
    const w = feature >>> 5;
    const bit = 1 << (feature & 31);
    if ((this.map[w] & bit) === 0) {
      this.map[w] |= bit;
      this.total++;
      this.freshList.push(feature);
    }
  }

  /**
   * Every feature this run reached, ascending (a new array), as a `FeatureSet` over the same run
   * would hold them; null if the run reached too many to keep (RunFeatures).
   */
  runFeatures(): number[] | null {
    return this.reached.complete ? this.reached.list.slice().sort((a, b) => a - b) : null;
  }

  /** Features this run added to the map. */
  endRun(): number {
    return this.freshList.length;
  }

  /** The features this run added, in the order reached (valid until the next beginRun). */
  fresh(): readonly number[] {
    return this.freshList;
  }

  has(feature: number): boolean {
    return feature >= 0 && feature < FEATURE_SPACE && (this.map[feature >>> 5] & (1 << (feature & 31))) !== 0;
  }

  /** Adds `features` to the map; returns those that were new (in the given order). */
  merge(features: readonly number[]): number[] {
    const added: number[] = [];
    for (const f of features) {
      if (f >= 0 && f < FEATURE_SPACE && Number.isInteger(f) && !this.has(f)) {
        this.map[f >>> 5] |= 1 << (f & 31);
        this.total++;
        added.push(f);
      }
    }
    return added;
  }

  /** Every feature in the map, ascending. */
  features(): number[] {
    const out: number[] = [];
    const map = this.map;
    for (let w = 0; w < map.length; w++) {
      const bits = map[w];
      if (bits === 0) continue;
      for (let b = 0; b < 32; b++) if ((bits & (1 << b)) !== 0) out.push(w * 32 + b);
    }
    return out;
  }
}

/**
 * A digest of every outcome of a run (FNV-1a over the outcome fields), for the determinism
 * self-check: two executions of one trace must give the same digest. Chains to `next` (coverage).
 */
export class OutcomeDigest implements StepObserver {
  hash = 0x811c9dc5;
  steps = 0;

  constructor(private readonly next: StepObserver | null = null) {}

  private mix(n: number): void {
    let h = this.hash;
    h = Math.imul(h ^ (n & 0xffff), 0x01000193);
    h = Math.imul(h ^ ((n / 0x10000) & 0xffff), 0x01000193);
    h = Math.imul(h ^ ((n / 0x100000000) & 0xffff), 0x01000193);
    this.hash = h >>> 0;
  }

  observe(op: Op, actual: Outcome): void {
    this.steps++;
    this.mixOutcome(actual);
    if (this.next !== null) this.next.observe(op, actual);
  }

  observeState(machine: MachineApi): void {
    this.next?.observeState?.(machine);
  }

  private mixOutcome(actual: Outcome): void {
    this.mix(KIND_INDEX[actual.kind]);
    switch (actual.kind) {
      case 'data': this.mix(Number(actual.value & 0xffffffffn)); this.mix(Number(actual.value >> 32n)); break;
      case 'pf': this.mix(actual.code); this.mix(actual.cr2); break;
      case 'exit': this.mix(actual.reason); this.mix(actual.qual); this.mix(actual.gpa); this.mix(actual.gla ?? -1); break;
      case 'vmfail': this.mix(actual.error); break;
      case 'ret': this.mix(actual.value); break;
      case 'handled': for (const e of actual.exits) this.mix(e); this.mixOutcome(actual.then); break;
      case 'hv_exit': this.mix(HV_EXIT_INDEX[actual.exit] ?? 7); this.mix(actual.gpa); this.mix(actual.size); this.mix(actual.info); for (const e of actual.exits) this.mix(e); break;
      case 'page': this.mix(pageDetail(actual.page)); this.mix(actual.page.owner); this.mix(actual.page.pins); this.mix(actual.page.shares); this.mix(actual.page.gpfn); break;
      default: break;
    }
  }
}
