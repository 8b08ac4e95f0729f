/**
 * Validation of untrusted decoded data into a Trace: the one gate every format passes through.
 * Contract: the input is whatever a parser produced (plain objects, Maps with string keys, arrays,
 * numbers, bigints, strings); the output is a fresh Trace built only from known fields, driven by
 * OP_SCHEMAS and the machine defaults, or a one-line TraceError naming where and which field.
 * Strict mode (the default) rejects unknown fields; tolerant mode ignores them with a warning.
 * Keys `__proto__`, `constructor` and `prototype` are always rejected. Older schema versions are
 * upgraded through SCHEMA_UPGRADES before validation; newer ones are refused.
 * Modes: a bare-mode trace may not carry hypervisor ops, and a hv-mode trace may not carry the
 * hardware ops the hypervisor refuses (ops.ts HV_REFUSED_OPS); either is one line naming the op's
 * index (and line, in the text form) and the mode.
 */
import { BUG_NAMES } from '../bugs/catalogue.js';
import { DEFAULT_CAPABILITIES, OPTIONAL_CHOICE_DEFAULTS, OPTIONAL_HV_DEFAULTS, configMode, defaultConfig, defaultHvOptions, normalizeConfig, validateConfig, type MachineConfig } from '../hw/config.js';
import { TraceError, showValue } from './errors.js';
import { OP_SCHEMA_BY_NAME, opAllowedIn, type FieldKind, type Op } from './ops.js';
import { OPS_MAX, SCHEMA_VERSION, type Provenance, type Signature, type Trace } from './trace.js';
import { SCHEMA_1_TO_2 } from './upgrades.js';

/** Keys that could reach an object's prototype if a consumer ever copied them naively. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
/** Longest string accepted in provenance and signature fields: they are labels, not payloads. */
export const STRING_CHARS_MAX = 4096;
/** Longest eptfuzz version string (semver with pre-release and build tags fits easily). */
export const VERSION_CHARS_MAX = 64;
/** Most provenance options: generator options are a handful of knobs. */
export const OPTIONS_MAX = 256;
/** Longest integer literal: 64 binary digits written in decimal with separators fit in 40. */
export const NUMBER_LITERAL_CHARS_MAX = 96;
/** Warnings kept in tolerant mode; a hostile file must not grow the list without bound. */
export const WARNINGS_MAX = 100;

export type OpForm = 'object' | 'array';
/** Top-level fields of a trace, in canonical order (every format writes them in this order). */
export type HeaderKey = 'schema' | 'eptfuzz' | 'machine' | 'provenance' | 'signature' | 'ops';
export const HEADER_KEYS: readonly HeaderKey[] = ['schema', 'eptfuzz', 'machine', 'provenance', 'signature', 'ops'];

export interface DecodeOptions {
  /** true (default): unknown fields are errors. false: they are ignored, with a warning. */
  strict?: boolean;
  /** Receives one line per ignored field in tolerant mode (at most WARNINGS_MAX). */
  warnings?: string[];
}

/** A decoded document before validation: top-level fields by name (null prototype). */
export type RawDocument = Record<string, unknown>;

/**
 * One step of schema history: rewrites a raw document of schema `from` into schema `from + 1`.
 * Upgrades run on unvalidated data, so they must tolerate anything and only reshape what they know.
 */
export interface SchemaUpgrade {
  from: number;
  /** One line: what changed in `from + 1`. */
  note: string;
  /**
   * True when the step only rewrites values in place (op i stays op i, no header key moves), so
   * the caller's positions (text line numbers) still name the right place in messages.
   */
  positionsKept?: boolean;
  upgrade(doc: RawDocument, opForm: OpForm): RawDocument;
}

/** Schema history, keyed by `from` (upgrades.ts). Schema 1 is the first. */
export const SCHEMA_UPGRADES: ReadonlyMap<number, SchemaUpgrade> = new Map([[1, SCHEMA_1_TO_2]]);

