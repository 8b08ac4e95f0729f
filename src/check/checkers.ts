/**
 * The checkers: each turns a disagreement between the machine and the reference model into a
 * violation with a stable invariant id (see violation.ts).
 * Contract: `classifyOutcome` is called only when the actual outcome is not among the allowed
 * ones; `checkFrames` compares whole frames and reports the first differing byte. Both are cheap
 * on the agreeing path (nothing allocated when the frames agree).
 */
import type { Outcome } from '../hw/outcome.js';
import { formatOutcome, pageDiff, sameOutcome } from '../hw/outcome.js';
import { EXIT_EPT_VIOLATION, EXIT_SPP, PF_PK } from '../hw/bits.js';
import type { Candidate, SpecStep } from '../model/api.js';
import { NO_RULE, RULE, ruleId } from '../model/rules.js';
import { hvRuleOf } from '../model/hv/rules.js';
import { OK } from '../hw/outcome.js';
import { pathGonePast, pathInDispute, sameHvExitAfterMore, wentThrough, type PathInDispute } from './path-in-dispute.js';
import { poolShortAlternative } from './hv/pool-short.js';
import { wentThroughEntryWrite } from './hv/entry-write.js';
import { classDisputeGroup, disputedRule, fieldDifference, keyDispute, keyRegisterAlternative, outcomeClass, ruleGroup } from './classify.js';
import { pfCodeNames, qualNames, outcomeShape } from './decode.js';
import { INVARIANTS, type InvariantId } from './violation.js';
import { xoReportedViolation } from './xo-report.js';

export interface Finding {
  invariant: InvariantId;
  detail: string;
  /** The signature's detail: the rule in dispute and what the target did, value-free (classify.ts). */
  coarse: string;
  /** The id of the rule the model applied at the step (src/model/rules.ts), or 'none'. */
  rule: string;
  /**
   * Other explanations that fit the same step as well (docs/rules.md "Alternative explanations"):
   * a campaign files the finding under one of them when that one is already on file and the
   * first is not, as syzkaller matches a crash to a known bug by its alternative titles.
   */
  alternates?: readonly Explanation[];
}

/** One explanation of a finding, in signature terms (violation.ts: invariant + coarse detail). */
export interface Explanation {
  invariant: InvariantId;
  coarse: string;
}

function allowedText(allowed: readonly Outcome[]): string {
  return allowed.map(formatOutcome).join(' | ');
}

/** The machine's memory after the step, for telling a stale translation from a broken walk. */
export interface StaleMemory {
  frames: readonly number[];
  view: (frame: number) => Uint8Array | null;
}

/**
 * The flush rule of a translation a required flush removed that explains what the machine did,
 * or null. With the machine's memory at hand and a model that can predict a flushed run's memory
 * effects, both the outcome and the memory must be that run's: a stale translation skips the
 * walk, so a machine whose walk wrote memory a fresh walk would have faulted on (a guest A/D
 * update without EPT write permission: Bochs F7, docs/target-findings.md) broke a walk rule, not
 * a flush, even when its outcome is the one the old translation gave. Without them, the outcome
 * alone decides. classifyOutcome asks only when no rule of the step itself explains the outcome:
 * a PK verdict that is exactly the other key register's (pk.register-by-address, Bochs F3/F5), or
 * PK dropped where an ordinary denial also applies (pk.bit-with-ordinary-denial).
 */
function staleRule(actual: Outcome, spec: SpecStep, memory: StaleMemory | undefined): number | null {
  if (memory !== undefined && spec.flushedMatching !== undefined) return spec.flushedMatching(actual, memory.frames, memory.view);
  for (let i = 0; i < spec.flushed.length; i++) {
    if (sameOutcome(spec.flushed[i], actual)) return spec.flushedRules?.[i] ?? NO_RULE;
  }
  return null;
}

/**
 * Classifies an actual outcome that no allowed candidate matches. The signature detail is the
 * rule the model applied (its group, src/model/rules.ts) against the class of what the target did,
 * plus the differing field groups when both are of one class: so every manifestation of one
 * broken rule shares it, whatever the addresses, levels or values.
 */
