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
 */
export type Outcome =
  | { kind: 'ok' }
  | { kind: 'data'; value: bigint }
  | { kind: 'pf'; code: number; cr2: number }
  | { kind: 'exit'; reason: number; qual: number; gpa: number; gla: number | null }
  | { kind: 'gp' }
  | { kind: 'vmfail'; error: number }
  | { kind: 'noent' };

export type OutcomeKind = Outcome['kind'];

export const OK: Outcome = Object.freeze({ kind: 'ok' });

export function sameOutcome(a: Outcome, b: Outcome): boolean {
  switch (a.kind) {
    case 'ok': case 'gp': case 'noent':
      return b.kind === a.kind;
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
export function formatOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'ok': case 'gp': case 'noent':
      return o.kind;
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