export interface ValidateTraceOptions extends DecodeOptions {
  /** How ops are written: `{op: name, field: value}` (JSON, text) or `[name, ...values]` (msgpack). */
  opForm?: OpForm;
  /** Message prefix for op `index` (named once known); default `op 3 'write'`. */
  locateOp?: (index: number, name?: string) => string;
  /** Message prefix for a top-level field; default its name (`machine`). */
  locateHeader?: (key: HeaderKey) => string;
  /** Schema history to use (tests inject one); default SCHEMA_UPGRADES. */
  upgrades?: ReadonlyMap<number, SchemaUpgrade>;
  /** Op values are words of the text form (messages show them unquoted). */
  textValues?: boolean;
}

export interface OpContext extends DecodeOptions {
  form?: OpForm;
  /** When known, `cpu` fields must be below it. */
  vcpus?: number;
  /** Values are words of the text form: messages show them as written, unquoted. */
  textValues?: boolean;
}

const fail = (where: string, message: string): TraceError =>
  new TraceError(where === '' ? message : `${where}: ${message}`);

function warn(options: DecodeOptions, where: string, message: string): void {
  const warnings = options.warnings;
  if (warnings === undefined || warnings.length >= WARNINGS_MAX) return;
  warnings.push(where === '' ? message : `${where}: ${message}`);
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The own data entries of a plain object, or of a Map with string keys; anything else, accessor
 * properties and forbidden keys are errors. Never reads through a prototype or calls a getter.
 */
export function recordEntries(value: unknown, where: string): Array<[string, unknown]> {
  const entries: Array<[string, unknown]> = [];
  if (value instanceof Map) {
    for (const [key, item] of value) {
      if (typeof key !== 'string') throw fail(where, `keys must be strings, got ${showValue(key)}`);
      entries.push([key, item]);
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.getOwnPropertyNames(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor === undefined || !('value' in descriptor)) throw fail(where, `field '${key}' is not plain data`);
      entries.push([key, descriptor.value]);
    }
  } else {
    throw fail(where, `must be an object, got ${showValue(value)}`);
  }
  for (const [key] of entries) {
    if (FORBIDDEN_KEYS.has(key)) throw fail(where, `forbidden key '${key}'`);
  }
  return entries;
}

/** Entries of a record restricted to `known` names; unknown ones are errors or warnings. */
function knownFields(value: unknown, where: string, prefix: string, known: readonly string[], options: DecodeOptions): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  for (const [key, item] of recordEntries(value, where)) {
    if (!known.includes(key)) {
      if (options.strict ?? true) throw fail(where, `unknown field '${prefix}${key}'`);
      warn(options, where, `ignored unknown field '${prefix}${key}'`);
      continue;
    }
    fields.set(key, item);
  }
  return fields;
}

const HEX_LITERAL = /^0x[0-9a-f]+(?:_[0-9a-f]+)*$/i;
const DEC_LITERAL = /^[0-9]+(?:_[0-9]+)*$/;

/** `0x1f`, `31`, `0xffff_ffff` (underscores between digits) → bigint; anything else → null. */
export function parseIntegerLiteral(text: string): bigint | null {
  if (text.length > NUMBER_LITERAL_CHARS_MAX) return null;
  if (!HEX_LITERAL.test(text) && !DEC_LITERAL.test(text)) return null;
  return BigInt(text.replace(/_/g, ''));
}

function toBigInt(value: unknown): bigint | null {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : null;
  if (typeof value === 'string') return parseIntegerLiteral(value);
  return null;
}

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffff_ffff;
const hex = (n: number | bigint): string => '0x' + n.toString(16);

/** The accepted range of a field kind, as messages show it (`1..8`, `0x0..0xffffffff`). */
export function describeKind(type: FieldKind): string {
  switch (type.kind) {
    case 'int': return `${type.min}..${type.max}`;
    case 'addr': return `0x0..${hex(type.max)}`;
    case 'u64': return `0x0..${hex(U64_MAX)}`;
    case 'u32': return `0x0..${hex(U32_MAX)}`;
    case 'enum': return `one of ${type.values.join('|')}`;
  }
}

/**
 * A field value of `type`, from a number, bigint or literal string (integers) or a word (enum);
 * null when it is the wrong type or out of range. Integers come back as numbers, u64 as bigint.
 */