export function classifyOutcome(actual: Outcome, spec: SpecStep, op = '', staleMemory?: StaleMemory): Finding {
  // A target that went past the point where the model stopped the access went through it: the
  // dispute is there, and the signature reads as if the target had completed the access there
  // (one defect, one signature however the rest of the access ends).
  const path = pathOrEntryWrite(op, actual, spec, staleMemory);
  const { cand, past } = path;
  const seen: Outcome = past ? wentThrough(cand.outcome) : actual;
  // A PK verdict that is exactly the other key register's, or PK dropped where an ordinary denial
  // also applies, needs no stale translation to explain it.
  const key = keyDispute(cand, seen);
  const onPath = xoReading(actual, spec, op) ?? withPoolShort(withHvWentPast(pathFinding(actual, spec, op, cand, past, seen, key), actual, spec, op, cand, past, key), op, actual, spec);
  const otherPaths = (path.others ?? []).map((o) => findingOn(actual, spec, op, o.cand, o.past));
  const denied = deniedFinding(actual, spec, op, staleMemory);
  const flushRule = staleRule(actual, spec, staleMemory);
  const stale = flushRule === null ? null : staleFinding(flushRule, describe(actual, spec));
  // Several may explain the step: the first of them names it, the others are its alternatives.
  // A PK verdict that is exactly the other key register's, or PK dropped where an ordinary denial
  // also applies, is named first; then the access with the key registers swapped as a whole; then
  // a cached translation the target judged by other rights; then a stale one; then the check the
  // target parted from on the current path. A key-stage dispute on the path (an exemption the
  // target did not apply, say) is named before the swapped registers, which then only fit too.
  const register = otherRegisterFinding(actual, spec, staleMemory);
  if (key !== NO_RULE) return withAlternates([onPath, register, denied, stale, ...otherPaths]);
  return withAlternates([register, denied, stale, onPath, ...otherPaths]);
}

/**
 * pk.register-by-address for the whole access: the target's outcome and memory are exactly those
 * of the access with each page's key judged by the other register (SpecStep.otherKeyRegisterMatching;
 * Bochs F3/F5 read the register of the CPL), whatever path it took; or null.
 */
function otherRegisterFinding(actual: Outcome, spec: SpecStep, memory: StaleMemory | undefined): Finding | null {
  if (memory === undefined || spec.otherKeyRegisterMatching === undefined || !spec.otherKeyRegisterMatching(actual, memory.frames, memory.view)) return null;
  return {
    invariant: INVARIANTS.pfErrorCode,
    detail: `PK verdict differs: the target's ${formatOutcome(actual)} and its memory are the access's with each page's key judged by the other register (pk.register-by-address): ${describe(actual, spec)}`,
    coarse: `${ruleGroup(RULE.pkRegister)} -> PK verdict differs`,
    rule: ruleId(RULE.pkRegister),
  };
}

/**
 * The other explanation of a lost write at a byte the op's candidate does not write, on a step
 * whose outcome the model allows: the target went past the stop of another allowed path (it
 * walked, writing A/D flags, where that path's check stopped the fresh walk, and completed as a
 * cached translation would), or null.
 */
export function pastStopExplanation(actual: Outcome, spec: SpecStep, op: string, lost: Finding): Explanation | null {
  if (!lost.coarse.includes('-> byte the op did not write:')) return null;
  const p = pathGonePast(op, actual, spec.allowed);
  return p === null ? null : explanationOf(findingOn(actual, spec, op, p.cand, p.past));
}

/** The finding against path `cand` (`past`: the target went past its stop). */
function findingOn(actual: Outcome, spec: SpecStep, op: string, cand: Candidate, past: boolean): Finding {
  const seen: Outcome = past ? wentThrough(cand.outcome) : actual;
  return pathFinding(actual, spec, op, cand, past, seen, keyDispute(cand, seen));
}

