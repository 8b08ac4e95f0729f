/**
 * The allowed path a target's outcome is disputed against (checkers.ts `classifyOutcome`): the
 * model allows several outcomes where cached translations may or may not serve, and a signature
 * names the check where the target parted from the path it followed (docs/rules.md "Signatures",
 * "the path in dispute").
 * Contract: pure; `pathInDispute` returns one of `allowed` and whether the target went past that
 * path's stop (the signature then reads as if the target had completed the access, or the call
 * had succeeded, there: `wentThrough`).
 */
import { EXIT_EPT_MISCONFIG, EXIT_EPT_VIOLATION, QUAL_XLAT } from '../hw/bits.js';
import { OK, sameOutcome, type Outcome } from '../hw/outcome.js';
import { ENOMEM } from '../hv/consts.js';
import type { Candidate } from '../model/api.js';
import { outcomeClass } from './classify.js';
import { ACCESS_END, actualProgress, candidateProgress, isWalkOfSamePart, partOfMark } from './progress.js';

/**
 * The allowed candidate closest to `actual`: same class (classify.ts) at the same address first,
 * then an exit at the same GPA, then same class, then same kind and exit reason, else the fresh
 * walk's (allowed[0]).
 */
function closest(op: string, actual: Outcome, allowed: readonly Candidate[]): Candidate {
  const at = sameClassAt(op, actual, allowed);
  if (at !== null) return at;
  const gpa = exitAtSameGpa(actual, allowed);
  if (gpa !== null) return gpa;
  const cls = outcomeClass(op, actual);
  for (const c of allowed) if (outcomeClass(op, c.outcome) === cls) return c;
  for (const c of allowed) {
    const o = c.outcome;
    if (o.kind === actual.kind && (o.kind !== 'exit' || actual.kind !== 'exit' || o.reason === actual.reason)) return c;
  }
  return allowed[0];
}

/**
 * The allowed path the target's outcome is disputed against, and whether the target went past
 * that path's stop. An allowed outcome of the target's class at its address first (then only
 * fields differ). Else by how far the access got (progress.ts): an allowed path that stopped
 * where the target did; else the furthest that stopped before the target's stop (the target went
 * past it: a check the model applied there is in dispute), unless that one stopped in an earlier
 * part and another went past the target's stop (`reachedLaterPart`); else the nearest that went further
 * (the target stopped early: the check the model passed there is in dispute). Where the target's
 * stop cannot be placed, the closest outcome by class and `pastModelStop`.
 */
export function pathInDispute(op: string, actual: Outcome, allowed: readonly Candidate[]): PathInDispute {
  const at = sameClassAt(op, actual, allowed);
  if (at === null) {
    const p = byProgress(op, actual, allowed);
    if (p !== null) return { cand: p.cand, past: p.past, others: p.ties };
    // The target's stop cannot be placed: it may lie past the furthest stop of an allowed path
    // (an exit at a GPA of a part no allowed path reached), which is the other explanation.
    const c = byClass(op, actual, allowed);
    const furthest = furthestStopped(allowed);
    return furthest === null || furthest === c.cand ? c : { ...c, others: [{ cand: furthest, past: true }] };
  }
  // Same class at the same address: only fields differ. Where the access's progress places the
  // target's stop on another path (an A/D update's exit at the GPA of a table read the model
  // stopped at), that path is the other explanation.
  const p = byProgress(op, actual, allowed);
  if (p === null) return { cand: at, past: false };
  const others = [{ cand: p.cand, past: p.past }, ...p.ties].filter((o) => o.cand !== at);
  return { cand: at, past: false, others };
}

export interface PathInDispute {
  cand: Candidate;
  past: boolean;
  /** Other paths that fit as well (classifyOutcome files them as alternative explanations). */
  others?: readonly { cand: Candidate; past: boolean }[];
}

/**
 * For an outcome the model allows whose memory is not that path's: the path of another outcome
 * the target went past, by how far the access got (a cached translation's completion whose memory
 * shows the fresh walk's A/D updates past the check where that walk stopped), or null.
 */
export function pathGonePast(op: string, actual: Outcome, allowed: readonly Candidate[]): { cand: Candidate; past: boolean } | null {
  const others = allowed.filter((c) => !sameOutcome(c.outcome, actual));
  if (others.length === 0) return null;
  const p = byProgress(op, actual, others);
  return p !== null && p.past ? { cand: p.cand, past: true } : null;
}

/**
 * The path by how far the access got (see `pathInDispute`), or null where the target's stop
 * cannot be placed or no path fits; `ties`: the other paths that fit as well (those that stopped
 * at the same mark in the same relation, and for a target that went past a path's stop, the
 * nearest paths that went further, on which it stopped early).
 */
