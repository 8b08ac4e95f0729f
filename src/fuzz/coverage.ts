/**
 * Semantic coverage: which (op kind, outcome kind, exit reason, qualification bits, error-code
 * bits) combinations and which (previous op kind, op kind, outcome shape) transitions a run reached.
 * Contract: `observe` is allocation-free (one bitmap store per feature, one push per feature new
 * to this map); `endRun` returns how many features the run added and `fresh()` lists them, in the
 * order first reached. Features are small integers, so the whole map is one Uint8Array; the
 * layout below fixes their meaning (persisted coverage files depend on it: change it only with
 * COVERAGE_LAYOUT).
 */
import type { Outcome } from '../hw/outcome.js';
import type { Op } from '../trace/ops.js';
import { OP_SCHEMAS } from '../trace/ops.js';
import type { StepObserver } from '../check/runner.js';

const OP_INDEX: ReadonlyMap<string, number> = new Map(OP_SCHEMAS.map((s, i) => [s.name, i]));

function kindIndex(kind: string): number {
  switch (kind) {
    case 'ok': return 0;
    case 'data': return 1;
    case 'pf': return 2;
    case 'exit': return 3;
    case 'gp': return 4;
    case 'vmfail': return 5;
    case 'noent': return 6;
    default: return 7;
  }
}

function reasonIndex(reason: number): number {
  return reason === 48 ? 0 : reason === 49 ? 1 : reason === 66 ? 2 : 3;
}

// Layout: bits 21:18 op index, 17:15 outcome kind, 14:0 detail (exit: reason index << 13 | qual
// bits 12:0; pf: error code bits 6:0; vmfail: error number & 0x1f). Transitions live above 2^22.
const DETAIL_BITS = 15;
const KIND_SHIFT = DETAIL_BITS;
const OP_SHIFT = DETAIL_BITS + 3;
const FEATURES_DIRECT = 1 << 22;
const TRANSITIONS = 1 << 13; // previous op (4 bits) x op (4 bits) x kind (3 bits) x reason (2 bits)
const START_OP = 15;
export const FEATURE_SPACE = FEATURES_DIRECT + TRANSITIONS;
/** Version of the feature layout above; persisted coverage of another layout is ignored. */
export const COVERAGE_LAYOUT = 1;

/** The (op kind, outcome) feature of one step. */
function directFeature(opIndex: number, actual: Outcome): number {
  const kind = kindIndex(actual.kind);
  let detail = 0;
  if (actual.kind === 'exit') detail = (reasonIndex(actual.reason) << 13) | (actual.qual & 0x1fff);
  else if (actual.kind === 'pf') detail = actual.code & 0x7f;
  else if (actual.kind === 'vmfail') detail = actual.error & 0x1f;
  return (opIndex << OP_SHIFT) | (kind << KIND_SHIFT) | detail;
}

/** The (previous op kind, op kind, outcome shape) feature of one step. */
function transitionFeature(prevOp: number, opIndex: number, actual: Outcome): number {
  const kind = kindIndex(actual.kind);
  const reason = actual.kind === 'exit' ? reasonIndex(actual.reason) : 0;
  return FEATURES_DIRECT + ((prevOp << 9) | (opIndex << 5) | (kind << 2) | reason);
}

function opIndexOf(op: Op): number {
  return OP_INDEX.get(op.op) ?? 15;
}

/** Every feature one trace reaches (corpus list and minimize): a set, not the campaign bitmap. */
export class FeatureSet implements StepObserver {
  readonly features = new Set<number>();
  private prevOp = START_OP;

  observe(op: Op, actual: Outcome): void {
    const opIndex = opIndexOf(op);
    this.features.add(directFeature(opIndex, actual));
    this.features.add(transitionFeature(this.prevOp, opIndex, actual));
    this.prevOp = opIndex;
  }
}

export class Coverage implements StepObserver {
  private readonly map = new Uint8Array(FEATURE_SPACE);
  private total = 0;
  private readonly freshList: number[] = [];
  /** Op index of the previous step; START_OP before the first (no op has index 15). */
  private prevOp = START_OP;

  /** Distinct features in the map. */
  get count(): number {
    return this.total;
  }

  beginRun(): void {
    this.freshList.length = 0;
    this.prevOp = START_OP;
  }

  observe(op: Op, actual: Outcome): void {
    const opIndex = opIndexOf(op);
    this.mark(directFeature(opIndex, actual));
    this.mark(transitionFeature(this.prevOp, opIndex, actual));
    this.prevOp = opIndex;
  }

  private mark(feature: number): void {
    if (this.map[feature] === 0) {
      this.map[feature] = 1;
      this.total++;
      this.freshList.push(feature);
    }
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
    return this.map[feature] === 1;
  }

  /** Adds `features` to the map; returns those that were new (in the given order). */
  merge(features: readonly number[]): number[] {
    const added: number[] = [];
    for (const f of features) {
      if (f >= 0 && f < FEATURE_SPACE && this.map[f] === 0) {
        this.map[f] = 1;
        this.total++;
        added.push(f);
      }
    }
    return added;
  }

  /** Every feature in the map, ascending. */
  features(): number[] {
    const out: number[] = [];
    for (let f = 0; f < FEATURE_SPACE; f++) if (this.map[f] !== 0) out.push(f);
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
    this.mix(kindIndex(actual.kind));
    switch (actual.kind) {
      case 'data': this.mix(Number(actual.value & 0xffffffffn)); this.mix(Number(actual.value >> 32n)); break;
      case 'pf': this.mix(actual.code); this.mix(actual.cr2); break;
      case 'exit': this.mix(actual.reason); this.mix(actual.qual); this.mix(actual.gpa); this.mix(actual.gla ?? -1); break;
      case 'vmfail': this.mix(actual.error); break;
      default: break;
    }
    if (this.next !== null) this.next.observe(op, actual);
  }
}