export function fieldValue(type: FieldKind, raw: unknown): number | bigint | string | null {
  if (type.kind === 'enum') return typeof raw === 'string' && type.values.includes(raw) ? raw : null;
  const value = toBigInt(raw);
  if (value === null || value < 0n) return null;
  switch (type.kind) {
    case 'int': return value >= BigInt(type.min) && value <= BigInt(type.max) ? Number(value) : null;
    case 'addr': return value <= BigInt(type.max) ? Number(value) : null;
    case 'u32': return value <= BigInt(U32_MAX) ? Number(value) : null;
    case 'u64': return value <= U64_MAX ? value : null;
  }
}

/** The op name of an object-form op if it is a known one (so early messages can name it). */
function knownOpName(raw: unknown): string | undefined {
  let name: unknown;
  if (raw instanceof Map) name = raw.get('op');
  else if (isPlainObject(raw)) name = Object.getOwnPropertyDescriptor(raw, 'op')?.value;
  return typeof name === 'string' && OP_SCHEMA_BY_NAME.has(name) ? name : undefined;
}

/**
 * Fields added to an op after traces without them were written, and what an old trace must add
 * (appended to the missing-field message, so the one-line error says how to fix the trace).
 */
const ADDED_FIELDS: ReadonlyMap<string, { field: string; hint: string }> = new Map([
  ['hv_topup', { field: 'cpu', hint: 'memory caches are per vCPU: name the vCPU whose cache is meant, cpu=N after vm=, the logical processor the VM runs on' }],
  ['hv_undonate', { field: 'cpu', hint: 'memory caches are per vCPU: name the vCPU whose cache is meant, cpu=N after vm=, the logical processor the VM runs on' }],
]);

/** ` (hint)` for an op whose field `field` (any, when absent) was added later; else ''. */
function addedFieldHint(op: string, field?: string): string {
  const a = ADDED_FIELDS.get(op);
  return a === undefined || (field !== undefined && field !== a.field) ? '' : ` (${a.hint})`;
}

/** Validates one op (object or array form) against OP_SCHEMAS into a fresh Op. */
export function validateOp(raw: unknown, locate: (name?: string) => string, context: OpContext = {}): Op {
  const form = context.form ?? 'object';
  let name: unknown;
  let given: Map<string, unknown>;
  if (form === 'array') {
    if (!Array.isArray(raw) || raw.length === 0) throw fail(locate(), `must be an array [name, ...fields], got ${showValue(raw)}`);
    name = raw[0];
  } else {
    const entries = recordEntries(raw, locate(knownOpName(raw)));
    given = new Map(entries);
    name = given.get('op');
    if (name === undefined) throw fail(locate(), `missing field 'op'`);
  }
  if (typeof name !== 'string') throw fail(locate(), `op name must be a string, got ${showValue(name)}`);
  const schema = OP_SCHEMA_BY_NAME.get(name);
  if (schema === undefined) throw fail(locate(), `unknown op ${showValue(name)}`);
  const where = locate(name);
  const fieldNames = schema.fields.map((f) => f.name);
  if (Array.isArray(raw)) {
    const count = raw.length - 1;
    if (count < fieldNames.length || (count > fieldNames.length && (context.strict ?? true))) {
      throw fail(where, `expected ${fieldNames.length} fields (${fieldNames.join(', ')}), got ${count}${count < fieldNames.length ? addedFieldHint(name) : ''}`);
    }
    if (count > fieldNames.length) warn(context, where, `ignored ${count - fieldNames.length} extra fields`);
    given = new Map(fieldNames.map((field, i) => [field, raw[i + 1]]));
  } else {
    given = knownFields(raw, where, '', ['op', ...fieldNames], context);
  }
  const op: Record<string, unknown> = { op: name };
  for (const field of schema.fields) {
    const rawValue = given!.get(field.name);
    if (rawValue === undefined) throw fail(where, `missing field '${field.name}'${addedFieldHint(name, field.name)}`);
    const value = fieldValue(field.type, rawValue);
    if (value === null) {
      const shown = context.textValues === true && typeof rawValue === 'string' ? showWord(rawValue) : showValue(rawValue);
      throw fail(where, `field '${field.name}' must be ${describeKind(field.type)}, got ${shown}`);
    }
    if (field.name === 'cpu' && context.vcpus !== undefined && (value as number) >= context.vcpus) {
      throw fail(where, `field 'cpu' must be below the machine's vcpus (${context.vcpus}), got ${String(value)}`);
    }
    op[field.name] = value;
  }
  return op as unknown as Op;
}

