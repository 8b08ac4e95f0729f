/**
 * How far a guest access got before its outcome: the mark that tells which of the model's allowed
 * paths a target's outcome follows, and whether the target stopped before the model's stop or
 * went past it (path-in-dispute.ts).
 * Contract: pure. A mark is part index * STAGES + stage; the stages of one part follow the order
 * the model applies them (src/model/access.ts steps 2-7, from the SDM's order of a linear access,
 * Vol. 3A §4.5 and Vol. 3C §29.3.3): the guest walk's table reads (an EPT exit there, or a #PF
 * not-present or reserved-bit), the rights and key checks (#PF with P = 1), the A/D updates (an
 * EPT exit at a table's GPA after the walk reached a leaf), the final GPA's translation (an EPT
 * exit there), the SPPT walk, its sub-page denial, and the end of the access. null: the outcome's place cannot be told (an exit
 * with no linear address at a GPA no allowed path names, a hv result).
 */
import { EXIT_EPT_MISCONFIG, EXIT_EPT_VIOLATION, EXIT_SPP, PF_P, PF_RSVD, QUAL_GLA_VALID, QUAL_WR, QUAL_XLAT } from '../hw/bits.js';
import type { Outcome } from '../hw/outcome.js';
import type { Candidate } from '../model/api.js';
import { RULE } from '../model/rules.js';

const STAGE_WALK = 1;
const STAGE_RIGHTS = 2;
const STAGE_AD = 3;
const STAGE_FINAL = 4;
const STAGE_SPP = 5;
/** The sub-page verdict after the SPPT walk: an SPP-eligible write's EPT violation. */
const STAGE_SPP_DENY = 6;
const STAGES = 8;
/** A completed access: past every stage of every part. */
const END = 1 << 20;
/** The mark of a completed access (path-in-dispute.ts). */
export const ACCESS_END = END;

const page = (la: number): number => Math.floor(la / 4096);

/**
 * Where an allowed candidate's access stopped, or null when the model does not say. An EPT exit
 * of a part whose walk reached a leaf is at the final GPA or an A/D update; before the leaf, a
 * table read. (The qualification's write bit cannot tell an A/D update from a table read: with
 * EPT A/D on, every guest paging-structure access is a write for EPT, SDM Vol. 3C §29.3.5.)
 */
export function candidateProgress(c: Candidate): number | null {
  if (c.stopPart === undefined || c.finalGpaOf === undefined) return null;
  const o = c.outcome;
  const at = (stage: number): number => c.stopPart! * STAGES + stage;
  switch (o.kind) {
    case 'ok': case 'data': return END;
    // Under kvmXo a final-GPA violation becomes a #PF (src/model/access.ts step 7).
    case 'pf': return c.rule === RULE.xoKvmPf ? at(STAGE_FINAL) : at(pfStage(o.code));
    case 'exit': {
      if (o.reason === EXIT_SPP) return at(STAGE_SPP);
      if (c.rule === RULE.sppDenied) return at(STAGE_SPP_DENY);
      if (o.reason !== EXIT_EPT_VIOLATION && o.reason !== EXIT_EPT_MISCONFIG) return null;
      const finalGpa = c.finalGpaOf(c.stopPart);
      if (finalGpa === null) return at(STAGE_WALK);
      return at(o.gpa === finalGpa ? STAGE_FINAL : STAGE_AD);
    }
    default: return null;
  }
}

/** The part index of mark `m`. */
export function partOfMark(m: number): number {
  return Math.floor(m / STAGES);
}

/** Whether mark `y` is a table read of the part mark `x` is in. */
export function isWalkOfSamePart(y: number, x: number): boolean {
  return y % STAGES === STAGE_WALK && Math.floor(y / STAGES) === Math.floor(x / STAGES);
}

/**
 * An allowed exit at the GPA of the target's exit `actual`: of the same reason first, else an EPT
 * violation or misconfiguration: the same access to the same entry, so at the same stage,
 * whichever exit the entry gives (a violation where a misconfiguration is required).
 */
function exitAtSameGpa(actual: Outcome & { kind: 'exit' }, allowed: readonly Candidate[]): Candidate | null {
  for (const c of allowed) {
    const o = c.outcome;
    if (o.kind === 'exit' && o.gpa === actual.gpa && o.reason === actual.reason) return c;
  }
  if (actual.reason !== EXIT_EPT_VIOLATION && actual.reason !== EXIT_EPT_MISCONFIG) return null;
  for (const c of allowed) {
    const o = c.outcome;
    if (o.kind === 'exit' && o.gpa === actual.gpa && (o.reason === EXIT_EPT_VIOLATION || o.reason === EXIT_EPT_MISCONFIG)) return c;
  }
  return null;
}

/** Whether `gpa` is the final GPA of one of the access's `parts` on an allowed path. */
function isFinalGpa(gpa: number, allowed: readonly Candidate[], parts: number): boolean {
  for (let i = 0; i < parts; i++) for (const c of allowed) if (c.finalGpaOf?.(i) === gpa) return true;
  return false;
}

/** Whether marks `y` and `x` are in the same part of the access. */
export function isSamePart(y: number, x: number): boolean {
  return Math.floor(y / STAGES) === Math.floor(x / STAGES);
}

/** A #PF with P = 1 and no reserved bit comes from the rights and key checks; else from the walk. */
function pfStage(code: number): number {
  return (code & PF_P) !== 0 && (code & PF_RSVD) === 0 ? STAGE_RIGHTS : STAGE_WALK;
}

