/**
 * What one op produced, as the guest or the hypervisor observes it.
 * Contract: outcomes are plain data compared with `sameOutcome`; the machine produces exactly
 * one, the reference model a set of allowed ones. Field meanings:
 * - `ok`: the op completed (a write, a fetch, a register or table update).
 * - `data`: a read completed; `value` holds the bytes read, little-endian.
 * - `pf`: the guest took #PF; `code` is the error code, `cr2` the faulting linear address (48 bits).
 * - `exit`: a VM exit (bare mode: the outcome of the access). `reason` 48 EPT violation,
 *   49 EPT misconfiguration, 66 SPP-related event; `qual` the exit qualification (0 for 49, whose
 *   qualification is undefined, reference §2.2); `gpa` the exact faulting guest-physical byte;
 *   `gla` the guest-linear address when the qualification says it is valid, else null.
 * - `gp`: #GP(0) (an invalid register value); nothing changed.
 * - `vmfail`: VMfailValid with a VM-instruction error number; nothing changed.
 * - `noent`: a path op found no table at some level; nothing written.
 * Hypervisor mode (docs/hypervisor.md) adds:
 * - `ret`: the return value of an ioctl or hypercall: >= 0 success (0, a count, a map), -errno
 *   failure (KVM / pKVM), or a Hyper-V status (0 success) for VSM hypercalls.
 * - `handled`: a guest access that went through hardware exits the hypervisor resolved (lazy map,
 *   SPPT build, write-protection or access-tracking fixup) and then completed as `then`
 *   (`ok`, `data` or `pf`); `exits` lists the basic exit reasons taken, in order.
 * - `hv_exit`: a guest access that ended in an exit to user space (or, for `abort`, an abort
 *   injected into the host): `exit` names it, `gpa` the faulting guest-physical address (its page
 *   for memory_fault, as KVM reports it), `size` the bytes of the access that exited in that page
 *   (the access's part there, as KVM_EXIT_MMIO's `len`; 8 for a guest paging-structure access),
 *   `info` its payload (memory_fault: KVM_MEMORY_EXIT_FLAG_* flags; unknown: the hardware exit
 *   reason; intercept: the VTL that set the protection and now receives the intercept), `exits`
 *   as above.
 * - `ud`: #UD (an invalid VTL call or return); nothing changed.
 */
export type HwOutcome =
  | { kind: 'ok' }
  | { kind: 'data'; value: bigint }
  | { kind: 'pf'; code: number; cr2: number }
  | { kind: 'exit'; reason: number; qual: number; gpa: number; gla: number | null }
  | { kind: 'gp' }
  | { kind: 'vmfail'; error: number }
  | { kind: 'noent' };

/** The hypervisor's outcomes (hv mode only). */
export type HvOutcome =
  | { kind: 'ret'; value: number }
  | { kind: 'handled'; exits: readonly number[]; then: HwOutcome }
  | { kind: 'hv_exit'; exit: HvExit; gpa: number; size: number; info: number; exits: readonly number[] }
  | { kind: 'ud' };

/** What one op produces, in either mode (hardware outcomes, and the hypervisor's in hv mode). */
export type Outcome = HwOutcome | HvOutcome;
/** Kept for the hv layer's signatures: the same union as `Outcome`. */
export type AnyOutcome = Outcome;

/**
 * Exits of a guest access to user space: spp = KVM_EXIT_SPP, memory_fault = KVM_EXIT_MEMORY_FAULT,
 * unknown = KVM_EXIT_UNKNOWN (hardware reason in info), mmio = KVM_EXIT_MMIO (no memslot),
 * intercept = a VSM secure intercept, abort = pKVM refused a host access to a page it does not own.
 */
export type HvExit = 'spp' | 'memory_fault' | 'unknown' | 'mmio' | 'intercept' | 'abort';

function sameExits(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export type OutcomeKind = Outcome['kind'];

export const OK: HwOutcome = Object.freeze({ kind: 'ok' });

export function sameOutcome(a: AnyOutcome, b: AnyOutcome): boolean {
  switch (a.kind) {
    case 'ok': case 'gp': case 'noent': case 'ud':
      return b.kind === a.kind;
    case 'ret':
      return b.kind === 'ret' && a.value === b.value;
    case 'handled':
      return b.kind === 'handled' && sameExits(a.exits, b.exits) && sameOutcome(a.then, b.then);
    case 'hv_exit':
      return b.kind === 'hv_exit' && a.exit === b.exit && a.gpa === b.gpa && a.size === b.size && a.info === b.info && sameExits(a.exits, b.exits);
    case 'data':
      return b.kind === 'data' && a.value === b.value;
    case 'pf':
      return b.kind === 'pf' && a.code === b.code && a.cr2 === b.cr2;
    case 'exit':
      return b.kind === 'exit' && a.reason === b.reason && a.qual === b.qual && a.gpa === b.gpa && a.gla === b.gla;
    case 'vmfail':
      return b.kind === 'vmfail' && a.error === b.error;
  }
}

const hex = (n: number | bigint): string => '0x' + n.toString(16);

/** One-line rendering used in dumps, JSON step logs and violation details. */
export function formatOutcome(o: AnyOutcome): string {
  switch (o.kind) {
    case 'ok': case 'gp': case 'noent': case 'ud':
      return o.kind;
    case 'ret':
      return `ret ${o.value}`;
    case 'handled':
      return `handled exits=[${o.exits.join(',')}] ${formatOutcome(o.then)}`;
    case 'hv_exit':
      return `hv_exit ${o.exit} gpa=${hex(o.gpa)} size=${o.size} info=${hex(o.info)} exits=[${o.exits.join(',')}]`;
    case 'data':
      return `data ${hex(o.value)}`;
    case 'pf':
      return `pf code=${hex(o.code)} cr2=${hex(o.cr2)}`;
    case 'exit':
      return `exit reason=${o.reason} qual=${hex(o.qual)} gpa=${hex(o.gpa)} gla=${o.gla === null ? '-' : hex(o.gla)}`;
    case 'vmfail':
      return `vmfail error=${o.error}`;
  }
}
