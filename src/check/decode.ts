/**
 * Names for the bits of #PF error codes and EPT exit qualifications, for details and logs.
 * Contract: pure functions; bit names follow src/hw/bits.ts (and KVM's trace events).
 */
import {
  PF_P, PF_W, PF_U, PF_RSVD, PF_I, PF_PK, PF_SS,
  QUAL_RD, QUAL_WR, QUAL_FETCH, QUAL_PR, QUAL_PW, QUAL_PX, QUAL_PUX, QUAL_GLA_VALID, QUAL_XLAT,
  QUAL_ADV_USER, QUAL_ADV_WRITABLE, QUAL_ADV_XD, QUAL_NMI_UNBLOCK, SPP_QUAL_MISS,
  EXIT_EPT_VIOLATION, EXIT_EPT_MISCONFIG, EXIT_SPP,
} from '../hw/bits.js';
import { formatPage, type Outcome } from '../hw/outcome.js';

const PF_BITS: ReadonlyArray<[number, string]> = [
  [PF_P, 'P'], [PF_W, 'W'], [PF_U, 'U'], [PF_RSVD, 'RSVD'], [PF_I, 'I'], [PF_PK, 'PK'], [PF_SS, 'SS'],
];
const QUAL_BITS: ReadonlyArray<[number, string]> = [
  [QUAL_RD, 'RD'], [QUAL_WR, 'WR'], [QUAL_FETCH, 'FETCH'], [QUAL_PR, 'PR'], [QUAL_PW, 'PW'],
  [QUAL_PX, 'PX'], [QUAL_PUX, 'PUX'], [QUAL_GLA_VALID, 'GLA'], [QUAL_XLAT, 'XLAT'],
  [QUAL_ADV_USER, 'USER'], [QUAL_ADV_WRITABLE, 'WRITABLE'], [QUAL_ADV_XD, 'XD'], [QUAL_NMI_UNBLOCK, 'NMI'],
];
const SPP_QUAL_BITS: ReadonlyArray<[number, string]> = [[SPP_QUAL_MISS, 'MISS'], [QUAL_NMI_UNBLOCK, 'NMI']];

function names(value: number, table: ReadonlyArray<[number, string]>): string {
  const out: string[] = [];
  let known = 0;
  for (const [bit, name] of table) {
    known |= bit;
    if (value & bit) out.push(name);
  }
  const rest = (value & ~known) >>> 0;
  if (rest !== 0) out.push('0x' + rest.toString(16));
  return out.length === 0 ? '-' : out.join('|');
}

export function pfCodeNames(code: number): string {
  return names(code, PF_BITS);
}

/** Qualification bit names for an exit of `reason` (66 has its own layout; 49 has none). */
export function qualNames(reason: number, qual: number): string {
  if (reason === EXIT_SPP) return names(qual, SPP_QUAL_BITS);
  return names(qual, QUAL_BITS);
}

export function exitReasonName(reason: number): string {
  switch (reason) {
    case EXIT_EPT_VIOLATION: return 'EPT_VIOLATION';
    case EXIT_EPT_MISCONFIG: return 'EPT_MISCONFIG';
    case EXIT_SPP: return 'SPP';
    default: return `REASON_${reason}`;
  }
}

/**
 * The value-free shape of an outcome: kind, plus exit reason or VM-instruction error; in hv mode
 * the user-space exit's name, the completed access's kind, and a return value's sign (an errno is
 * kept: it names the error path, not a value).
 */
export function outcomeShape(o: Outcome): string {
  switch (o.kind) {
    case 'exit': return `exit${o.reason}`;
    case 'vmfail': return `vmfail${o.error}`;
    case 'hv_exit': return `hv_exit ${o.exit}`;
    case 'handled': return `handled ${outcomeShape(o.then)}`;
    case 'ret': return o.value < 0 ? `ret ${o.value}` : o.value === 0 ? 'ret 0' : 'ret >0';
    default: return o.kind;
  }
}