/** A word as the user wrote it, cut short if long. */
function showWord(word: string): string {
  return word.length <= 40 ? word : word.slice(0, 40) + '…';
}

function smallInteger(raw: unknown): number | null {
  const value = typeof raw === 'number' || typeof raw === 'bigint' ? toBigInt(raw) : null;
  return value === null ? null : Number(value);
}

/**
 * Validates a machine configuration; absent fields take their defaults (normalizeConfig), so a
 * hand-written `{}` is the default machine. Field types are read off defaultConfig().
 */
export function validateMachine(raw: unknown, where: string, options: DecodeOptions = {}): MachineConfig {
  // mode and hv are optional (absent in bare configurations), so they are not in defaultConfig().
  // Optional choices (config.ts OPTIONAL_CHOICE_DEFAULTS) likewise: accepted, not filled in.
  const base = defaultConfig();
  const defaults = { ...base, choices: { ...base.choices, ...OPTIONAL_CHOICE_DEFAULTS }, mode: 'bare', hv: { ...defaultHvOptions(), ...OPTIONAL_HV_DEFAULTS } };
  const given = knownFields(raw, where, '', Object.keys(defaults), options);
  const partial: Record<string, unknown> = {};
  for (const [key, value] of given) {
    const sample: unknown = (defaults as unknown as Record<string, unknown>)[key];
    if (typeof sample === 'number') {
      const n = smallInteger(value);
      if (n === null) throw fail(where, `field '${key}' must be an integer, got ${showValue(value)}`);
      partial[key] = n;
    } else if (typeof sample === 'boolean') {
      if (typeof value !== 'boolean') throw fail(where, `field '${key}' must be true or false, got ${showValue(value)}`);
      partial[key] = value;
    } else if (key === 'bugs') {
      partial[key] = validateBugs(value, where);
    } else if (typeof sample === 'string') {
      if (typeof value !== 'string') throw fail(where, `field '${key}' must be a string, got ${showValue(value)}`);
      partial[key] = value;
    } else {
      partial[key] = validateFlatRecord(value, where, key, sample as Record<string, unknown>, options);
    }
  }
  const config = normalizeConfig(partial as Parameters<typeof normalizeConfig>[0]);
  const problem = validateConfig(config);
  if (problem !== null) throw fail(where, problem);
  return config;
}

/** A record whose fields have the types of `sample`'s (booleans, strings, arrays of booleans). */
function validateFlatRecord(raw: unknown, where: string, key: string, sample: Record<string, unknown>, options: DecodeOptions): Record<string, unknown> {
  const given = knownFields(raw, where, `${key}.`, Object.keys(sample), options);
  const out: Record<string, unknown> = {};
  for (const [name, value] of given) {
    const expected = sample[name];
    const label = `field '${key}.${name}'`;
    if (Array.isArray(expected)) {
      if (!Array.isArray(value) || value.length !== expected.length || !value.every((b) => typeof b === 'boolean')) {
        throw fail(where, `${label} must be ${expected.length} booleans, got ${showValue(value)}`);
      }
      out[name] = [...value];
    } else if (typeof expected === 'number') {
      const n = smallInteger(value);
      if (n === null) throw fail(where, `${label} must be an integer, got ${showValue(value)}`);
      out[name] = n;
    } else if (typeof value !== typeof expected) {
      throw fail(where, `${label} must be a ${typeof expected}, got ${showValue(value)}`);
    } else {
      out[name] = value;
    }
  }
  return out;
}