/**
 * The first finding of `list` (nulls skipped), carrying every other one's explanation as an
 * alternative (each once; its own alternatives after it).
 */
function withAlternates(list: readonly (Finding | null)[]): Finding {
  const found = list.filter((f): f is Finding => f !== null);
  const first = found[0];
  const alts = addAlternates(first, found.slice(1).flatMap((f) => [explanationOf(f), ...(f.alternates ?? [])]));
  return alts.length === 0 ? first : { ...first, alternates: alts };
}

/**
 * `f`'s alternatives followed by those of `more` it lacks, each once and never `f`'s own
 * explanation, capped at ALTERNATES_KEPT.
 */
export function addAlternates<E extends { invariant: string; coarse: string }>(f: { invariant: string; coarse: string; alternates?: readonly E[] }, more: readonly E[]): E[] {
  const out: E[] = [];
  for (const e of [...(f.alternates ?? []), ...more]) {
    if ((e.invariant !== f.invariant || e.coarse !== f.coarse) && !out.some((x) => x.invariant === e.invariant && x.coarse === e.coarse)) out.push(e);
  }
  return out.slice(0, ALTERNATES_KEPT);
}

/** Alternatives a finding keeps (the first ones, in the order `withAlternates` gives): hub messages take up to 16. */
export const ALTERNATES_KEPT = 8;

/**
 * The finding against a cached translation whose guest rights deny the access now, which a path
 * served as if they allowed it and which gives exactly what the target did, outcome and memory
 * (SpecStep.deniedMatching), or null: the check the target judged otherwise (for a key, the
 * register the target read: pk.register-by-address when the other one allows).
 */
function deniedFinding(actual: Outcome, spec: SpecStep, op: string, memory: StaleMemory | undefined): Finding | null {
  if (memory === undefined || spec.deniedMatching === undefined) return null;
  const c = spec.deniedMatching(actual, memory.frames, memory.view);
  // The target went through that mapping's fault as if it allowed the access.
  return c === null ? null : findingOn(actual, spec, op, c, true);
}

/**
 * An outcome the model allows whose memory effects are not the candidate's: a cached translation
 * the target judged by other rights, or one a required flush removed, may explain them (both skip
 * the fresh walk's A/D updates); null when neither does.
 */
export function memoryOnlyFinding(actual: Outcome, spec: SpecStep, op: string, memory: StaleMemory): Finding | null {
  const register = otherRegisterFinding(actual, spec, memory);
  const denied = deniedFinding(actual, spec, op, memory);
  const flushRule = spec.flushedMatching?.(actual, memory.frames, memory.view) ?? null;
  const stale = flushRule === null ? null : staleFinding(flushRule, `the machine's ${formatOutcome(actual)} left memory as only a translation that flush removed would (no A/D updates of a fresh walk)`);
  return register === null && denied === null && stale === null ? null : withAlternates([register, denied, stale]);
}

/**
 * The path in dispute (path-in-dispute.ts), but first, in hv mode, a model stop at a guest A/D
 * update whose write the target's memory shows it made: it went past that stop (hv/entry-write.ts).
 */
function pathOrEntryWrite(op: string, actual: Outcome, spec: SpecStep, memory: StaleMemory | undefined): PathInDispute {
  const through = wentThroughEntryWrite(actual, spec.allowed, memory);
  return through !== null ? { cand: through, past: true } : pathInDispute(op, actual, spec.allowed);
}

/**
 * `f` with the went-past reading of a hv exit the target reached at the model's address through
 * more exits than the model's (path-in-dispute.ts `sameHvExitAfterMore`) among its alternatives.
 */
function withHvWentPast(f: Finding, actual: Outcome, spec: SpecStep, op: string, cand: Candidate, past: boolean, key: number): Finding {
  if (past || !sameHvExitAfterMore(actual, cand.outcome)) return f;
  const went = pathFinding(actual, spec, op, cand, true, wentThrough(cand.outcome), key);
  return { ...f, alternates: [...(f.alternates ?? []), explanationOf(went)] };
}

