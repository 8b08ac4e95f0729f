/**
 * The QEMU target's profile: qemu-system-x86_64 7.2 with TCG (`-cpu max`), driven by the guest
 * agent in direct mode (agent/PROTOCOL.md "Direct mode"): TCG has no VMX, so the agent runs each
 * guest op under the trace's own CR3 at the trace's CPL, with the trace's CR0 / CR4 / EFER /
 * PKRU, and catches #PF, #GP and the single-step #DB through an IDT of its own that the harness
 * maps at guest PML4 slot 511. The model judges the trace with an identity EPT (GPA = HPA for
 * RAM) that the lowering installs, so what is tested is QEMU's page walker: #PF error codes, CR2,
 * accessed and dirty flags, NX, SMEP, SMAP, WP, PKU and PKS.
 * Contract: the capabilities are those `-cpu max` reports to the agent's H line
 * (docs/targets.md); VMX-only ops (EPT, SPP, VPID, INVEPT, INVVPID, VMCS writes) are unsupported.
 */
import { normalizeConfig } from '../../hw/config.js';
import { CR0_PG, CR4_PAE, CR4_PGE, CR4_PKE, CR4_PKS, CR4_PSE, CR4_SMAP, CR4_SMEP } from '../../hw/bits.js';
import type { TargetProfile } from '../profile.js';
import { AGENT_BASE, AGENT_END, BOCHS_FRAMES, STUB_FRAMES, STUB_HPA, STUB_LA_SUP } from '../bochs/profile.js';

/** TCG's physical address width with `-cpu max` (CPUID 0x80000008 EAX[7:0]). */
export const QEMU_MAXPHYADDR = 40;

export const QEMU_PROFILE: TargetProfile = {
  name: 'qemu',
  description: 'QEMU 7.2 TCG (-cpu max: PKU, PKS, SMEP, SMAP, NX; no VMX) through the guest agent in direct mode',
  agentMode: 'direct',
  // A boot takes ~0.1 s and a 64-trace batch well under a second; QEMU hangs on some inputs
  // (docs/target-findings.md), so a hung one is given up quickly.
  batchTimeout: { baseMs: 4_000, perOpMs: 0.5 },
  config: normalizeConfig({
    maxPhyAddr: QEMU_MAXPHYADDR,
    vcpus: 1,
    framesMax: BOCHS_FRAMES,
    // No EPT on this target: the lowering's identity EPT has its A/D flags preset and no SPP,
    // MBEC or advanced exit information can show.
    caps: { mbec: false, advExitInfo: false, spp: false, eptAD: false },
    // Freedoms the SDM gives a real CPU (docs/semantics.md): a cached entry that denies may fault
    // once (SDM 3A 4.10.4.3); a walk that faults may have set accessed flags (SDM 3A 4.8).
    choices: { staleDenial: 'sdm', guestAccessedOnFault: 'sdm', adUpdateMapping: 'sdm', eptAccessedOnFault: 'sdm' },
  }),
  // Findings Q3, Q5 (docs/target-findings.md): QEMU hangs on a MOV CR3 / MOV CR4 with reserved
  // bits, which costs a campaign two batch timeouts per occurrence; replay still runs them.
  campaignAvoids: [{
    finding: 'Q3: MOV CR3 with bits at or above MAXPHYADDR hangs QEMU',
    matches: (op, maxPhyAddr) => op.op === 'set_reg' && op.reg === 'cr3' && op.value >> BigInt(maxPhyAddr) !== 0n,
  }, {
    // (a CR4 value below 2^32 is already fitted to the bits the model knows: fit.ts)
    finding: 'Q5: MOV CR4 with a reserved bit of CR4[63:32] hangs QEMU',
    matches: (op) => op.op === 'set_reg' && op.reg === 'cr4' && op.value >> 32n !== 0n,
  }],
  accessSizes: [1, 2, 4, 8],
  unsupportedOps: ['ept_set', 'sppt_set', 'set_eptp', 'set_spptp', 'set_ctls2', 'invept', 'invvpid'],
  cr0MustSet: CR0_PG,
  cr4MaySet: CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP | CR4_SMAP | CR4_PKE | CR4_PKS,
  reserved: {
    hpa: [
      { start: 0xa_0000, end: 0x10_0000, why: 'VGA memory and BIOS ROM' },
      { start: STUB_HPA, end: STUB_HPA + STUB_FRAMES * 0x1000, why: 'the guest stub and its tables' },
      { start: AGENT_BASE, end: AGENT_END, why: 'the guest agent' },
      { start: AGENT_END, end: 2 ** 52, why: 'no RAM above 256 MiB on this target' },
    ],
    gpa: [],
    la: [{ start: STUB_LA_SUP, end: 2 ** 48, why: 'guest PML4 slot 511 maps the agent\'s stub, IDT, GDT and stack' }],
  },
};
