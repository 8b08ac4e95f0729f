/**
 * Rule coverage: which rules of the catalogue (src/model/rules.ts) a campaign's runs fired, and the
 * exit reasons, EPT-violation qualification patterns and #PF error codes they saw.
 * Contract: `RuleCounter` is a StepObserver that counts without allocating (one flat Uint32Array:
 * rules, then #PF codes, qualification patterns, exit reasons); a run's counts travel as sparse
 * (index, count) pairs; `RuleCoverage` sums them, so the totals depend only on which runs were
 * merged, never on workers or order. The file `OUT/rule-coverage.json` is written atomically:
 * `{"format":"eptfuzz-rule-coverage","version":1,"rules":[{id,mechanism,source,hits,unreachable?}],
 * "extra":{...}}`; `readRuleCoverage(dir)` reads it back (for `eptfuzz coverage` and the report),
 * `mergeRuleCoverage` sums several (shards).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { StepObserver } from '../check/runner.js';
import type { MachineApi } from '../hw/api.js';
import type { Outcome } from '../hw/outcome.js';
import { EXIT_EPT_VIOLATION } from '../hw/bits.js';
import type { Op } from '../trace/ops.js';
import { RULE, RULES } from '../model/rules.js';

/** Advanced qualification bits 9-11 (guest U/S, R/W, XD). */
const QUAL_ADVANCED = 0xe00;
import { pfCodeNames, qualNames } from '../check/decode.js';
import { writeFileAtomic } from './atomic.js';

export const RULE_COVERAGE_FILE = 'rule-coverage.json';
export const RULE_COVERAGE_FORMAT = 'eptfuzz-rule-coverage';

/** #PF error codes counted: bits 0-6 (P W U RSVD I PK SS). */
const PF_CODES = 128;
/** EPT-violation qualification patterns counted: bits 0-11. */
const QUAL_PATTERNS = 4096;
/** Exit reasons counted (48, 49 and 66 are the ones produced here). */
const EXIT_REASONS = 128;

const PF_BASE = RULES.length;
const QUAL_BASE = PF_BASE + PF_CODES;
const EXIT_BASE = QUAL_BASE + QUAL_PATTERNS;
const SLOTS = EXIT_BASE + EXIT_REASONS;

/** Counts one run's rules and outcome patterns; forwards every call to `next`. */
export class RuleCounter implements StepObserver {
  private readonly counts = new Uint32Array(SLOTS);
  private readonly touched: number[] = [];

  constructor(private next: StepObserver) {}

  /** Starts a run whose steps go on to `next` (the coverage map, or the determinism digest over it). */
  beginRun(next: StepObserver = this.next): void {
    this.next = next;
    for (const i of this.touched) this.counts[i] = 0;
    this.touched.length = 0;
  }

  private bump(i: number): void {
    if (this.counts[i]++ === 0) this.touched.push(i);
  }

  observe(op: Op, actual: Outcome): void {
    const o = actual.kind === 'handled' ? actual.then : actual;
    if (o.kind === 'pf') this.bump(PF_BASE + (o.code & (PF_CODES - 1)));
    else if (o.kind === 'exit') {
      this.bump(EXIT_BASE + (o.reason & (EXIT_REASONS - 1)));
      if (o.reason === EXIT_EPT_VIOLATION) this.bump(QUAL_BASE + (o.qual & (QUAL_PATTERNS - 1)));
    }
    if (o.kind === 'exit' && o.reason === EXIT_EPT_VIOLATION) {
      // the qualification's composition rules (src/model/rules.ts ept.qual.*)
      this.bump(RULE.qualAccess);
      this.bump(RULE.qualRights);
      this.bump(RULE.qualGla);
      if ((o.qual & QUAL_ADVANCED) !== 0) this.bump(RULE.qualAdvanced);
    }
    if (actual.kind === 'handled') for (const r of actual.exits) this.bump(EXIT_BASE + (r & (EXIT_REASONS - 1)));
    this.next.observe(op, actual);
  }

  observeRule(_op: Op, rule: number): void {
    if (rule >= 0 && rule < PF_BASE) this.bump(rule);
  }