/**
 * A call that succeeded where the model required -ENOMEM for want of pool frames (hv/pool-short.ts)
 * is filed under the pool count its transition shows, `f` (the return value in dispute) being the
 * alternative: the target's transition took fewer frames than the model's, which with a fuller
 * pool is the hv.pool-count finding of the same op (one defect, whatever the pool held).
 */
function withPoolShort(f: Finding, op: string, actual: Outcome, spec: SpecStep): Finding {
  const pool = poolShortAlternative(op, actual, spec);
  if (pool === null) return f;
  return {
    invariant: pool.invariant, coarse: pool.coarse, rule: f.rule,
    detail: `the call succeeded where the pool held too few frames for the model's transition: the target's took fewer frames than the model's; ${f.detail}`,
    alternates: [explanationOf(f), ...(f.alternates ?? [])],
  };
}

/**
 * Under kvmXo, a target #PF that is exactly the report step 7 makes of an EPT violation at the
 * GPA where an allowed path stopped with an EPT exit step 7 left an exit (xo-report.ts): the
 * finding against that violation, with the finding the #PF gets as a #PF as its alternative (a
 * target whose rights check is wrong there gives the same #PF). Else null.
 */
function xoReading(actual: Outcome, spec: SpecStep, op: string): Finding | null {
  const exit = xoReportedViolation(actual, spec.allowed);
  if (exit === null) return null;
  const asPf = pathInDispute(op, actual, spec.allowed);
  const pfSeen: Outcome = asPf.past ? wentThrough(asPf.cand.outcome) : actual;
  const asRights = pathFinding(actual, spec, op, asPf.cand, asPf.past, pfSeen, keyDispute(asPf.cand, pfSeen));
  // A dispute at the key stage stays there: the PK bit is part of the #PF the target gave.
  if (keyDispute(asPf.cand, pfSeen) !== NO_RULE) return asRights;
  const { cand, past } = pathInDispute(op, exit, spec.allowed);
  const seen: Outcome = past ? wentThrough(cand.outcome) : exit;
  const f = pathFinding(exit, spec, op, cand, past, seen, keyDispute(cand, seen));
  const reported = `the #PF (${formatOutcome(actual)}) is kvmXo's report of an EPT violation at gpa ${hex(exit.kind === 'exit' ? exit.gpa : 0)} (docs/semantics.md step 7)`;
  // The detail quotes what the target did, not the violation it is read as (whose rights bits are unknown).
  const detail = `${reported}; ${f.detail.replace(describe(exit, spec), describe(actual, spec))}`;
  return { ...f, detail, alternates: [explanationOf(asRights), ...(asRights.alternates ?? [])] };
}

function describe(actual: Outcome, spec: SpecStep): string {
  return `machine ${formatOutcome(actual)}; spec allows ${allowedText(spec.allowed.map((c) => c.outcome))}`;
}

/** tlb.stale-after-flush: the flush `flushRule` removed a translation that explains what the target did. */
export function staleFinding(flushRule: number, said: string): Finding {
  return {
    invariant: INVARIANTS.staleAfterFlush,
    detail: `stale translation used after a required flush${flushRule !== NO_RULE ? ` (${ruleId(flushRule)})` : ''}: ${said}`,
    coarse: `flushed by ${ruleGroup(flushRule)}`,
    rule: ruleId(flushRule),
  };
}

/** A finding's own explanation, as an alternative of another. */
export function explanationOf(f: Finding): Explanation {
  return { invariant: f.invariant, coarse: f.coarse };
}

