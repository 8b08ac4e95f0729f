/**
 * Schema history: each step rewrites a raw (unvalidated) document of schema N into schema N + 1.
 * Contract: a step reshapes only what it knows and leaves anything else, however malformed, for
 * validation to refuse with its usual message; it never mutates the input document.
 *
 * 1 → 2: `vtl_protect`'s `target` became the hypercall's TargetVtl, the VTL whose protections are
 * set for every VTL below it (HvCallModifyVtlProtectionMask; docs/hypervisor.md "VTLs"), where
 * schema 1 named the one VTL being protected. A schema-1 target t below the machine's `hv.vtls`
 * becomes t + 1 (a VTL1 kernel protecting VTL0 wrote 0, now 1); one at or above it, which schema 1
 * refused with INVALID_PARAMETER, becomes 0, which schema 2 refuses the same way. The meaning is
 * kept exactly with two VTLs (the default, and every generated trace); with three or more a
 * schema-1 call from VTL c on VTL t < c − 1, or on t > 0, now also binds the VTLs below t + 1,
 * and its intercepts go to VTL t + 1 (the ABI cannot say "only VTL t").
 */
import { defaultHvOptions } from '../hw/config.js';
import { OPS_MAX } from './trace.js';
import type { OpForm, RawDocument, SchemaUpgrade } from './validate.js';

/** Field index of `target` in the array form `['vtl_protect', cpu, target, gfn, count, flags]`. */
const VTL_PROTECT_TARGET_INDEX = 2;
/** Largest TargetVtl: HV_INPUT_VTL's 4-bit field (the op schema's range in both schemas). */
const TARGET_VTL_MAX = 15;

/**
 * An integer written as a number, a bigint or (text form) a word in the text grammar's literal
 * syntax (validate.ts parseIntegerLiteral, not imported: validate.ts imports this module); else null.
 */
function integerOf(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : null;
  if (typeof raw === 'bigint') return raw >= 0n && raw <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(raw) : null;
  if (typeof raw !== 'string' || raw.length > 40) return null;
  if (!/^0x[0-9a-f]+(?:_[0-9a-f]+)*$/i.test(raw) && !/^[0-9]+(?:_[0-9]+)*$/.test(raw)) return null;
  const n = Number(BigInt(raw.replace(/_/g, '')));
  return Number.isSafeInteger(n) ? n : null;
}

/** `value` in the representation `like` had (so a text word stays a word). */
function sameKind(like: unknown, value: number): unknown {
  if (typeof like === 'bigint') return BigInt(value);
  if (typeof like === 'string') return String(value);
  return value;
}

/** A field of a plain object or a string-keyed Map (what the decoders produce); undefined if neither. */
function field(record: unknown, key: string): unknown {
  if (record instanceof Map) return record.get(key);
  if (record !== null && typeof record === 'object' && !Array.isArray(record) && Object.prototype.hasOwnProperty.call(record, key)) {
    const d = Object.getOwnPropertyDescriptor(record, key);
    return d !== undefined && 'value' in d ? d.value : undefined;
  }
  return undefined;
}

/** The machine's `hv.vtls` as written, or the default when absent or unreadable (validation judges it). */
function vtlsOf(doc: RawDocument): number {
  const n = integerOf(field(field(doc.machine, 'hv'), 'vtls'));
  return n ?? defaultHvOptions().vtls;
}

/** The schema-2 target for a schema-1 one (see the module contract). */
export function upgradedVtlTarget(oldTarget: number, vtls: number): number {
  return oldTarget < vtls ? Math.min(oldTarget + 1, TARGET_VTL_MAX) : 0;
}

function upgradeOp(op: unknown, opForm: OpForm, vtls: number): unknown {
  if (opForm === 'array') {
    if (!Array.isArray(op) || op[0] !== 'vtl_protect') return op;
    const t = integerOf(op[VTL_PROTECT_TARGET_INDEX]);
    if (t === null || t < 0 || t > TARGET_VTL_MAX) return op;
    const next = [...op];
    next[VTL_PROTECT_TARGET_INDEX] = sameKind(op[VTL_PROTECT_TARGET_INDEX], upgradedVtlTarget(t, vtls));
    return next;
  }
  if (field(op, 'op') !== 'vtl_protect') return op;
  const raw = field(op, 'target');
  const t = integerOf(raw);
  if (t === null || t < 0 || t > TARGET_VTL_MAX) return op;
  const value = sameKind(raw, upgradedVtlTarget(t, vtls));
  if (op instanceof Map) {
    const next = new Map(op as Map<unknown, unknown>);
    next.set('target', value);
    return next;
  }
  return { ...(op as Record<string, unknown>), target: value };
}

export const SCHEMA_1_TO_2: SchemaUpgrade = {
  from: 1,
  note: "vtl_protect's target is the TargetVtl of HvCallModifyVtlProtectionMask (the VTL setting protections for the VTLs below it)",
  positionsKept: true, // one field of some ops changes value; ops and headers stay where they were
  upgrade(doc: RawDocument, opForm: OpForm): RawDocument {
    const next: RawDocument = Object.create(null) as RawDocument;
    for (const key of Object.keys(doc)) next[key] = doc[key];
    next.schema = 2;
    if (Array.isArray(doc.ops) && doc.ops.length <= OPS_MAX) { // longer lists are refused by validation, unread
      const vtls = vtlsOf(doc);
      next.ops = doc.ops.map((op: unknown) => upgradeOp(op, opForm, vtls));
    }
    return next;
  },
};