function validateBugs(raw: unknown, where: string): string[] {
  if (!Array.isArray(raw) || raw.length > BUG_NAMES.size) {
    throw fail(where, `field 'bugs' must be a list of at most ${BUG_NAMES.size} bug names, got ${showValue(raw)}`);
  }
  const bugs: string[] = [];
  for (const name of raw) {
    if (typeof name !== 'string' || !BUG_NAMES.has(name)) throw fail(where, `field 'bugs': unknown bug ${showValue(name)} (see 'eptfuzz bugs')`);
    if (bugs.includes(name)) throw fail(where, `field 'bugs': bug '${name}' listed twice`);
    bugs.push(name);
  }
  return bugs;
}

/** A lone UTF-16 surrogate: it cannot be written as UTF-8, so it would not survive msgpack. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function boundedString(raw: unknown, where: string, field: string, charsMax: number): string {
  if (typeof raw !== 'string' || raw.length > charsMax || LONE_SURROGATE.test(raw)) {
    throw fail(where, `field '${field}' must be a well-formed string of at most ${charsMax} characters, got ${showValue(raw)}`);
  }
  return raw;
}

/** Provenance: `seed` (string) and `options` (flat map of string | finite number | boolean). */
export function validateProvenance(raw: unknown, where: string, options: DecodeOptions = {}): Provenance {
  const given = knownFields(raw, where, '', ['seed', 'options'], options);
  if (!given.has('seed')) throw fail(where, `missing field 'seed'`);
  if (!given.has('options')) throw fail(where, `missing field 'options'`);
  const seed = boundedString(given.get('seed'), where, 'seed', STRING_CHARS_MAX);
  const entries = recordEntries(given.get('options'), `${where}: field 'options'`);
  if (entries.length > OPTIONS_MAX) throw fail(where, `field 'options' has ${entries.length} entries, more than ${OPTIONS_MAX}`);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of entries) {
    boundedString(key, where, 'options key', VERSION_CHARS_MAX * 2);
    if (typeof value === 'boolean') out[key] = value;
    else if (typeof value === 'string') out[key] = boundedString(value, where, `options.${key}`, STRING_CHARS_MAX);
    else if (typeof value === 'number' && Number.isFinite(value)) out[key] = value === 0 ? 0 : value; // -0 → 0
    else if (typeof value === 'bigint' && Number.isSafeInteger(Number(value))) out[key] = Number(value);
    else throw fail(where, `field 'options.${key}' must be a string, a finite number or a boolean, got ${showValue(value)}`);
  }
  return { seed, options: out };
}

/** Signature: `invariant`, `op`, `detail`, all strings. */
export function validateSignature(raw: unknown, where: string, options: DecodeOptions = {}): Signature {
  const names = ['invariant', 'op', 'detail'] as const;
  const given = knownFields(raw, where, '', names, options);
  const out: Record<string, string> = {};
  for (const name of names) {
    if (!given.has(name)) throw fail(where, `missing field '${name}'`);
    out[name] = boundedString(given.get(name), where, name, STRING_CHARS_MAX);
  }
  return { invariant: out.invariant, op: out.op, detail: out.detail };
}

const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]*$/;

/** The eptfuzz version that wrote the trace: one token (it is a bare word in the text form). */
export function validateVersion(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.length > VERSION_CHARS_MAX || !VERSION_PATTERN.test(raw)) {
    throw fail(where, `must be a version string like 0.1.0 (letters, digits, . + _ -; at most ${VERSION_CHARS_MAX}), got ${showValue(raw)}`);
  }
  return raw;
}

/** The schema number, checked against what this eptfuzz reads (upgrading older ones). */
export function validateSchemaNumber(raw: unknown, where: string, upgrades: ReadonlyMap<number, SchemaUpgrade> = SCHEMA_UPGRADES): number {
  const schema = smallInteger(raw);
  if (schema === null || schema < 0 || !Number.isSafeInteger(schema)) {
    throw fail(where, `must be a non-negative integer, got ${showValue(raw)}`);
  }
  if (schema > SCHEMA_VERSION) throw fail(where, `trace schema ${schema} is newer than this eptfuzz supports (${SCHEMA_VERSION})`);
  if (schema < SCHEMA_VERSION && !upgrades.has(schema)) {
    let oldest = SCHEMA_VERSION;
    while (upgrades.has(oldest - 1)) oldest -= 1;
    throw fail(where, `trace schema ${schema} is older than any this eptfuzz can upgrade (it reads ${oldest}..${SCHEMA_VERSION})`);
  }
  return schema;
}

