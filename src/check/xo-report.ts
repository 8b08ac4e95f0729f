/**
 * Reading a target's #PF as the kvmXo report of an EPT violation (docs/semantics.md step 7; KVM XO
 * RFC, reference x86-memory-protection.md §5.2): under kvmXo the hypervisor turns an EPT violation
 * whose qualification says final-GPA access (XLAT = 1), of a data access at the XO alias, into a
 * #PF with P | W? | U? and CR2 = the linear address. So a target #PF that is exactly that report,
 * where the model stopped the access with an EPT exit at an XO-alias GPA that step 7 left an exit,
 * is where the target's access stopped: at that GPA, with an EPT violation the hypervisor
 * converted, not at a guest rights check the model passed.
 * Contract: pure; `xoReportedViolation` returns the EPT violation the target's #PF stands for, or
 * null: the model's exit with the least change step 7 converts (XLAT set on its violation; a
 * misconfiguration read as a final-GPA violation of the access, GLA valid and XLAT).
 */
import { EXIT_EPT_MISCONFIG, EXIT_EPT_VIOLATION, PF_W, QUAL_GLA_VALID, QUAL_RD, QUAL_WR, QUAL_XLAT } from '../hw/bits.js';
import { type Outcome, sameOutcome } from '../hw/outcome.js';
import type { Candidate } from '../model/api.js';

/** The EPT violation the target's #PF `actual` reports under kvmXo (see the module comment), or null. */
export function xoReportedViolation(actual: Outcome, allowed: readonly Candidate[]): Outcome | null {
  if (actual.kind !== 'pf') return null;
  for (const c of allowed) {
    const o = c.outcome;
    if (o.kind !== 'exit' || (o.reason !== EXIT_EPT_VIOLATION && o.reason !== EXIT_EPT_MISCONFIG)) continue;
    const report = c.xoReportAt?.(o.gpa) ?? null;
    if (report === null || !sameOutcome(report, actual)) continue;
    if (o.reason === EXIT_EPT_VIOLATION) return { ...o, qual: o.qual | QUAL_XLAT };
    const access = (actual.code & PF_W) !== 0 ? QUAL_WR : QUAL_RD;
    return { kind: 'exit', reason: EXIT_EPT_VIOLATION, qual: access | QUAL_GLA_VALID | QUAL_XLAT, gpa: o.gpa, gla: actual.cr2 };
  }
  return null;
}