  observeState(machine: MachineApi): void {
    this.next.observeState?.(machine);
  }

  /** This run's counts as (index, count) pairs, in index order. */
  pairs(): number[] {
    const idx = [...this.touched].sort((a, b) => a - b);
    const out: number[] = [];
    for (const i of idx) out.push(i, this.counts[i]);
    return out;
  }
}

/** A campaign's (or several shards') rule coverage: sums of run counts. */
export class RuleCoverage {
  readonly counts = new Float64Array(SLOTS);
  /** The campaign's mode: the other mode's rules are listed as unreachable (null: several or unknown). */
  constructor(private readonly mode: 'bare' | 'hv' | null = null) {}
  /** Findings per invariant (invariants exercised to a failure). */
  readonly invariants = new Map<string, number>();

  /** Adds a run's pairs (absent in a report from an older worker or hub peer: nothing to add). */
  add(pairs: readonly number[] | undefined): void {
    if (pairs === undefined) return;
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const k = pairs[i];
      if (Number.isInteger(k) && k >= 0 && k < SLOTS) this.counts[k] += pairs[i + 1];
    }
  }

  addFinding(invariant: string): void {
    this.invariants.set(invariant, (this.invariants.get(invariant) ?? 0) + 1);
  }

  toJson(): RuleCoverageFile {
    const pf: Record<string, number> = {};
    const qual: Record<string, number> = {};
    const exits: Record<string, number> = {};
    for (let c = 0; c < PF_CODES; c++) if (this.counts[PF_BASE + c] > 0) pf[`0x${c.toString(16)} ${pfCodeNames(c)}`] = this.counts[PF_BASE + c];
    for (let q = 0; q < QUAL_PATTERNS; q++) if (this.counts[QUAL_BASE + q] > 0) qual[`0x${q.toString(16)} ${qualNames(EXIT_EPT_VIOLATION, q)}`] = this.counts[QUAL_BASE + q];
    for (let r = 0; r < EXIT_REASONS; r++) if (this.counts[EXIT_BASE + r] > 0) exits[String(r)] = this.counts[EXIT_BASE + r];
    const invariants: Record<string, number> = {};
    for (const k of [...this.invariants.keys()].sort()) invariants[k] = this.invariants.get(k)!;
    return {
      format: RULE_COVERAGE_FORMAT,
      version: 1,
      rules: RULES.map((r, i) => ({
        id: r.id, mechanism: r.mechanism, source: r.source, hits: this.counts[i],
        ...(r.unreachable !== undefined ? { unreachable: r.unreachable }
          : this.mode !== null && r.mode !== this.mode ? { unreachable: `a ${r.mode}-mode rule; this campaign runs ${this.mode} mode` } : {}),
      })),
      extra: { pf_codes: pf, ept_qualifications: qual, exit_reasons: exits, findings_by_invariant: invariants },
    };
  }

  /**
   * The non-zero counts under names that do not depend on the catalogue's order (a hub keeps them
   * in a hash, src/hub/hub-rules.ts): the rule id, `pf:N`, `qual:N`, `exit:N`, `finding:INVARIANT`.
   */
  toFields(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (let i = 0; i < SLOTS; i++) {
      const n = this.counts[i];
      if (n === 0) continue;
      out.push([i < PF_BASE ? RULES[i].id : i < QUAL_BASE ? `pf:${i - PF_BASE}` : i < EXIT_BASE ? `qual:${i - QUAL_BASE}` : `exit:${i - EXIT_BASE}`, n]);
    }
    for (const k of [...this.invariants.keys()].sort()) out.push([`finding:${k}`, this.invariants.get(k)!]);
    return out;
  }

  /** Adds counts named as `toFields` names them (a name this build does not know is left out). */
  addFields(fields: Iterable<[string, number]>): void {
    const index = new Map(RULES.map((r, i) => [r.id, i]));
    const bases: Record<string, [number, number]> = { pf: [PF_BASE, PF_CODES], qual: [QUAL_BASE, QUAL_PATTERNS], exit: [EXIT_BASE, EXIT_REASONS] };
    for (const [name, n] of fields) {
      if (!Number.isFinite(n)) continue;
      const colon = name.indexOf(':');
      const kind = colon < 0 ? '' : name.slice(0, colon);
      if (kind === 'finding') { const inv = name.slice(colon + 1); this.invariants.set(inv, (this.invariants.get(inv) ?? 0) + n); continue; }
      const base = bases[kind];
      if (base !== undefined) {
        const k = Number(name.slice(colon + 1));
        if (Number.isInteger(k) && k >= 0 && k < base[1]) this.counts[base[0] + k] += n;
        continue;
      }
      const i = index.get(name);
      if (i !== undefined) this.counts[i] += n;
    }
  }

  save(dir: string): void {
    writeFileAtomic(path.join(dir, RULE_COVERAGE_FILE), JSON.stringify(this.toJson(), null, 1) + '\n', { durable: false });
  }

  /** Adds a saved file's counts (a resumed campaign continues its totals). */
  addFile(f: RuleCoverageFile): void {
    const index = new Map(RULES.map((r, i) => [r.id, i]));
    for (const r of f.rules) {
      const i = index.get(r.id);
      if (i !== undefined) this.counts[i] += r.hits;
    }
    const back = (table: Record<string, number> | undefined, base: number): void => {
      for (const [k, v] of Object.entries(table ?? {})) {
        const n = Number.parseInt(k, k.startsWith('0x') ? 16 : 10);
        if (Number.isInteger(n)) this.counts[base + n] += v;
      }
    };
    back(f.extra.pf_codes, PF_BASE);
    back(f.extra.ept_qualifications, QUAL_BASE);
    back(f.extra.exit_reasons, EXIT_BASE);
    for (const [k, v] of Object.entries(f.extra.findings_by_invariant ?? {})) this.invariants.set(k, (this.invariants.get(k) ?? 0) + v);
  }
}