/** Validates a whole decoded document into a Trace (see the module contract). */
export function validateTrace(raw: unknown, options: ValidateTraceOptions = {}): Trace {
  const upgrades = options.upgrades ?? SCHEMA_UPGRADES;
  const opForm = options.opForm ?? 'object';
  let locateHeader = options.locateHeader ?? ((key: HeaderKey): string => key);
  let locateOp = options.locateOp ?? defaultLocateOp;
  let doc: RawDocument = Object.create(null) as RawDocument;
  for (const [key, value] of recordEntries(raw, 'trace')) doc[key] = value;

  if (doc.schema === undefined) throw new TraceError(`missing field 'schema'`);
  let schema = validateSchemaNumber(doc.schema, locateHeader('schema'), upgrades);
  while (schema < SCHEMA_VERSION) {
    const step = upgrades.get(schema)!;
    doc = step.upgrade(doc, opForm);
    const next = smallInteger(doc.schema);
    if (next !== schema + 1) throw new TraceError(`internal: upgrade from schema ${schema} did not produce schema ${schema + 1}`);
    schema = next;
    if (step.positionsKept === true) continue;
    // Positions given by the caller describe the original input, not the upgraded document.
    locateHeader = (key) => key;
    locateOp = defaultLocateOp;
  }

  for (const key of Object.keys(doc)) {
    if ((HEADER_KEYS as readonly string[]).includes(key)) continue;
    if (options.strict ?? true) throw new TraceError(`unknown field '${key}'`);
    warn(options, '', `ignored unknown field '${key}'`);
  }
  for (const key of ['eptfuzz', 'machine', 'ops'] as const) {
    if (doc[key] === undefined) throw new TraceError(`missing field '${key}'`);
  }
  const eptfuzz = validateVersion(doc.eptfuzz, locateHeader('eptfuzz'));
  const machine = validateMachine(doc.machine, locateHeader('machine'), options);
  const rawOps = doc.ops;
  if (!Array.isArray(rawOps)) throw new TraceError(`${locateHeader('ops')}: must be a list of ops, got ${showValue(rawOps)}`);
  if (rawOps.length > OPS_MAX) throw new TraceError(`${locateHeader('ops')}: ${rawOps.length} ops is more than OPS_MAX (${OPS_MAX})`);
  const context: OpContext = { form: opForm, vcpus: machine.vcpus, strict: options.strict, warnings: options.warnings, textValues: options.textValues };
  const ops = rawOps.map((item: unknown, index: number) => validateOp(item, (name) => locateOp(index, name), context));
  checkOpModes(ops, configMode(machine), locateOp);
  const trace: Trace = { schema: SCHEMA_VERSION, eptfuzz, machine, ops };
  if (doc.provenance !== undefined) trace.provenance = validateProvenance(doc.provenance, locateHeader('provenance'), options);
  if (doc.signature !== undefined) trace.signature = validateSignature(doc.signature, locateHeader('signature'), options);
  return trace;
}

/** Every op must be one its trace's mode runs (see the module contract). */
export function checkOpModes(ops: readonly Op[], mode: 'bare' | 'hv', locateOp: (index: number, name?: string) => string = defaultLocateOp): void {
  for (let index = 0; index < ops.length; index++) {
    const name = ops[index].op;
    if (opAllowedIn(name, mode)) continue;
    const where = locateOp(index, name);
    const at = where.startsWith(`op ${index} `) ? where : `${where} (op ${index})`;
    throw new TraceError(mode === 'bare'
      ? `${at}: a hypervisor op is not allowed in a bare-mode trace (hv ops need "mode": "hv" in @machine; docs/hypervisor.md)`
      : `${at}: not allowed in a hv-mode trace: the hypervisor refuses this hardware op (docs/hypervisor.md "Machine shape")`);
  }
}

function defaultLocateOp(index: number, name?: string): string {
  return name === undefined ? `op ${index}` : `op ${index} '${name}'`;
}
