/**
 * Direct mode's harness frames (agent/PROTOCOL.md "Direct mode"): the stub's code frame, the
 * guest tables that map guest PML4 slot 511 (the stub's pages and the agent's code, IDT, GDT,
 * data and stack pages), and an identity EPT for the model.
 * Contract: written by the trace prologue (lower.ts) into the stub frames, so the reference model
 * knows every byte a walk of slot 511 reads; guest-physical = host-physical everywhere (the
 * target has no EPT; the model's identity EPT maps [0, 1 GiB) with one 1 GiB leaf). Accessed and
 * dirty flags are preset: neither the stub's fetches nor the agent's event delivery set any.
 */
import { EPT_A, EPT_D, EPT_MEMTYPE_SHIFT, EPT_MEMTYPE_WB, EPT_PS, EPT_RWX, EPTP_WALK_SHIFT, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../../hw/bits.js';
import { STUB_HPA } from '../bochs/profile.js';
import { STUB_CODE, stubCodeWords } from '../bochs/stub.js';

const PAGE = 0x1000;
const GUEST_PDPT = 1;
const GUEST_PD = 2;
const GUEST_PT = 3;
const EPT_PML4 = 4;
const EPT_PDPT = 5;

const hpaOf = (k: number): number => STUB_HPA + k * PAGE;

/** The agent frames slot 511 maps at pages 2..7 (agent/direct.h: code, IDT, GDT, data, stack x2). */
export const DIRECT_AGENT_FRAMES: readonly number[] = [0x0f0e0000, 0x0f0e1000, 0x0f0e2000, 0x0f0e3000, 0x0f0e4000, 0x0f0e5000];

/**
 * The protection key of the agent's pages (agent/direct.h DIRECT_PKEY): under CR4.PKS, IA32_PKRS
 * must allow it for the event delivery to work (guard.ts stops a trace before it forbids it).
 */
export const DIRECT_PKEY = 15;

const G_TABLE = PTE_P | PTE_RW | PTE_US | PTE_A;
const G_LEAF_SUP = PTE_P | PTE_RW | PTE_A | PTE_D;

/** The guest PML4 entry (slot 511) every CR3 the guest runs under must hold. */
export const DIRECT_GUEST_PML4E = BigInt(hpaOf(GUEST_PDPT) + G_TABLE);
/** The model's EPTP: the identity EPT, WB, 4-level, no accessed/dirty flags. */
export const DIRECT_EPTP = BigInt(hpaOf(EPT_PML4) + EPT_MEMTYPE_WB + (3 << EPTP_WALK_SHIFT));

/** (hpa, 8-byte value) writes that build the frames below the slot-511 PML4 entry. */
export function directStubWords(): Array<{ hpa: number; value: bigint }> {
  const out = stubCodeWords();
  out.push({ hpa: hpaOf(GUEST_PDPT), value: BigInt(hpaOf(GUEST_PD) + G_TABLE) });
  out.push({ hpa: hpaOf(GUEST_PD), value: BigInt(hpaOf(GUEST_PT) + G_TABLE) });
  out.push({ hpa: hpaOf(GUEST_PT), value: BigInt(hpaOf(STUB_CODE) + G_LEAF_SUP) });
  out.push({ hpa: hpaOf(GUEST_PT) + 8, value: BigInt(hpaOf(STUB_CODE) + (G_LEAF_SUP | PTE_US)) });
  DIRECT_AGENT_FRAMES.forEach((hpa, k) => out.push({ hpa: hpaOf(GUEST_PT) + (2 + k) * 8, value: (BigInt(DIRECT_PKEY) << 59n) | BigInt(hpa + G_LEAF_SUP) }));
  out.push({ hpa: hpaOf(EPT_PML4), value: BigInt(hpaOf(EPT_PDPT) + EPT_RWX + EPT_A) });
  out.push({ hpa: hpaOf(EPT_PDPT), value: BigInt(EPT_RWX | (EPT_MEMTYPE_WB << EPT_MEMTYPE_SHIFT) | EPT_PS | EPT_A | EPT_D) });
  return out;
}
