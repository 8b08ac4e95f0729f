/**
 * Canonical plain shapes shared by the three writers, so the formats cannot drift apart.
 * Contract: every writer emits header fields in HEADER_KEYS order, machine fields in the order of
 * defaultConfig() (caps and choices likewise; optional choices after them, only when present),
 * provenance options sorted by key, op fields in OP_SCHEMAS order. Values are written in full,
 * never as "default": a trace means the same thing even after a default changes.
 */
import { DEFAULT_CAPABILITIES, OPTIONAL_CHOICE_DEFAULTS, OPTIONAL_HV_DEFAULTS, defaultConfig, defaultHvOptions, type MachineConfig } from '../hw/config.js';
import { OP_SCHEMA_BY_NAME, type FieldKind, type Op, type OpSchema } from './ops.js';
import type { Provenance, Signature } from './trace.js';

/** The machine as a plain object in canonical key order (JSON-safe: numbers, booleans, strings). */
export function machinePlain(config: MachineConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const source = config as unknown as Record<string, unknown>;
  for (const key of Object.keys(defaultConfig())) {
    if (key === 'caps') {
      const caps: Record<string, unknown> = {};
      const given = config.caps as unknown as Record<string, unknown>;
      for (const name of Object.keys(DEFAULT_CAPABILITIES)) {
        const value = given[name];
        caps[name] = Array.isArray(value) ? [...(value as unknown[])] : value;
      }
      out.caps = caps;
    } else if (key === 'choices') {
      const choices: Record<string, unknown> = {};
      const given = config.choices as unknown as Record<string, unknown>;
      for (const name of Object.keys(defaultConfig().choices)) choices[name] = given[name];
      // Optional choices (config.ts OPTIONAL_CHOICE_DEFAULTS) only when present, so older traces keep their bytes.
      for (const name of Object.keys(OPTIONAL_CHOICE_DEFAULTS)) if (given[name] !== undefined) choices[name] = given[name];
      out.choices = choices;
    } else if (key === 'bugs') {
      out.bugs = [...config.bugs];
    } else {
      out[key] = source[key];
    }
  }
  // hv mode (optional fields, absent in bare configurations): mode, then hv in default key order.
  if (config.mode !== undefined) out.mode = config.mode;
  if (config.hv !== undefined) {
    const hv: Record<string, unknown> = {};
    const given = config.hv as unknown as Record<string, unknown>;
    for (const name of Object.keys(defaultHvOptions())) hv[name] = given[name];
    // Optional hv options (config.ts OPTIONAL_HV_DEFAULTS) only when present, so older traces keep their bytes.
    for (const name of Object.keys(OPTIONAL_HV_DEFAULTS)) if (given[name] !== undefined) hv[name] = given[name];
    out.hv = hv;
  }
  return out;
}

/** Provenance options sorted by key (code-unit order), as a list of pairs. */
export function sortedOptions(provenance: Provenance): Array<[string, string | number | boolean]> {
  return Object.keys(provenance.options)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((key) => [key, provenance.options[key]]);
}

export function signaturePlain(signature: Signature): Record<string, string> {
  return { invariant: signature.invariant, op: signature.op, detail: signature.detail };
}

export function schemaOf(op: Op): OpSchema {
  const schema = OP_SCHEMA_BY_NAME.get(op.op);
  if (schema === undefined) throw new Error(`internal: op '${String(op.op)}' has no schema`);
  return schema;
}

/** The field values of an op, in schema order. */
export function opValues(op: Op): Array<number | bigint | string> {
  const record = op as unknown as Record<string, number | bigint | string>;
  return schemaOf(op).fields.map((field) => record[field.name]);
}

/** A field value as the text and JSON forms write it: int decimal, addr/u32/u64 hex, enum word. */
export function fieldText(type: FieldKind, value: number | bigint | string): string {
  switch (type.kind) {
    case 'int': return String(value);
    case 'enum': return String(value);
    default: return '0x' + value.toString(16);
  }
}

/** Compact JSON of the provenance with options in sorted order (JSON.stringify would put integer-like keys first). */
export function provenanceJson(provenance: Provenance): string {
  const options = sortedOptions(provenance).map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`);
  return `{"seed":${JSON.stringify(provenance.seed)},"options":{${options.join(',')}}}`;
}

/** Compact JSON of one op: ints as numbers, addr/u32/u64 as "0x..." strings, enums as words. */
export function opJson(op: Op): string {
  const values = opValues(op);
  const fields = schemaOf(op).fields.map((field, i) => {
    const text = fieldText(field.type, values[i]);
    return `${JSON.stringify(field.name)}:${field.type.kind === 'int' ? text : JSON.stringify(text)}`;
  });
  return `{"op":${JSON.stringify(op.op)}${fields.map((f) => ',' + f).join('')}}`;
}