function byProgress(op: string, actual: Outcome, allowed: readonly Candidate[]): { cand: Candidate; past: boolean; ties: { cand: Candidate; past: boolean }[] } | null {
  const x = actualProgress(actual, allowed);
  if (x === null) return null;
  const same: Candidate[] = [];
  let below: Candidate[] = [];
  let above: Candidate[] = [];
  const walkBelow: Candidate[] = [];
  let yBelow = -1;
  let yAbove = Infinity;
  for (const c of allowed) {
    const y = candidateProgress(c);
    if (y === null) continue;
    if (y === x) same.push(c);
    else if (y > x) {
      if (y < yAbove) { above = [c]; yAbove = y; } else if (y === yAbove) above.push(c);
    } else if (isWalkOfSamePart(y, x)) walkBelow.push(c);
    else if (y > yBelow) { below = [c]; yBelow = y; } else if (y === yBelow) below.push(c);
  }
  if (same.length > 0) {
    const c = closest(op, actual, same);
    return { cand: c, past: false, ties: [] };
  }
  const went = (list: Candidate[], past: boolean): { cand: Candidate; past: boolean }[] => list.map((c) => ({ cand: c, past }));
  if (below.length > 0 && above.length > 0 && reachedLaterPart(yBelow, x)) return { cand: above[0], past: false, ties: [...went(above.slice(1), false), ...went(below, true)] };
  if (below.length > 0) return { cand: below[0], past: true, ties: [...went(below.slice(1), true), ...went(above, false)] };
  // A path that stopped at a table read of the part where the target stopped later is another
  // choice of cached paging-structure entries, not a check the target went through: a path that
  // got through the target's stop comes first.
  if (above.length > 0) return { cand: above[0], past: false, ties: went(above.slice(1), false) };
  if (walkBelow.length > 0) return { cand: walkBelow[0], past: true, ties: went(walkBelow.slice(1), true) };
  return null;
}

/** The allowed path that got furthest before it stopped (a completed access does not count), or null. */
function furthestStopped(allowed: readonly Candidate[]): Candidate | null {
  let best: Candidate | null = null;
  let yBest = -1;
  for (const c of allowed) {
    const y = candidateProgress(c);
    if (y !== null && y !== ACCESS_END && y > yBest) { best = c; yBest = y; }
  }
  return best;
}

/** The closest outcome by class, and whether the target went past its stop. */
function byClass(op: string, actual: Outcome, allowed: readonly Candidate[]): { cand: Candidate; past: boolean } {
  const best = closest(op, actual, allowed);
  if (pastHvStop(actual, best.outcome)) return { cand: best, past: true };
  const past = pastModelStop(actual, best.outcome);
  return { cand: past ? closest(op, OK, allowed) : best, past };
}

/**
 * Whether a target that stopped at mark `x` got beyond the part where a path stopped at mark
 * `y`. Then a path that got past the target's stop (it went through that earlier part too, by its
 * choice of cached translations) explains how the target got there, and the dispute is the check
 * the target stopped at in its own part, not the earlier part's stop: a split fetch whose first
 * part was cached and whose second part took a #PF that no path allows is disputed at the second
 * part's checks (a cached translation may serve the first part: SDM Vol. 3A §4.10.2, docs/semantics.md "TLBs").
 */
function reachedLaterPart(y: number, x: number): boolean {
  return partOfMark(y) < partOfMark(x);
}

/**
 * Hypervisor mode: whether the target went on where the model's hypercall or access stopped.
 * -ENOMEM, where the model refused the call with another error or stopped the access with an
 * exit: memory is taken only after every check of the call or fault has passed (docs/hypervisor.md; reference pkvm-and-vtl.md, transition table:
 * state checks, then the memcache); or an access whose hardware exits continue the model's
 * (the model's are a proper prefix of the target's: it handled the exit the model stopped at).
 */
function pastHvStop(actual: Outcome, expected: Outcome): boolean {
  if (actual.kind === 'ret' && actual.value === -ENOMEM) return expected.kind === 'ret' ? expected.value < 0 && expected.value !== -ENOMEM : expected.kind === 'hv_exit';
  if (expected.kind !== 'hv_exit' || (actual.kind !== 'hv_exit' && actual.kind !== 'handled')) return false;
  // The same exit for the part on the next page of a page-crossing access (it starts where the
  // model's part ends, at a page boundary): the target went past the model's exit on the first
  // part (as a #PF or EPT exit on a later page does, pastModelStop).
  if (actual.kind === 'hv_exit' && actual.exit === expected.exit && actual.gpa === expected.gpa + expected.size && actual.gpa % 4096 === 0) return true;
  // The same exit at the same address, reached through more exits: the exits differ, nothing more.
  if (actual.kind === 'hv_exit' && actual.exit === expected.exit && actual.gpa === expected.gpa) return false;
  const e = expected.exits;
  const a = actual.exits;
  if (a.length <= e.length) return false;
  for (let i = 0; i < e.length; i++) if (a[i] !== e[i]) return false;
  return true;
}

