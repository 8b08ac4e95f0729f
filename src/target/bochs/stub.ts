/**
 * The guest stub: the code frame whose single instructions the agent enters to make the L2 guest
 * perform a trace's access or register write, and the guest and EPT tables that map it.
 * Contract: the byte layout is agent/PROTOCOL.md "Stub page" (the agent enters only those
 * offsets); every entry is written by trace ops (prologue and per-op re-installation, lower.ts),
 * so the reference model knows each byte the stub's fetches read or set. Accessed and dirty flags
 * are preset, so fetching the stub sets none of them in the stub's own tables.
 */
import { EPT_A, EPT_D, EPT_MEMTYPE_SHIFT, EPT_MEMTYPE_WB, EPT_RWX, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../../hw/bits.js';
import { STUB_FRAMES, STUB_GPA, STUB_HPA } from './profile.js';

const PAGE = 0x1000;

/** Frames of the stub (index k is HPA STUB_HPA + k * 4 KiB, GPA STUB_GPA + k * 4 KiB). */
export const STUB_CODE = 0;
const GUEST_PDPT = 1;
const GUEST_PD = 2;
const GUEST_PT = 3;
const EPT_PDPT = 4;
const EPT_PD = 5;
const EPT_PT = 6;
/** A guest PML4 of the harness's own (slot 511 only): the CR3 a guest MOV CR3 runs under. */
const HARNESS_PML4 = 7;

const hpaOf = (k: number): number => STUB_HPA + k * PAGE;
const gpaOf = (k: number): number => STUB_GPA + k * PAGE;

/** Guest non-leaf entry: present, writable, user, accessed (U so the user stub page is user). */
const G_TABLE = PTE_P | PTE_RW | PTE_US | PTE_A;
/** EPT non-leaf entry: RWX, accessed (bits 7:3 are reserved in non-leaf entries). */
const E_TABLE = EPT_RWX | EPT_A;
/** EPT leaf: RWX, WB, accessed and dirty. */
const E_LEAF = EPT_RWX | (EPT_MEMTYPE_WB << EPT_MEMTYPE_SHIFT) | EPT_A | EPT_D;

/** The harness's CR3 (lower.ts: a MOV CR3 runs from the stub under it). */
export const STUB_CR3 = BigInt(gpaOf(HARNESS_PML4));

/** The guest PML4 entry (slot 511) and the EPT PML4 entry (slot 1) the agent's stub needs. */
export const STUB_GUEST_PML4E = BigInt(gpaOf(GUEST_PDPT) + G_TABLE);
export const STUB_EPT_PML4E = BigInt(hpaOf(EPT_PDPT) + E_TABLE);

/** Instruction offsets in the code frame (agent/PROTOCOL.md). */
export const STUB_OFFSETS = {
  nop: 0x00, read: [0x10, 0x20, 0x30, 0x40], write: [0x50, 0x60, 0x70, 0x80],
  invlpg: 0x90, movCr0: 0xa0, movCr3: 0xb0, movCr4: 0xc0, wrmsr: 0xd0,
} as const;

const CODE: ReadonlyArray<readonly [number, readonly number[]]> = [
  [0x00, [0x90]], //                nop: the probe fetch
  [0x10, [0x8a, 0x07]], //          mov al,[rdi]
  [0x20, [0x66, 0x8b, 0x07]], //    mov ax,[rdi]
  [0x30, [0x8b, 0x07]], //          mov eax,[rdi]
  [0x40, [0x48, 0x8b, 0x07]], //    mov rax,[rdi]
  [0x50, [0x88, 0x07]], //          mov [rdi],al
  [0x60, [0x66, 0x89, 0x07]], //    mov [rdi],ax
  [0x70, [0x89, 0x07]], //          mov [rdi],eax
  [0x80, [0x48, 0x89, 0x07]], //    mov [rdi],rax
  [0x90, [0x0f, 0x01, 0x3f]], //    invlpg [rdi]
  [0xa0, [0x0f, 0x22, 0xc0]], //    mov cr0,rax
  [0xb0, [0x0f, 0x22, 0xd8]], //    mov cr3,rax
  [0xc0, [0x0f, 0x22, 0xe0]], //    mov cr4,rax
  [0xd0, [0x0f, 0x30]], //          wrmsr
];

/** The code frame's first 0xe0 bytes (the rest is zero). */
export function stubCode(): Uint8Array {
  const bytes = new Uint8Array(0xe0);
  for (const [off, ins] of CODE) bytes.set(ins, off);
  return bytes;
}

/** The (hpa, 8-byte little-endian value) writes of the code frame's nonzero words. */
export function stubCodeWords(): Array<{ hpa: number; value: bigint }> {
  const out: Array<{ hpa: number; value: bigint }> = [];
  const code = stubCode();
  const view = new DataView(code.buffer);
  for (let off = 0; off < code.length; off += 8) {
    const value = view.getBigUint64(off, true);
    if (value !== 0n) out.push({ hpa: hpaOf(STUB_CODE) + off, value });
  }
  return out;
}

/** (hpa, 8-byte little-endian value) writes that build the stub's frames below its PML4 entries. */
export function stubWords(): Array<{ hpa: number; value: bigint }> {
  const out = stubCodeWords();
  out.push({ hpa: hpaOf(HARNESS_PML4) + 511 * 8, value: BigInt(gpaOf(GUEST_PDPT) + G_TABLE) });
  out.push({ hpa: hpaOf(GUEST_PDPT), value: BigInt(gpaOf(GUEST_PD) + G_TABLE) });
  out.push({ hpa: hpaOf(GUEST_PD), value: BigInt(gpaOf(GUEST_PT) + G_TABLE) });
  // PT[0]: supervisor code page; PT[1]: the same frame as a user page. Leaves are accessed and dirty.
  out.push({ hpa: hpaOf(GUEST_PT), value: BigInt(gpaOf(STUB_CODE) + (PTE_P | PTE_RW | PTE_A | PTE_D)) });
  out.push({ hpa: hpaOf(GUEST_PT) + 8, value: BigInt(gpaOf(STUB_CODE) + (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)) });
  out.push({ hpa: hpaOf(EPT_PDPT), value: BigInt(hpaOf(EPT_PD) + E_TABLE) });
  out.push({ hpa: hpaOf(EPT_PD), value: BigInt(hpaOf(EPT_PT) + E_TABLE) });
  for (const k of [STUB_CODE, GUEST_PDPT, GUEST_PD, GUEST_PT, HARNESS_PML4]) {
    out.push({ hpa: hpaOf(EPT_PT) + k * 8, value: BigInt(hpaOf(k) + E_LEAF) });
  }
  return out;
}

/** Host frames of the stub (always watched). */
export function stubFrames(): number[] {
  const out: number[] = [];
  for (let k = 0; k < STUB_FRAMES; k++) out.push(hpaOf(k) / PAGE);
  return out;
}