/** The finding against the path in dispute (`cand`, `past`: path-in-dispute.ts; `seen`: the target's outcome as read there). */
function pathFinding(actual: Outcome, spec: SpecStep, op: string, cand: Candidate, past: boolean, seen: Outcome, key: number): Finding {
  const said = describe(actual, spec);
  const expected = cand.outcome;
  const rule = disputedRule(op, cand, seen);
  // A dispute at the key stage is about the PK verdict, whatever the target did after it.
  const atKeys = key !== NO_RULE;
  const aCls = atKeys ? 'PK verdict differs' : outcomeClass(op, seen);
  const eCls = outcomeClass(op, expected);
  const group = atKeys || aCls === eCls ? ruleGroup(rule) : classDisputeGroup(rule);
  const fields = !atKeys && aCls === eCls ? fieldDifference(seen, expected) : '';
  const coarse = `${group} -> ${aCls}${fields !== '' ? ` (${fields} differ)` : ''}`;
  const went = past ? ' (the target went past the point the model stopped at)' : '';
  const why = `model applied ${ruleId(rule)}${atKeys ? ` (PK ${seen.kind === 'pf' && (seen.code & PF_PK) !== 0 ? 'set by the target only' : 'set by the model only'})` : ''}${went}`;
  // The PK bit is part of the #PF error code: a key-stage dispute is filed there, whatever else differs.
  if (atKeys) {
    // A key exemption the target did not apply, where the other register denies as the target
    // did: the other register's verdict fits as well (classify.ts keyRegisterAlternative).
    const other = keyRegisterAlternative(cand, seen);
    const alternates = other === NO_RULE ? undefined : [{ invariant: INVARIANTS.pfErrorCode, coarse: `${ruleGroup(other)} -> PK verdict differs` }];
    return { invariant: INVARIANTS.pfErrorCode, detail: `PK verdict differs; ${why}: ${said}`, coarse, rule: ruleId(rule), ...(alternates !== undefined ? { alternates } : {}) };
  }
  if (seen.kind === 'pf' && expected.kind === 'pf') {
    const diff = (seen.code ^ expected.code) >>> 0;
    const what = diff !== 0 ? `error code bits differ: ${pfCodeNames(diff)}` : 'cr2 differs';
    return { invariant: INVARIANTS.pfErrorCode, detail: `#PF ${what} (${pfCodeNames(seen.code)} vs ${pfCodeNames(expected.code)}); ${why}: ${said}`, coarse, rule: ruleId(rule) };
  }
  if (!past && actual.kind === 'exit' && expected.kind === 'exit' && actual.reason === expected.reason
      && (actual.reason === EXIT_EPT_VIOLATION || actual.reason === EXIT_SPP)) {
    const diff = (actual.qual ^ expected.qual) >>> 0;
    let what: string;
    if (diff !== 0) what = `exit ${actual.reason} qualification bits differ: ${qualNames(actual.reason, diff)} (machine ${qualNames(actual.reason, actual.qual)}, model ${qualNames(actual.reason, expected.qual)})`;
    else if (actual.gpa !== expected.gpa) what = `exit ${actual.reason} gpa differs`;
    else what = `exit ${actual.reason} gla differs`;
    return { invariant: INVARIANTS.eptQualification, detail: `${what}; ${why}: ${said}`, coarse, rule: ruleId(rule) };
  }
  if (actual.kind === 'page' && expected.kind === 'page') {
    return { invariant: INVARIANTS.exitReason, detail: `page state differs: ${pageDiff(actual.page, expected.page).join(', ')}; ${why}: ${said}`, coarse, rule: ruleId(rule) };
  }
  const a = outcomeShape(actual);
  const e = outcomeShape(expected);
  const what = a !== e ? `${a} instead of ${e}` : `${a} fields differ`;
  // hv: the target's access ended as the model's did but without some of the model's exits: it
  // went past the first exit it skipped, as a target does whose access completes where the model's
  // stops at that exit, and is filed so (`G -> completes`), the exits being the fields that differ.
  const skipped = skippedExit(actual, expected);
  if (skipped >= 0) {
    return { invariant: INVARIANTS.exitReason, detail: `${what} (the target went past the model's exit ${skipped}); ${why}: ${said}`, coarse: `${classDisputeGroup(rule)} -> ${aCls}`, rule: ruleId(rule) };
  }
  return { invariant: INVARIANTS.exitReason, detail: `${what}; ${why}: ${said}`, coarse, rule: ruleId(rule) };
}

const NO_EXITS: readonly number[] = [];

