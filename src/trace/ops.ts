/**
 * The ops of a trace: plain data, the ground truth of every replay.
 * Contract: `OP_SCHEMAS` is the single description of every op and its fields; the decoders
 * validate against it, the docs are checked against it, the generator builds from it. Addresses
 * are JavaScript numbers (at most 52 bits, exact in a double); raw 64-bit values are bigint.
 * Levels count from the leaf: 1 = PTE / EPT PTE / SPPT L1E, 2 = PDE, 3 = PDPTE, 4 = PML4E.
 */

export type Reg = 'cr0' | 'cr3' | 'cr4' | 'efer' | 'rflags' | 'cpl' | 'pkru' | 'pkrs';
export const REGS: readonly Reg[] = ['cr0', 'cr3', 'cr4', 'efer', 'rflags', 'cpl', 'pkru', 'pkrs'];

/** A guest data read of `size` bytes (1..8) at linear address `la` (any alignment). */
export interface ReadOp { op: 'read'; cpu: number; la: number; size: number }
/** A guest data write; `value`'s low `size` bytes are stored little-endian. */
export interface WriteOp { op: 'write'; cpu: number; la: number; size: number; value: bigint }
/** A guest instruction fetch of `size` bytes (1..15): every byte must be executable. */
export interface FetchOp { op: 'fetch'; cpu: number; la: number; size: number }
/**
 * MOV to CR0/CR3/CR4, WRMSR to EFER / IA32_PKRS, WRPKRU, a change of CPL or of RFLAGS
 * (only AC is kept). Invalid values give #GP and change nothing; TLB side effects follow the SDM.
 */
export interface SetRegOp { op: 'set_reg'; cpu: number; reg: Reg; value: bigint }
/** INVLPG in the guest. */
export interface InvlpgOp { op: 'invlpg'; cpu: number; la: number }
/** INVVPID on logical processor `cpu`; type 0 individual address, 1 single context, 2 all contexts, 3 single context retaining globals. */
export interface InvvpidOp { op: 'invvpid'; cpu: number; type: number; vpid: number; la: bigint }
/** INVEPT on logical processor `cpu`; type 1 single context (descriptor EPTP), 2 all contexts. */
export interface InveptOp { op: 'invept'; cpu: number; type: number; eptp: bigint }
/** VMWRITE of the EPT pointer, checked as the next VM entry would check it (failure: VM-instruction error 7, no change). */
export interface SetEptpOp { op: 'set_eptp'; cpu: number; value: bigint }
/** VMWRITE of the SPP table pointer (field 0x2030), checked as at VM entry. */
export interface SetSpptpOp { op: 'set_spptp'; cpu: number; value: bigint }
/** VMWRITE of the secondary processor-based controls; only bits 22 (MBEC) and 23 (SPP) may vary. */
export interface SetCtls2Op { op: 'set_ctls2'; cpu: number; value: number }
/** A host-physical write by the hypervisor (no TLB effect): any table entry can be written this way. */
export interface PhysWriteOp { op: 'phys_write'; hpa: number; size: number; value: bigint }
/** A host-physical read by the hypervisor; the outcome carries the value. */
export interface PhysReadOp { op: 'phys_read'; hpa: number; size: number }
/**
 * Writes the raw EPT entry at `level` on the path of `gpa`, starting from `cpu`'s EPTP.
 * Every entry above `level` must already be a present non-leaf entry, else the outcome is `noent`.
 */
export interface EptSetOp { op: 'ept_set'; cpu: number; gpa: number; level: number; entry: bigint }
/**
 * Writes the raw guest paging entry at `level` on the path of `la`, starting from `cpu`'s CR3.
 * Table addresses are GPAs resolved through EPT without permission checks, A/D updates or TLBs;
 * a missing upper table or an untranslatable GPA gives `noent`.
 */
export interface GptSetOp { op: 'gpt_set'; cpu: number; la: number; level: number; entry: bigint }
/** Writes the raw SPPT entry at `level` on the path of `gpa`, starting from `cpu`'s SPPTP. */
export interface SpptSetOp { op: 'sppt_set'; cpu: number; gpa: number; level: number; entry: bigint }

export type HwOp =
  | ReadOp | WriteOp | FetchOp | SetRegOp | InvlpgOp | InvvpidOp | InveptOp
  | SetEptpOp | SetSpptpOp | SetCtls2Op | PhysWriteOp | PhysReadOp | EptSetOp | GptSetOp | SpptSetOp;

export type Op = HwOp;
export type OpName = Op['op'];

/** Field kinds: how a field is validated and printed. */
export type FieldKind =
  | { kind: 'int'; min: number; max: number } //  small integer, printed in decimal
  | { kind: 'addr'; max: number } //              address (number), printed in hex
  | { kind: 'u64' } //                            raw 64-bit value (bigint), printed in hex
  | { kind: 'u32' } //                            32-bit value (number), printed in hex
  | { kind: 'enum'; values: readonly string[] };

