/**
 * The Bochs target's profile: Bochs 2.7 (`cpu: model=tigerlake`) driven by the guest agent
 * (agent/PROTOCOL.md). Contract: every number here is one the agent relies on; the capabilities
 * are the ones Bochs reports in its VMX capability MSRs and CPUID (measured by the agent's `H`
 * line, docs/targets.md), and the reserved ranges are where the agent and its guest stub live.
 */
import { normalizeConfig } from '../../hw/config.js';
import { CR0_PG, CR4_PAE, CR4_PGE, CR4_PKE, CR4_PKS, CR4_PSE, CR4_SMAP, CR4_SMEP } from '../../hw/bits.js';
import type { TargetProfile } from '../profile.js';

/** Trace RAM ends where the agent begins: host frames [0, 0xF000). */
export const BOCHS_FRAMES = 0xf000;
export const AGENT_BASE = BOCHS_FRAMES * 0x1000;
export const AGENT_END = 0x1000_0000;
/** Bochs's physical address width (CPUID 0x80000008 EAX[7:0] as the agent reads it). */
export const BOCHS_MAXPHYADDR = 40;

/**
 * The guest stub: one code frame and its guest and EPT tables, in trace RAM just below the agent,
 * written by the trace prologue (lower.ts) so the reference model sees every byte the stub's
 * fetches read or set.
 */
export const STUB_HPA = 0x0eff_0000;
export const STUB_FRAMES = 8;
/** Guest-physical base of the stub frames: EPT PML4 slot 1 (GPA bit 39). */
export const STUB_GPA = 0x80_0000_0000;
/** Guest-linear stub pages: guest PML4 slot 511 (48-bit form), supervisor and user. */
export const STUB_LA_SUP = 0xff80_0000_0000;
export const STUB_LA_USER = 0xff80_0000_1000;

export const BOCHS_PROFILE: TargetProfile = {
  name: 'bochs',
  description: 'Bochs 2.7 (tigerlake: EPT, XO, A/D, 1G, SPP, VPID, PKU, SMEP, SMAP) through the guest agent',
  config: normalizeConfig({
    maxPhyAddr: BOCHS_MAXPHYADDR,
    vcpus: 1,
    framesMax: BOCHS_FRAMES,
    caps: { mbec: false, pks: false, advExitInfo: false },
    // Freedoms the SDM gives a real CPU and the built-in machine does not take (docs/semantics.md):
    // a cached entry that denies may fault once (SDM 3A 4.10.4.3); a walk that faults may have set
    // the accessed flags of the entries it used (SDM 3A 4.8).
    choices: { staleDenial: 'sdm', guestAccessedOnFault: 'sdm', adUpdateMapping: 'sdm', eptAccessedOnFault: 'sdm' },
  }),
  accessSizes: [1, 2, 4, 8],
  unsupportedOps: [],
  cr0MustSet: CR0_PG,
  cr4MaySet: CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP | CR4_SMAP | CR4_PKE | CR4_PKS,
  reserved: {
    hpa: [
      { start: 0xa_0000, end: 0x10_0000, why: 'VGA memory and BIOS ROM' },
      { start: STUB_HPA, end: STUB_HPA + STUB_FRAMES * 0x1000, why: 'the guest stub and its tables' },
      { start: AGENT_BASE, end: AGENT_END, why: 'the guest agent' },
      { start: 0xc000_0000, end: 0x1_0000_0000, why: 'PCI, APIC and BIOS windows' },
    ],
    gpa: [{ start: STUB_GPA, end: 2 * STUB_GPA, why: 'EPT PML4 slot 1 maps the guest stub' }],
    la: [{ start: STUB_LA_SUP, end: 2 ** 48, why: 'guest PML4 slot 511 maps the guest stub' }],
  },
};
