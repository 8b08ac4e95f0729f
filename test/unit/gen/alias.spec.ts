/**
 * The generator builds aliased page-table states (src/gen/alias.ts) in a few percent of traces:
 * each kind is counted over a few hundred fixed-seed traces by reading the setup ops alone (not the
 * generator's bookkeeping), the aliased traces really exercise the aliasing on the machine (a
 * guest A/D update lands in an EPT table, a guest data write rewrites a table entry), and the
 * reference model agrees with the machine on every one of them.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/gen/rng.js';
import { generateOps, makeTrace, type GenOptions } from '../../../src/gen/generate.js';
import { allFeatures, parseFeatures, type Feature } from '../../../src/gen/features.js';
import { DEFAULT_WEIGHTS, restrictWeights } from '../../../src/gen/weights.js';
import { ALIAS_KINDS, type AliasKind, type World } from '../../../src/gen/world.js';
import { defaultConfig } from '../../../src/hw/config.js';
import { Machine } from '../../../src/hw/machine.js';
import { EPT_PS, PTE_A, PTE_D, PTE_PS } from '../../../src/hw/bits.js';
import type { Op } from '../../../src/trace/ops.js';
import { checkTrace, checkedSignature } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { formatSignature } from '../../../src/check/violation.js';

const TRACES = 400;
const ADDR = ((1n << 52n) - 1n) & ~0xfffn;
const SPPT_ROOT = 0x1000;

function opts(features: ReadonlySet<Feature> = allFeatures()): GenOptions {
  return { opsMax: 200, features, weights: restrictWeights({ ...DEFAULT_WEIGHTS }, features), config: defaultConfig() };
}

const addr = (e: bigint): number => Number(e & ADDR);
const isAccess = (op: Op): boolean => op.op === 'read' || op.op === 'write' || op.op === 'fetch';

/**
 * The aliasing kinds a trace's setup (the ops before its first guest access) builds, read from
 * the ops: which frames are EPT / SPPT tables (non-leaf entries point at them), which GPAs are
 * guest tables and at which level, and where EPT 4 KiB leaves map each GPA (any leaf written for
 * it: workload rewrites before the first access may already have changed one).
 */
function aliasingIn(ops: readonly Op[]): Set<AliasKind> {
  const setup = ops.slice(0, Math.max(0, ops.findIndex(isAccess)));
  const eptFrames = new Set<number>([0]);
  const spptFrames = new Set<number>([SPPT_ROOT]);
  const guestTables = new Map<number, number>([[0, 4]]); // GPA -> level (CR3 keeps its reset value 0)
  const eptLeaf = new Map<number, number[]>(); // GPA page -> the HPAs its 4 KiB leaves mapped it to
  for (const op of setup) {
    if (op.op === 'ept_set') {
      const leaf = op.level === 1 || (op.level <= 3 && (Number(op.entry & 0xffn) & EPT_PS) !== 0);
      const page = op.gpa - (op.gpa % 4096);
      if (leaf && op.level === 1) eptLeaf.set(page, [...(eptLeaf.get(page) ?? []), addr(op.entry)]);
      if (!leaf) eptFrames.add(addr(op.entry));
    } else if (op.op === 'sppt_set' && op.level > 1) {
      spptFrames.add(addr(op.entry));
    } else if (op.op === 'gpt_set' && (op.level === 4 || (op.level > 1 && (Number(op.entry & 0xffn) & PTE_PS) === 0))) {
      if (!guestTables.has(addr(op.entry))) guestTables.set(addr(op.entry), op.level - 1);
    }
  }
  const out = new Set<AliasKind>();
  const onEpt = (gpa: number): boolean => (eptLeaf.get(gpa) ?? []).some((h) => eptFrames.has(h));
  for (const op of setup) {
    if (op.op === 'ept_set' && op.level === 1 && (eptFrames.has(addr(op.entry)) || spptFrames.has(addr(op.entry)))) out.add('ept-leaf-on-table');
    if (op.op !== 'gpt_set') continue;
    const a = addr(op.entry);
    const nonLeaf = op.level === 4 || (op.level > 1 && (Number(op.entry & 0xffn) & PTE_PS) === 0);
    if (nonLeaf && onEpt(a)) out.add('gpt-on-ept');
    if (nonLeaf && (guestTables.get(a) ?? 0) >= op.level) out.add('gpt-self');
    if (op.level === 1 && (guestTables.has(a) || onEpt(a))) out.add('gpt-leaf-on-table');
  }
  return out;
}

interface Sample { seed: string; ops: Op[]; world: World; seen: Set<AliasKind> }

function sample(features: ReadonlySet<Feature> = allFeatures(), n = TRACES): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const seed = `alias-${i}`;
    const { ops, world } = generateOps(new Rng(seed), opts(features));
    out.push({ seed, ops, world, seen: aliasingIn(ops) });
  }
  return out;
}

