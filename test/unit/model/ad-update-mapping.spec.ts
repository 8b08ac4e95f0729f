/**
 * choices.adUpdateMapping (docs/semantics.md "Guest access" step 4, ref §6.1): under 'fresh'
 * (absent, the built-in machine) a guest A/D update, and every translation after it in the same
 * access, walks EPT from memory; under 'sdm' they may also use a guest-physical mapping cached
 * before the access or filled earlier in it. The fixture is Bochs's D1 trace (docs/target-findings.md):
 * the guest PD is the EPT PDPT frame, so the PDE's A update sets bit 5 (reserved) of an EPT PDPTE
 * and the PTE's A update then meets a misconfiguration on a fresh walk (exit 49 at the PTE's GPA),
 * while through the mapping the walk made when it read the PTE it succeeds and the
 * misconfiguration is met at the final GPA. The choice is optional in trace headers.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXIT_EPT_MISCONFIG, PTE_A } from '../../../src/hw/bits.js';
import { type AdUpdateMapping, type MachineConfig, normalizeConfig, validateConfig } from '../../../src/hw/config.js';
import type { Candidate, SpecStep } from '../../../src/model/api.js';
import { ReferenceModel } from '../../../src/model/model.js';
import { formatText, parseText } from '../../../src/trace/text.js';
import type { Trace } from '../../../src/trace/trace.js';

const FIXTURE = new URL('./fixtures/ad-update-aliased-ept.txt', import.meta.url);
/** The guest PTE's GPA (its A update) and the fetch's final GPA; guest tables sit at HPA = GPA + 0x1000000. */
const PTE_GPA = 0x3230;
const PTE_HPA = 0x1003230;
const FINAL_GPA = 0x4009c6;

function trace(): Trace {
  return parseText(readFileSync(FIXTURE, 'utf8'));
}

function withChoice(c: MachineConfig, adm: AdUpdateMapping | undefined): MachineConfig {
  const choices = { ...c.choices };
  delete choices.adUpdateMapping;
  return { ...c, choices: adm === undefined ? choices : { ...choices, adUpdateMapping: adm } };
}

/** The last op's step after committing the fresh candidate of every op before it. */
function lastStep(adm: AdUpdateMapping | undefined): SpecStep {
  const t = trace();
  const m = new ReferenceModel(withChoice(t.machine, adm));
  for (let i = 0; i < t.ops.length - 1; i++) m.commit(m.step(t.ops[i]).allowed[0]);
  return m.step(t.ops[t.ops.length - 1]);
}

function misconfigAt(c: Candidate): number | null {
  const o = c.outcome;
  return o.kind === 'exit' && o.reason === EXIT_EPT_MISCONFIG ? o.gpa : null;
}

function pteAfter(c: Candidate): number {
  const bytes = (c as Candidate & { frameAfter(f: number): Uint8Array | null }).frameAfter(Math.floor(PTE_HPA / 4096));
  if (bytes === null) throw new Error('the candidate does not write the PTE frame');
  return bytes[PTE_HPA % 4096];
}

describe('choices.adUpdateMapping on an A update after one that rewrote an EPT entry', () => {
  it("'fresh' (absent or explicit) allows only the misconfiguration at the PTE's GPA", () => {
    for (const adm of [undefined, 'fresh'] as const) {
      const s = lastStep(adm);
      expect(s.allowed.map(misconfigAt)).toEqual([PTE_GPA]);
    }
  });

  it("'sdm' also allows the update through the walk's own mapping, and the misconfiguration at the final GPA", () => {
    const s = lastStep('sdm');
    expect(s.allowed.map(misconfigAt)).toEqual([PTE_GPA, FINAL_GPA]);
    // allowed[0] is still the machine's fresh walk; the other relies on a cached mapping
    expect(s.allowed[0].stale).toBe(false);
    expect(s.allowed[1].stale).toBe(true);
    // the PTE's A update happened in the second candidate only
    expect(pteAfter(s.allowed[1]) & PTE_A).toBe(PTE_A);
    expect(pteAfter(s.allowed[0]) & PTE_A).toBe(0);
  });

  it('a header without the choice keeps its bytes; one with it round-trips; a bad value is refused', () => {
    const t = trace();
    expect(formatText(parseText(formatText(t)))).toBe(formatText(t));
    expect(formatText(t)).toContain('"adUpdateMapping":"sdm"');
    const none = { ...t, machine: withChoice(t.machine, undefined) };
    expect(formatText(none)).not.toContain('adUpdateMapping');
    expect(normalizeConfig(none.machine).choices.adUpdateMapping).toBeUndefined();
    const bad = withChoice(t.machine, 'walk' as AdUpdateMapping);
    expect(validateConfig(bad)).toBe("choices.adUpdateMapping must be 'fresh' or 'sdm'");
  });
});