/**
 * Hypervisor mode: the same exit at the same address as the model's, reached through more exits
 * that continue the model's (its exits are a proper prefix of the target's). `pastHvStop` reads
 * this as exits that differ, nothing more; it fits as well a target that handled the exit the
 * model stopped at (mapping what the model refused) and stopped later at the same address for
 * another reason (a memory attribute, say): the exits do not say which, so both are explanations
 * (checkers.ts files the second as an alternative).
 */
export function sameHvExitAfterMore(actual: Outcome, expected: Outcome): boolean {
  if (actual.kind !== 'hv_exit' || expected.kind !== 'hv_exit' || actual.exit !== expected.exit || actual.gpa !== expected.gpa) return false;
  const e = expected.exits;
  const a = actual.exits;
  if (a.length <= e.length) return false;
  for (let i = 0; i < e.length; i++) if (a[i] !== e[i]) return false;
  return true;
}

/** What the target's outcome reads as when it went past the model's stop: a completed access, or a call that succeeded. */
export function wentThrough(expected: Outcome): Outcome {
  return expected.kind === 'ret' ? RET_OK : OK;
}

const RET_OK: Outcome = { kind: 'ret', value: 0 };

/** The first page of a model outcome's address (a #PF's CR2, an exit's GLA), or null. */
function stopPage(o: Outcome): number | null {
  if (o.kind === 'pf') return Math.floor(o.cr2 / 4096);
  if (o.kind === 'exit' && o.gla !== null) return Math.floor(o.gla / 4096);
  return null;
}

/**
 * Whether the target went past the point where the model's outcome stopped the access: its #PF or
 * EPT exit names a later page, or the model stopped at a guest paging-structure access (an EPT
 * violation without bit 8: a table read or A/D update) and the target's EPT exit, at another GPA,
 * is that of the final translation (bit 8) or a misconfiguration (it walked on).
 */
function pastModelStop(actual: Outcome, expected: Outcome): boolean {
  const stop = stopPage(expected);
  if (stop === null) return false;
  if (actual.kind === 'pf') return Math.floor(actual.cr2 / 4096) > stop;
  if (actual.kind !== 'exit') return false;
  if (actual.gla !== null && Math.floor(actual.gla / 4096) > stop) return true;
  if (expected.kind !== 'exit' || expected.reason !== EXIT_EPT_VIOLATION || (expected.qual & QUAL_XLAT) !== 0) return false;
  // (at another GPA: the same GPA with other qualification bits is a qualification dispute)
  return actual.gpa !== expected.gpa && ((actual.reason === EXIT_EPT_VIOLATION && (actual.qual & QUAL_XLAT) !== 0) || actual.reason === EXIT_EPT_MISCONFIG);
}

/**
 * An allowed outcome of `actual`'s class at its address (an exit's GPA, a #PF's CR2): then only
 * fields differ. Of several (a fresh table read and a cached path's A/D update exit at one GPA
 * with other access bits), the one whose fields differ from the target's in the fewest bits: the
 * path the target followed, so the bits that path explains are not in dispute.
 */
function sameClassAt(op: string, actual: Outcome, allowed: readonly Candidate[]): Candidate | null {
  const cls = outcomeClass(op, actual);
  let best: Candidate | null = null;
  let fewest = Infinity;
  for (const c of allowed) {
    if (outcomeClass(op, c.outcome) !== cls || !sameAddress(actual, c.outcome)) continue;
    const d = differingFieldBits(actual, c.outcome);
    if (d < fewest) { best = c; fewest = d; }
  }
  return best;
}

/** How many bits of the fields two outcomes of one class at one address differ in: qualification (and GLA) or error code. */
function differingFieldBits(a: Outcome, b: Outcome): number {
  if (a.kind === 'exit' && b.kind === 'exit') return bitCount((a.qual ^ b.qual) >>> 0) + (a.gla === b.gla ? 0 : 1);
  if (a.kind === 'pf' && b.kind === 'pf') return bitCount((a.code ^ b.code) >>> 0);
  return 0;
}

function bitCount(x: number): number {
  let n = 0;
  for (let v = x; v !== 0; v &= v - 1) n++;
  return n;
}

/**
 * An allowed EPT exit at the GPA of the target's exit, of another class: the same access of the
 * same entry, where the two differ in what that access gives (a violation where a
 * misconfiguration is required), which names the check better than an exit of the target's
 * class at another GPA would (its rule is about another entry).
 */
function exitAtSameGpa(actual: Outcome, allowed: readonly Candidate[]): Candidate | null {
  if (actual.kind !== 'exit') return null;
  for (const c of allowed) if (c.outcome.kind === 'exit' && c.outcome.gpa === actual.gpa) return c;
  return null;
}

function sameAddress(a: Outcome, b: Outcome): boolean {
  if (a.kind === 'exit' && b.kind === 'exit') return a.gpa === b.gpa;
  if (a.kind === 'pf' && b.kind === 'pf') return a.cr2 === b.cr2;
  return false;
}