/** What the machine's guest accesses did to table frames, per access kind. */
function exercised(s: Sample): { adInEpt: boolean; writeInTable: boolean } {
  const m = new Machine(defaultConfig());
  const eptFrames = [...s.world.eptTables.values()].map((h) => h / 4096);
  const tableFrames = [...eptFrames, ...[...s.world.guestTableHpa.values()].map((h) => h / 4096), ...[...s.world.spptTables.values()].map((h) => h / 4096)];
  let adInEpt = false;
  let writeInTable = false;
  for (const op of s.ops) {
    if (!isAccess(op)) { m.apply(op); continue; }
    const before = new Map(tableFrames.map((f) => [f, m.frameBytes(f)] as const));
    m.apply(op);
    for (const [f, b] of before) {
      const a = m.frameBytes(f);
      if (a === null) continue;
      for (let q = 0; q < 512; q++) {
        let guestAd = false;
        let other = false;
        for (let k = 0; k < 8; k++) {
          let x = (b === null ? 0 : b[q * 8 + k]) ^ a[q * 8 + k];
          if (k === 1) x &= ~0x3; // EPT A/D (bits 8, 9): the EPT's own flags, not the guest's doing
          if (k === 0 && (x & (PTE_A | PTE_D)) !== 0) { guestAd = true; x &= ~(PTE_A | PTE_D); }
          if (x !== 0) other = true;
        }
        // A read or fetch writes no data: bits 5/6 set in an EPT entry are a guest A/D update.
        if (guestAd && !other && op.op !== 'write' && eptFrames.includes(f)) adInEpt = true;
        if (other && op.op === 'write') writeInTable = true;
      }
    }
  }
  return { adInEpt, writeInTable };
}

describe('aliased page-table states', () => {
  const all = sample();
  const aliased = all.filter((s) => s.world.aliases.length > 0);

  it('a few percent of traces build aliasing, every kind among them; the ops show what the generator recorded', () => {
    const counts = Object.fromEntries(ALIAS_KINDS.map((k) => [k, all.filter((s) => s.seen.has(k)).length]));
    expect(aliased.length, 'aliased traces').toBeGreaterThanOrEqual(TRACES * 0.02);
    expect(aliased.length, 'aliased traces').toBeLessThanOrEqual(TRACES * 0.12);
    for (const k of ALIAS_KINDS) expect(counts[k], `${k} in ${TRACES} traces`).toBeGreaterThanOrEqual(3);
    for (const s of all) {
      // Every construct the world recorded is visible in the ops; a trace without any shows none.
      for (const a of s.world.aliases) expect(s.seen.has(a.kind), `${s.seed}: ${a.kind}`).toBe(true);
      if (s.world.aliases.length === 0) expect([...s.seen], s.seed).toEqual([]);
    }
  });

  it('the guest PML4 points at itself in some traces (the recursive mapping)', () => {
    const recursive = all.filter((s) => s.ops.some((op, i) => i < s.ops.findIndex(isAccess) && op.op === 'gpt_set' && op.level === 4 && addr(op.entry) === 0));
    expect(recursive.length).toBeGreaterThan(0);
    expect(recursive.every((s) => s.world.aliases.some((a) => a.kind === 'gpt-self'))).toBe(true);
  });

  it('aliased traces exercise it on the machine: guest A/D updates land in EPT tables, guest writes rewrite table entries', () => {
    const runs = aliased.map((s) => ({ s, e: exercised(s) }));
    const adInEpt = runs.filter((r) => r.e.adInEpt);
    expect(adInEpt.length, 'traces where a guest read or fetch set A/D in an EPT table').toBeGreaterThan(0);
    expect(adInEpt.every((r) => r.s.seen.has('gpt-on-ept') || r.s.seen.has('ept-leaf-on-table') || r.s.seen.has('gpt-leaf-on-table'))).toBe(true);
    expect(runs.filter((r) => r.e.writeInTable).length, 'traces where a guest data write changed a table entry').toBeGreaterThan(3);
  });

  it('the reference model agrees with the machine on every aliased trace', () => {
    const failures = aliased.flatMap((s) => {
      const r = checkTrace(makeTrace(defaultConfig(), s.ops), TARGETS.model);
      return r.first === null ? [] : [`${s.seed}: ${formatSignature(checkedSignature(r.first))} at step ${r.first.step}`];
    });
    expect(failures).toEqual([]);
  });

  it('without the ept feature no EPT leaf maps a table: only guest-side aliasing', () => {
    const noEpt = sample(parseFeatures('spp,pk,xo,tlb') as ReadonlySet<Feature>, 200);
    const kinds = new Set(noEpt.flatMap((s) => s.world.aliases.map((a) => a.kind)));
    expect(kinds.size).toBeGreaterThan(0);
    expect(kinds.has('gpt-on-ept')).toBe(false);
    expect(kinds.has('ept-leaf-on-table')).toBe(false);
    for (const s of noEpt) expect(s.seen.has('ept-leaf-on-table') || s.seen.has('gpt-on-ept'), s.seed).toBe(false);
  });
});