/**
 * Where the target's outcome `actual` puts its access, read against the step's allowed
 * candidates (which know the parts' linear pages and final GPAs): a #PF by its CR2's part; an
 * exit at a GPA where an allowed path exited, other than a final GPA, at that path's stage; an EPT
 * violation with a linear address by that address's part and its qualification; an exit without
 * one by the part whose final GPA it names; else a table read of its linear address's part.
 */
export function actualProgress(actual: Outcome, allowed: readonly Candidate[]): number | null {
  if (actual.kind === 'ok' || actual.kind === 'data') return END;
  const pages = allowed.find((c) => c.partPages !== undefined)?.partPages;
  if (pages === undefined) return null;
  const partOf = (la: number): number => pages.indexOf(page(la));
  if (actual.kind === 'pf') {
    const i = partOf(actual.cr2);
    return i < 0 ? null : i * STAGES + pfStage(actual.code);
  }
  if (actual.kind !== 'exit') return null;
  // A paging-structure access: where an allowed path exited at the same GPA (the same reason
  // first), when that GPA is no part's final GPA: the GPA names the access whatever bit 8 says
  // (bit 8 may be what the target got wrong).
  const table = isFinalGpa(actual.gpa, allowed, pages.length) ? null : exitAtSameGpa(actual, allowed);
  if (table !== null) return tableProgress(table, actual);
  // SDM Vol. 3C Table 28-7: with a valid linear address, bit 8 set is the final translation.
  if (actual.reason === EXIT_EPT_VIOLATION && (actual.qual & QUAL_GLA_VALID) !== 0 && (actual.qual & QUAL_XLAT) !== 0 && actual.gla !== null) {
    const i = partOf(actual.gla);
    if (i >= 0) return i * STAGES + (sppEligibleAt(allowed, i, actual.gpa) ? STAGE_SPP_DENY : STAGE_FINAL);
  }
  for (let i = 0; i < pages.length; i++) {
    for (const c of allowed) if (c.finalGpaOf?.(i) === actual.gpa) return i * STAGES + (actual.reason === EXIT_SPP ? STAGE_SPP : STAGE_FINAL);
  }
  const later = laterPartAt(allowed, pages.length, actual.gpa);
  if (later !== null) return later * STAGES + STAGE_FINAL;
  // Else a table read of the part its linear address names.
  if (actual.reason === EXIT_EPT_VIOLATION && actual.gla !== null) {
    const i = partOf(actual.gla);
    if (i >= 0) return i * STAGES + STAGE_WALK;
  }
  return null;
}

/**
 * Whether an allowed path took part `i`'s write to the SPPT walk at the page of `gpa` (an SPP exit
 * there, or an SPP write denial): the EPT rights of that page already denied the write, and for
 * such a write the SPPT decides. An EPT violation of the target there carries the qualification of
 * any write to a read-only page (no bit tells an SPP denial apart: ref §2.1, §3.4), so it
 * stands where the SPP write denial does, after the SPPT walk: a target that did not report the
 * SPPT miss or misconfiguration went past it, whether the sub-page then let the write through or
 * denied it (one defect, one signature).
 */
function sppEligibleAt(allowed: readonly Candidate[], i: number, gpa: number): boolean {
  for (const c of allowed) {
    if (c.stopPart !== i) continue;
    const o = c.outcome;
    const spp = (o.kind === 'exit' && o.reason === EXIT_SPP) || c.rule === RULE.sppDenied;
    const finalGpa = c.finalGpaOf?.(i) ?? null;
    if (spp && finalGpa !== null && page(finalGpa) === page(gpa) && gpa >= finalGpa) return true;
  }
  return false;
}

/**
 * The part beyond every allowed path's stop whose first byte a debug walk of memory maps to `gpa`
 * (an exit at the final GPA of a part the model never reached: the target went on to it), or null.
 */
function laterPartAt(allowed: readonly Candidate[], parts: number, gpa: number): number | null {
  let stop = -1;
  for (const c of allowed) stop = Math.max(stop, c.stopPart ?? parts);
  for (let i = stop + 1; i < parts; i++) {
    for (const c of allowed) if (c.debugFinalGpaOf?.(i) === gpa) return i;
  }
  return null;
}

/**
 * The mark of a target's EPT exit at the GPA where allowed path `c` exited at a guest
 * paging-structure access: `c`'s, except that where `c`'s is a table read that reads RD only (so
 * EPT A/D is off) and the target's violation there has WR, the target's is a guest A/D update,
 * after the walk's rights checks (SDM Vol. 3C Table 28-7 bit 1; with EPT A/D on every
 * paging-structure access is a write, §29.3.5, and the model's would have WR too).
 */
function tableProgress(c: Candidate, actual: Outcome & { kind: 'exit' }): number | null {
  const y = candidateProgress(c);
  const o = c.outcome;
  if (y !== null && y % STAGES === STAGE_WALK && o.kind === 'exit' && o.reason === EXIT_EPT_VIOLATION && actual.reason === EXIT_EPT_VIOLATION
      && (o.qual & (QUAL_XLAT | QUAL_WR)) === 0 && (actual.qual & QUAL_XLAT) === 0 && (actual.qual & QUAL_WR) !== 0) return y - STAGE_WALK + STAGE_AD;
  return y;
}