/**
 * The first exit of the model's handled access that the target's access, which came to the same
 * end, did not take, when the target's exits are the model's with some left out (a proper
 * subsequence, none at all included); else -1.
 */
function skippedExit(actual: Outcome, expected: Outcome): number {
  if (expected.kind !== 'handled') return -1;
  const then = actual.kind === 'handled' ? actual.then : actual;
  if (!sameOutcome(then, expected.then)) return -1;
  const a = actual.kind === 'handled' ? actual.exits : NO_EXITS;
  const e = expected.exits;
  if (a.length >= e.length) return -1;
  let first = -1;
  let i = 0;
  for (let k = 0; k < e.length; k++) {
    if (i < a.length && a[i] === e[k]) i++;
    else if (first < 0) first = e[k];
  }
  return i === a.length ? first : -1;
}

/** Reads frame bytes from either side. */
export interface FrameSource {
  frameBytes(frame: number): Uint8Array | null;
  /**
   * Optional zero-copy variant: the frame's live bytes, which the caller only reads and drops
   * before the next op. Frame copies dominate the checker's cost (two 4 KiB copies per touched
   * frame per op), so a side that offers this makes mem.no-lost-write nearly free.
   */
  frameView?(frame: number): Uint8Array | null;
}

function bytesOf(side: FrameSource, frame: number): Uint8Array | null {
  return side.frameView !== undefined ? side.frameView(frame) : side.frameBytes(frame);
}

const FRAME_BYTES = 4096;
const ZERO_FRAME = new Uint8Array(FRAME_BYTES);

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Equal bytes. Buffer.compare takes plain Uint8Arrays and is a native memcmp: no wrapper allocated. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || Buffer.compare(a, b) === 0;
}

const hex = (n: number): string => '0x' + n.toString(16);

/**
 * Bit positions whose lone difference in an aligned qword is almost surely an accessed/dirty flag:
 * guest A (5) and D (6), EPT A (8) and D (9). Told apart from data so that a missed A/D update and
 * a lost data byte get different signatures.
 */
const FLAG_BITS: ReadonlySet<number> = new Set([5, 6, 8, 9]);

function qwordAt(bytes: Uint8Array, offset: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
  return v;
}

/** Value-free description of how two frames differ at their first differing qword. */
export function coarseFrameDifference(m: Uint8Array, s: Uint8Array, at: number): string {
  const q = at - (at % 8);
  const mv = qwordAt(m, q);
  const diff = mv ^ qwordAt(s, q);
  if (diff !== 0n && (diff & (diff - 1n)) === 0n) {
    const bit = diff.toString(2).length - 1;
    if (FLAG_BITS.has(bit)) return `flag bit ${bit} differs (machine ${(mv & diff) !== 0n ? 'set' : 'clear'})`;
  }
  return 'data bytes differ';
}

/**
 * What the model's committed candidate of the op did at a byte (for a lost write's signature):
 * 'data' (a data byte of the access), 'entry' (a paging-structure entry it updated: A/D, a path
 * op's entry), or null (the model wrote nothing there at this op).
 */
export type WriteKind = 'data' | 'entry' | null;

/** Optional on a model candidate: what it writes at `hpa` (AccessCandidate answers exactly). */
export interface WriteDescriber {
  wroteAt(hpa: number): WriteKind;
}

/** mem.no-lost-write on one frame, or null when its bytes agree. */
export function checkFrame(machine: FrameSource, model: FrameSource, frame: number, op: string | null = null, candidate: Candidate | null = null): Finding | null {
  const m = bytesOf(machine, frame) ?? ZERO_FRAME;
  const s = bytesOf(model, frame) ?? ZERO_FRAME;
  if (sameBytes(m, s)) return null;
  return lostWrite(frame, m, s, op, candidate);
}

/** mem.no-lost-write over `frames`: the first frame whose bytes differ, or null. */
export function checkFrames(machine: FrameSource, model: FrameSource, frames: Iterable<number>): Finding | null {
  if (Array.isArray(frames)) {
    for (let i = 0; i < frames.length; i++) {
      const f = checkFrame(machine, model, frames[i] as number);
      if (f !== null) return f;
    }
    return null;
  }
  for (const frame of frames) {
    const f = checkFrame(machine, model, frame);
    if (f !== null) return f;
  }
  return null;
}