/** KVM / pKVM errno names for hv return values (replay --verbose). */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM', 2: 'ENOENT', 7: 'E2BIG', 11: 'EAGAIN', 12: 'ENOMEM', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 22: 'EINVAL', 133: 'EHWPOISON',
};

/** `-22` → `-EINVAL`; other values as they are. */
export function retName(value: number): string {
  return value < 0 && ERRNO_NAMES[-value] !== undefined ? `-${ERRNO_NAMES[-value]}` : String(value);
}

/** Hyper-V status names (vtl_protect). */
const HV_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: 'HV_STATUS_SUCCESS', 5: 'HV_STATUS_INVALID_PARAMETER', 6: 'HV_STATUS_ACCESS_DENIED', 8: 'HV_STATUS_OPERATION_DENIED', 11: 'HV_STATUS_INSUFFICIENT_MEMORY',
};

export function hvStatusName(value: number): string {
  return HV_STATUS_NAMES[value] ?? `status ${value}`;
}

/** KVM_MEMORY_EXIT_FLAG_* / access flags of a memory_fault exit's info. */
export function memoryFaultFlags(info: number): string {
  return names(info, [[1, 'R'], [2, 'W'], [4, 'X'], [8, 'PRIVATE']]);
}

const hex = (n: number | bigint): string => '0x' + n.toString(16);

const exitList = (exits: readonly number[]): string => exits.map((r) => `${exitReasonName(r)}`).join(', ');

/** The payload of a user-space exit, decoded by its kind. */
function hvExitInfo(exit: string, info: number): string {
  switch (exit) {
    case 'memory_fault': case 'hwpoison': return `flags ${hex(info)} [${memoryFaultFlags(info)}]`;
    case 'unknown': return `hardware_exit_reason ${info} (${exitReasonName(info)})`;
    case 'intercept': return `to VTL ${info}`;
    default: return info === 0 ? '' : `info ${hex(info)}`;
  }
}

/**
 * KVM-trace-like rendering of an outcome. `op` (when given) names the call a return value
 * belongs to: vtl_protect returns a Hyper-V status, spp_get a sub-page map, the rest 0 / a count
 * or -errno.
 */
export function outcomeLog(o: Outcome, op?: string): string {
  switch (o.kind) {
    case 'ret':
      if (op === 'vtl_protect') return `hv_status ${o.value} (${hvStatusName(o.value)})`;
      if (op === 'spp_get' && o.value >= 0) return `ret ${hex(o.value)} (sub-page write map)`;
      return `ret ${retName(o.value)}${o.value < 0 ? ` (${o.value})` : ''}`;
    case 'handled':
      return `handled by the hypervisor after [${exitList(o.exits)}]; then ${outcomeLog(o.then)}`;
    case 'hv_exit': {
      const info = hvExitInfo(o.exit, o.info);
      return `kvm_userspace_exit: ${o.exit.toUpperCase()} gpa ${hex(o.gpa)} size ${o.size}${info === '' ? '' : ` ${info}`}${o.exits.length > 0 ? ` after [${exitList(o.exits)}]` : ''}`;
    }
    case 'ud': return 'kvm_inj_exception: #UD';
    case 'page': return `page ${formatPage(o.page)}`;
    case 'exit':
      return `kvm_exit: reason ${exitReasonName(o.reason)} (${o.reason}) qual ${hex(o.qual)} [${qualNames(o.reason, o.qual)}] gpa ${hex(o.gpa)} gla ${o.gla === null ? '-' : hex(o.gla)}`;
    case 'pf':
      return `kvm_inj_exception: #PF error_code ${hex(o.code)} [${pfCodeNames(o.code)}] cr2 ${hex(o.cr2)}`;
    case 'data': return `data ${hex(o.value)}`;
    case 'vmfail': return `vmfail error ${o.error}`;
    default: return o.kind;
  }
}