export interface RuleCoverageEntry {
  id: string;
  mechanism: string;
  source: string;
  hits: number;
  unreachable?: string;
}

export interface RuleCoverageFile {
  format: typeof RULE_COVERAGE_FORMAT;
  version: 1;
  rules: RuleCoverageEntry[];
  extra: {
    pf_codes: Record<string, number>;
    ept_qualifications: Record<string, number>;
    exit_reasons: Record<string, number>;
    findings_by_invariant: Record<string, number>;
  };
}

/** Bad rule-coverage input: the CLI prints the message as one line (exit 2). */
export class RuleCoverageError extends Error {}

/**
 * Reads `dir/rule-coverage.json` (or a file path). Throws RuleCoverageError naming the problem
 * when it is missing or not in the format.
 */
export function readRuleCoverage(dir: string): RuleCoverageFile {
  const file = fs.existsSync(dir) && fs.statSync(dir).isDirectory() ? path.join(dir, RULE_COVERAGE_FILE) : dir;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new RuleCoverageError(`${file}: no rule coverage here (a campaign run with --out writes ${RULE_COVERAGE_FILE})`);
  }
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch {
    throw new RuleCoverageError(`${file}: not JSON`);
  }
  const f = x as Partial<RuleCoverageFile>;
  if (typeof x !== 'object' || x === null || f.format !== RULE_COVERAGE_FORMAT || f.version !== 1 || !Array.isArray(f.rules) || typeof f.extra !== 'object' || f.extra === null) {
    throw new RuleCoverageError(`${file}: not an ${RULE_COVERAGE_FORMAT} version 1 file`);
  }
  for (const r of f.rules) {
    if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || typeof r.mechanism !== 'string' || typeof r.hits !== 'number') {
      throw new RuleCoverageError(`${file}: a rule entry lacks id, mechanism or hits`);
    }
  }
  return f as RuleCoverageFile;
}

/** The sum of several files (shards, workers' campaigns): hits and extra counts added per key. */
export function mergeRuleCoverage(files: readonly RuleCoverageFile[]): RuleCoverageFile {
  const sum = new RuleCoverage();
  for (const f of files) sum.addFile(f);
  return sum.toJson();
}
