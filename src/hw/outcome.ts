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
 * - `page`: what `hv_query` / `hv_expect` report about one host page and one guest page
 *   (docs/hypervisor.md "State you can see"): `PageView`.
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
  | { kind: 'ud' }
  | { kind: 'page'; page: PageView };

/** A host page's pKVM state: OWNED, SHARED_OWNED, SHARED_BORROWED, NOPAGE (pkvm-and-vtl.md §2 notation). */
export type HostPageState = 'O' | 'SO' | 'SB' | 'NOPAGE';
/** The hypervisor's own state of a host page: owns it, borrows it (shared by the host), or neither. */
export type HypPageState = 'O' | 'SB' | 'NOPAGE';
/** A guest's state at a gfn: none (nothing there), OWNED, SHARED_OWNED, SHARED_BORROWED, or POISON (force-reclaimed). */
export type GuestPageState = 'none' | 'O' | 'SO' | 'SB' | 'POISON';

/**
 * The state of host page `pfn` and of guest page (vm, gfn), as `hv_query` reports it.
 * - `host`, `owner` (the one owner of the page, pkvm-and-vtl.md §3 I1: 1 host, 0 hyp, 2.. a VM;
 *   -1 for a frame that is not memory), `hyp`, `pins` (the hypervisor's refcount),
 *   `shares` (how many np-guest leaves borrow it: arm64's host_share_guest_count), `ffa` (shared
 *   with the secure world), `guests` (every guest page holding it, by vm then gfn);
 * - `guest` / `gpfn` (-1: none): the VM's state at gfn and the host page there; `attrs` its
 *   memory attributes; `vtl[v]` the EPT rights VTL v's view may have there (R 1, W 2, X 4 = kernel
 *   execute, 8 = user execute under vtlMbec; before dirty logging, aging and SPP); empty when the
 *   VM does not exist.
 */
export interface PageView {
  host: HostPageState;
  owner: number;
  hyp: HypPageState;
  pins: number;
  shares: number;
  ffa: boolean;
  guests: ReadonlyArray<{ vm: number; gfn: number; state: GuestPageState }>;
  guest: GuestPageState;
  gpfn: number;
  attrs: number;
  vtl: readonly number[];
  /**
   * The queried VM's memory caches (hv.memcache 'vm'): free pages in each vCPU's cache (index =
   * vCPU = logical processor), and pages of them in use as its stage-2 tables; empty and 0 when
   * there is no per-VM cache (pool mode, the host, no such VM).
   */
  cache: readonly number[];
  cacheTables: number;
  /**
   * Free frames of the hypervisor's page pool (docs/hypervisor.md "The page pool"): the reference
   * model counts them exactly, so a table page kept or taken where it should not be shows here.
   */
  pool: number;
}

/** What one op produces, in either mode (hardware outcomes, and the hypervisor's in hv mode). */
export type Outcome = HwOutcome | HvOutcome;
/** Kept for the hv layer's signatures: the same union as `Outcome`. */
export type AnyOutcome = Outcome;

/**
 * Exits of a guest access to user space: spp = KVM_EXIT_SPP, memory_fault = KVM_EXIT_MEMORY_FAULT,
 * unknown = KVM_EXIT_UNKNOWN (hardware reason in info), mmio = KVM_EXIT_MMIO (no memslot),
 * intercept = a VSM secure intercept, abort = pKVM refused a host access to a page it does not own,
 * hwpoison = a protected guest touched a force-reclaimed (poisoned) gfn: KVM_RUN fails with EHWPOISON
 * (info: the memory-fault flags, as memory_fault).
 */
export type HvExit = 'spp' | 'memory_fault' | 'unknown' | 'mmio' | 'intercept' | 'abort' | 'hwpoison';

function samePage(a: PageView, b: PageView): boolean {
  if (a.host !== b.host || a.owner !== b.owner || a.hyp !== b.hyp || a.pins !== b.pins || a.shares !== b.shares || a.ffa !== b.ffa) return false;
  if (a.cache.join(',') !== b.cache.join(',') || a.cacheTables !== b.cacheTables || a.pool !== b.pool) return false;
  if (a.guest !== b.guest || a.gpfn !== b.gpfn || a.attrs !== b.attrs || a.guests.length !== b.guests.length || a.vtl.length !== b.vtl.length) return false;
  for (let i = 0; i < a.guests.length; i++) {
    const x = a.guests[i];
    const y = b.guests[i];
    if (x.vm !== y.vm || x.gfn !== y.gfn || x.state !== y.state) return false;
  }
  for (let i = 0; i < a.vtl.length; i++) if (a.vtl[i] !== b.vtl[i]) return false;
  return true;
}

/** Names of the `PageView` fields where `a` and `b` differ (a mismatch's coarse detail). */
export function pageDiff(a: PageView, b: PageView): string[] {
  const out: string[] = [];
  for (const k of ['host', 'owner', 'hyp', 'pins', 'shares', 'ffa', 'guest', 'gpfn', 'attrs', 'cacheTables', 'pool'] as const) if (a[k] !== b[k]) out.push(k);
  if (a.cache.join(',') !== b.cache.join(',')) out.push('cache');
  if (formatGuests(a) !== formatGuests(b)) out.push('guests');
  if (a.vtl.join(',') !== b.vtl.join(',')) out.push('vtl');
  return out;
}

function formatGuests(p: PageView): string {
  return p.guests.map((g) => `${g.vm}:0x${g.gfn.toString(16)}:${g.state}`).join(',');
}

/** One-line rendering of a page view (dumps, JSON step logs, details). */
export function formatPage(p: PageView): string {
  const hx = (n: number): string => (n < 0 ? String(n) : '0x' + n.toString(16));
  return `host=${p.host} owner=${p.owner} hyp=${p.hyp} pins=${p.pins} shares=${p.shares} ffa=${p.ffa ? 1 : 0} guests=[${formatGuests(p)}] guest=${p.guest} gpfn=${hx(p.gpfn)} attrs=${hx(p.attrs)} vtl=[${p.vtl.join(',')}]${p.cache.length > 0 ? ` cache=[${p.cache.join(',')}] cacheTables=${p.cacheTables}` : ''} pool=${p.pool}`;
}

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
    case 'page':
      return b.kind === 'page' && samePage(a.page, b.page);
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
    case 'page':
      return `page ${formatPage(o.page)}`;
  }
}