export interface OpSchema {
  name: OpName;
  /** Field order is the canonical order in every form. */
  fields: ReadonlyArray<{ name: string; type: FieldKind; doc: string }>;
  doc: string;
}

const CPU = { name: 'cpu', type: { kind: 'int', min: 0, max: 7 } as FieldKind, doc: 'vCPU / logical processor index' };
const LA = { name: 'la', type: { kind: 'addr', max: 2 ** 48 - 1 } as FieldKind, doc: 'guest linear address, bits 47:0 (bits 63:48 are the sign extension of bit 47)' };
const GPA = { name: 'gpa', type: { kind: 'addr', max: 2 ** 52 - 1 } as FieldKind, doc: 'guest-physical address' };
const HPA = { name: 'hpa', type: { kind: 'addr', max: 2 ** 52 - 1 } as FieldKind, doc: 'host-physical address' };
const LEVEL = { name: 'level', type: { kind: 'int', min: 1, max: 4 } as FieldKind, doc: '1 = PTE .. 4 = PML4E' };
const DATA_SIZE = { name: 'size', type: { kind: 'int', min: 1, max: 8 } as FieldKind, doc: 'bytes: 1..8, any alignment' };

export const OP_SCHEMAS: readonly OpSchema[] = [
  { name: 'read', fields: [CPU, LA, DATA_SIZE], doc: 'guest data read' },
  { name: 'write', fields: [CPU, LA, DATA_SIZE, { name: 'value', type: { kind: 'u64' }, doc: 'little-endian data' }], doc: 'guest data write' },
  { name: 'fetch', fields: [CPU, LA, { name: 'size', type: { kind: 'int', min: 1, max: 15 }, doc: 'instruction length in bytes' }], doc: 'guest instruction fetch' },
  { name: 'set_reg', fields: [CPU, { name: 'reg', type: { kind: 'enum', values: REGS }, doc: 'register' }, { name: 'value', type: { kind: 'u64' }, doc: 'new value' }], doc: 'register write (MOV CR, WRMSR, WRPKRU, CPL, RFLAGS.AC)' },
  { name: 'invlpg', fields: [CPU, LA], doc: 'INVLPG' },
  { name: 'invvpid', fields: [CPU, { name: 'type', type: { kind: 'int', min: 0, max: 15 }, doc: 'INVVPID type' }, { name: 'vpid', type: { kind: 'int', min: 0, max: 0xffff }, doc: 'VPID' }, { name: 'la', type: { kind: 'u64' }, doc: 'descriptor linear address (full 64 bits: may be non-canonical)' }], doc: 'INVVPID' },
  { name: 'invept', fields: [CPU, { name: 'type', type: { kind: 'int', min: 0, max: 15 }, doc: 'INVEPT type' }, { name: 'eptp', type: { kind: 'u64' }, doc: 'descriptor EPTP' }], doc: 'INVEPT' },
  { name: 'set_eptp', fields: [CPU, { name: 'value', type: { kind: 'u64' }, doc: 'EPT pointer' }], doc: 'VMWRITE EPTP' },
  { name: 'set_spptp', fields: [CPU, { name: 'value', type: { kind: 'u64' }, doc: 'SPPT pointer' }], doc: 'VMWRITE SPPTP' },
  { name: 'set_ctls2', fields: [CPU, { name: 'value', type: { kind: 'u32' }, doc: 'secondary controls' }], doc: 'VMWRITE secondary processor-based controls' },
  { name: 'phys_write', fields: [HPA, DATA_SIZE, { name: 'value', type: { kind: 'u64' }, doc: 'little-endian data' }], doc: 'host-physical write' },
  { name: 'phys_read', fields: [HPA, DATA_SIZE], doc: 'host-physical read' },
  { name: 'ept_set', fields: [CPU, GPA, LEVEL, { name: 'entry', type: { kind: 'u64' }, doc: 'raw EPT entry' }], doc: 'set an EPT entry on the path of gpa' },
  { name: 'gpt_set', fields: [CPU, LA, LEVEL, { name: 'entry', type: { kind: 'u64' }, doc: 'raw guest paging entry' }], doc: 'set a guest paging entry on the path of la' },
  { name: 'sppt_set', fields: [CPU, GPA, LEVEL, { name: 'entry', type: { kind: 'u64' }, doc: 'raw SPPT entry' }], doc: 'set an SPPT entry on the path of gpa' },
];

export const OP_SCHEMA_BY_NAME: ReadonlyMap<string, OpSchema> = new Map(OP_SCHEMAS.map((s) => [s.name, s]));
