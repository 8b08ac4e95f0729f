/**
 * Reading a target's #PF as the kvmXo report of an EPT violation (docs/semantics.md step 7; KVM XO
 * RFC, reference x86-memory-protection.md §5.2): under kvmXo the hypervisor turns an EPT violation
 * of a data access at the XO alias of the final GPA into a #PF with P | W? | U? and CR2 = the linear
 * address, so that #PF is where the target's access stopped, not a guest rights check.
 * Contract: pure; `xoReportedViolation` returns the EPT violation the target's #PF stands for, or
 * null. It applies only where the model's own path stopped at an EPT exit of that same final GPA
 * (a misconfiguration: step 7 leaves those exits): the model and the target then agree that the
 * guest walk and its rights passed and the final GPA's translation failed, and differ in how.
 */
import { EXIT_EPT_MISCONFIG, EXIT_EPT_VIOLATION, PF_W, QUAL_GLA_VALID, QUAL_RD, QUAL_WR, QUAL_XLAT } from '../hw/bits.js';
import { type Outcome, sameOutcome } from '../hw/outcome.js';
import type { Candidate } from '../model/api.js';

/**
 * The EPT violation the target's #PF `actual` reports under kvmXo: at the final GPA of the part an
 * allowed path stopped at with an EPT exit there, when `actual` is exactly step 7's #PF for that
 * part. Its qualification names the access (read or write) with GLA valid and XLAT (a final-GPA
 * access); the rights bits the target saw are not in the #PF, and are left clear.
 */
export function xoReportedViolation(actual: Outcome, allowed: readonly Candidate[]): Outcome | null {
  if (actual.kind !== 'pf') return null;
  for (const c of allowed) {
    const o = c.outcome;
    if (o.kind !== 'exit' || (o.reason !== EXIT_EPT_VIOLATION && o.reason !== EXIT_EPT_MISCONFIG)) continue;
    if (c.stopPart === undefined || c.finalGpaOf === undefined || c.xoReportAt === undefined) continue;
    const gpa = c.finalGpaOf(c.stopPart);
    if (gpa === null || o.gpa !== gpa) continue;
    const report = c.xoReportAt(c.stopPart);
    if (report === null || !sameOutcome(report, actual)) continue;
    const access = (actual.code & PF_W) !== 0 ? QUAL_WR : QUAL_RD;
    return { kind: 'exit', reason: EXIT_EPT_VIOLATION, qual: access | QUAL_GLA_VALID | QUAL_XLAT, gpa, gla: actual.cr2 };
  }
  return null;
}
