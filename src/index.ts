/**
 * The library surface of eptfuzz (`import { ... } from 'eptfuzz'`): traces (load, save, encode,
 * decode), the checked runner and its two oracles, the planted-bug catalogue, the seeded generator,
 * and fast-check arbitraries for properties of your own. Everything else under src/ is internal
 * and may change without notice. `fc` is the fast-check instance the arbitraries are built with:
 * use it for your properties, so that both sides share one fast-check.
 * Contract: importing this module has no side effects (no command line, no files, no workers).
 */
export { default as fc } from 'fast-check';

// Traces: the data format (docs/traces.md, docs/ops.md).
export type { Trace, Provenance, Signature } from './trace/trace.js';
export { SCHEMA_VERSION, OPS_MAX } from './trace/trace.js';
export type { Op, OpName, Reg } from './trace/ops.js';
export { OP_SCHEMAS } from './trace/ops.js';
export { loadTrace, saveTrace, decodeTrace, encodeTrace, detectFormat, TRACE_FORMATS, type TraceFormat } from './trace/load.js';
export { formatText, parseText } from './trace/text.js';
export { validateTrace } from './trace/validate.js';
export { TraceError } from './trace/errors.js';

// Machines and outcomes.
export type { MachineConfig, Capabilities } from './hw/config.js';
export { defaultConfig, normalizeConfig, validateConfig } from './hw/config.js';
export type { Outcome } from './hw/outcome.js';

// Running and judging traces.
export { checkTrace, type TraceCheck, type CheckedViolation } from './check/check-trace.js';
export { runWith, type Target, type RunOptions, type StepRecord } from './check/runner.js';
export { TARGETS, TARGET_NAMES, type TargetName } from './check/targets.js';
export { formatSignature, signatureHash } from './check/violation.js';

// Planted bugs and the generator.
export { CATALOGUE, BUG_NAMES } from './bugs/catalogue.js';
export { generateTrace, EPTFUZZ_VERSION, type GenOptions } from './gen/generate.js';
export { Rng } from './gen/rng.js';
export { allFeatures, FEATURES, type Feature } from './gen/features.js';
export { DEFAULT_WEIGHTS } from './gen/weights.js';

// fast-check arbitraries.
export { opArbitrary, traceArbitrary, machineConfigArbitrary, type OpArbitraryOptions, type TraceArbitraryOptions, type MachineConfigArbitraryOptions } from './gen/arbitraries.js';
export { machineStateTraceArbitrary, type MachineStateTraceOptions } from './gen/state-arbitrary.js';