/**
 * The rule that writes the differing byte (a lost write is about that rule, not about the checks the
 * op passed): data of a guest write (step 8) or of phys_write, guest A/D (bits 5, 6), EPT A/D (bits
 * 8, 9), a path op's entry; for a byte the op did not write, the rule that would write such a byte.
 */
function memoryRule(op: string | null, kind: WriteKind, bits: string): number {
  if (op === null) return NO_RULE;
  const flag = bits.startsWith('flag bit ') ? Number(bits.slice(9, 10)) : -1;
  if (flag === 5 || flag === 6) return RULE.guestAD;
  if (flag === 8 || flag === 9) return RULE.eptAD;
  if (kind === 'entry') return op === 'ept_set' || op === 'gpt_set' || op === 'sppt_set' ? RULE.pathSet : RULE.guestAD;
  if (op === 'write') return RULE.accessWrite;
  if (op === 'read') return RULE.accessRead;
  if (op === 'fetch') return RULE.accessFetch;
  if (op === 'phys_write') return RULE.physOk;
  if (op === 'ept_set' || op === 'gpt_set' || op === 'sppt_set') return RULE.pathSet;
  return hvRuleOf(op, OK);
}

/** What the op's model candidate wrote at `hpa` (null: nothing, or no context). */
function writeKindAt(op: string, c: Candidate & Partial<WriteDescriber>, hpa: number): WriteKind {
  if (typeof c.wroteAt === 'function') return c.wroteAt(hpa);
  if (!c.frames.includes(Math.floor(hpa / FRAME_BYTES))) return null;
  return op === 'ept_set' || op === 'gpt_set' || op === 'sppt_set' ? 'entry' : 'data';
}

const DATA_BYTE = 'data byte the op wrote';

/** Whether a lost-write finding is at a data byte the op wrote (runner.ts prefers it over an A/D flag of another frame). */
export function isDataLoss(f: Finding): boolean {
  return f.invariant === INVARIANTS.noLostWrite && f.coarse.includes(`-> ${DATA_BYTE}:`);
}

function lostWrite(frame: number, m: Uint8Array, s: Uint8Array, op: string | null, candidate: Candidate | null): Finding {
  let at = firstDifference(m, s);
  // A differing data byte of the op names the loss better than an A/D bit before it in the frame.
  if (op !== null && candidate !== null && writeKindAt(op, candidate, frame * FRAME_BYTES + at) !== 'data') {
    for (let i = at + 1; i < FRAME_BYTES; i++) {
      if (m[i] !== s[i] && writeKindAt(op, candidate, frame * FRAME_BYTES + i) === 'data') { at = i; break; }
    }
  }
  const hpa = frame * FRAME_BYTES + at;
  const context = op === null || candidate === null ? null : candidate;
  const kind = op === null || candidate === null ? null : writeKindAt(op, candidate, hpa);
  // A byte the model wrote as data is data, whatever its bits; elsewhere a lone A/D bit is a flag.
  const bits = kind === 'data' ? 'data bytes differ' : coarseFrameDifference(m, s, at);
  const where = kind === 'data' ? DATA_BYTE : kind === 'entry' ? 'entry the op updated' : context === null ? 'frame' : 'byte the op did not write';
  const rule = memoryRule(op, kind, bits);
  return {
    invariant: INVARIANTS.noLostWrite,
    detail: `frame ${hex(frame)} differs at hpa ${hex(hpa)}: machine ${hex(m[at] ?? 0)}, model ${hex(s[at] ?? 0)} (${where}${rule !== NO_RULE ? `; ${ruleId(rule)}` : ''})`,
    coarse: `${context === null ? 'sweep' : ruleGroup(rule)} -> ${where}: ${bits}`,
    rule: ruleId(rule),
  };
}
