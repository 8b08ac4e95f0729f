/**
 * `eptfuzz explain`: why each step of a trace came out as it did. Per step: the op, for a guest
 * access in bare mode the guest walk and every EPT walk decoded entry by entry (walk-explain.ts),
 * the rule that decided (id, meaning, source) and where (the entry and bit), every outcome the
 * model allows with its rule, what the target did, and for a failing step the difference decoded
 * (error-code or qualification bits by name; for memory, the table entry and flag or the data
 * byte). In hv mode: the page states and owners the op's operands name, before and after, and the
 * transition or error path (the op's result rule).
 * Contract: replays the trace once on the given target (the same runner and checks as `replay`);
 * reads the model only between its `step` and `commit` (the state the op saw) and after commit.
 */
import type { MachineApi } from '../hw/api.js';
import { configMode } from '../hw/config.js';
import type { Outcome } from '../hw/outcome.js';
import type { ReferenceModelApi } from '../model/api.js';
import { HvModel } from '../model/hv/model.js';
import { ReferenceModel } from '../model/model.js';
import { ruleInfo, ruleNumber } from '../model/rules.js';
import type { Op } from '../trace/ops.js';
import { formatOp } from '../trace/text.js';
import type { Trace } from '../trace/trace.js';
import { outcomeClass } from './classify.js';
import { outcomeLog, pfCodeNames, qualNames } from './decode.js';
import { runWith, targetFor, type StepRecord, type Target } from './runner.js';
import type { Violation } from './violation.js';
import { type AccessReport, decodeAccess, formatEntry, locate } from './walk-explain.js';

export interface RuleNote {
  id: string;
  meaning: string;
  source: string;
}

export interface ExplainedStep {
  step: number;
  op: string;
  access: AccessReport | null;
  /** hv mode: the operands' page states before and after the op. */
  pages: { before: string[]; after: string[] } | null;
  /** hv mode, a guest access: its guest walk through the hypervisor's mappings and the final page's state (`hvWalkLines`). */
  hvWalk: string[] | null;
  allowed: Array<{ outcome: string; rule: RuleNote | null; stale: boolean }>;
  /** Where the rule of the fresh outcome (allowed[0]) decided: the entry and bit, when the report shows it. */
  decided: string | null;
  actual: { outcome: string; class: string };
  violations: Array<{ invariant: string; rule: RuleNote | null; detail: string; difference: string[]; alternates: string[] }>;
}

const hex = (n: number | bigint): string => '0x' + n.toString(16);

function note(id: string | number): RuleNote | null {
  const info = ruleInfo(typeof id === 'number' ? id : ruleNumber(id));
  return info === null ? null : { id: info.id, meaning: info.meaning, source: info.source };
}

/** Capture of the model the runner builds, and of what it looked like before each op. */
class Watch {
  model: ReferenceModelApi | null = null;
  machine: MachineApi | null = null;
  readonly access = new Map<number, AccessReport>();
  readonly before = new Map<number, string[]>();
  readonly after = new Map<number, string[]>();
  readonly hvWalk = new Map<number, string[]>();
  private step = 0;
  private pendingAfter: { step: number; op: Op } | null = null;

  constructor(private readonly trace: Trace, private readonly only: number | null) {}

  /** Called before the model's `step` of each op (the hv model changes its state in `step`). */
  beforeStep(op: Op): void {
    const i = this.step++;
    this.closeAfter();
    if (this.only !== null && i !== this.only) return;
    const m = this.model;
    if (m instanceof ReferenceModel && (op.op === 'read' || op.op === 'write' || op.op === 'fetch')) {
      this.access.set(i, decodeAccess(m, this.trace.machine, op.cpu, op.la, op.size, op.op === 'write'));
    }
    if (m instanceof HvModel) {
      if (op.op === 'read' || op.op === 'write' || op.op === 'fetch') this.hvWalk.set(i, hvWalkLines(m, op.cpu, op.la, op.size));
      this.before.set(i, pageStates(m, op));
      this.pendingAfter = { step: i, op };
    }
  }

  /** After the op was committed (seen at the next op's observe, or at the end). */
  closeAfter(): void {
    if (this.pendingAfter !== null && this.model instanceof HvModel) this.after.set(this.pendingAfter.step, pageStates(this.model, this.pendingAfter.op));
    this.pendingAfter = null;
  }
}

/** A guest paging entry's flags by name (SDM Vol. 3A §4.5, 4-level paging). */
function guestFlags(e: bigint, level: number): string {
  const f: string[] = [];
  const bit = (n: number): boolean => ((e >> BigInt(n)) & 1n) === 1n;
  if (bit(0)) f.push('P'); if (bit(1)) f.push('RW'); if (bit(2)) f.push('US'); if (bit(5)) f.push('A');
  if (bit(6)) f.push('D'); if (level > 1 && bit(7)) f.push('PS'); if (bit(63)) f.push('XD');
  const pkey = Number((e >> 59n) & 0xfn);
  if (pkey !== 0) f.push(`pkey=${pkey}`);
  return f.join(' ');
}

/**
 * hv mode: each part of a guest access walked through the hypervisor's mappings as they stand
 * before the op (HvModel.debugWalk: each guest entry with its GPA, the HPA the hypervisor maps it
 * to, its value), then the final GPA, its HPA and the page's pKVM state.
 */
function hvWalkLines(m: HvModel, cpu: number, la: number, size: number): string[] {
  const out: string[] = [];
  const first = Math.min(size, 4096 - (la % 4096));
  const parts = first < size ? [[la, first], [la + first, size - first]] : [[la, size]];
  for (const [pla, psize] of parts) {
    const w = m.debugWalk(cpu, pla);
    out.push(`part la ${hex(pla)} size ${psize}, ${w.vm === 1 ? 'host' : `vm ${w.vm}`} at VTL ${w.vtl}, cr3 ${hex(w.cr3)}:`);
    const gone = (gpa: number): string => `  gpa ${hex(gpa)}: no page of the running VM mapped yet (the access exits to the hypervisor, which maps it from a memslot if one covers it)`;
    for (const e of w.entries) {
      if (e.hpa === null) { out.push(gone(e.gpa)); continue; }
      out.push(`  guest L${e.level} gpa ${hex(e.gpa)} @hpa ${hex(e.hpa)} = ${hex(e.value)} [${guestFlags(e.value, e.level)}]${(e.value & 1n) === 0n ? ' -- not present' : ''}`);
    }
    if (w.gpa === null) continue;
    if (w.hpa === null) { out.push(gone(w.gpa)); continue; }
    const pfn = Math.floor(w.hpa / 4096);
    const state = w.page !== null ? `${w.page.state}, prot ${w.page.prot}` : `host ${m.hostOf(pfn).state}`;
    const alias = m.aliasBit !== 0 && w.gpa >= m.aliasBit ? ', the XO alias' : '';
    out.push(`  final gpa ${hex(w.gpa)}${alias} -> hpa ${hex(w.hpa)} (pfn ${hex(pfn)}: ${state})`);
  }
  return out;
}

/** The pKVM page states an hv op's operands name (host pages by pfn, guest pages by vm and gfn). */
function pageStates(m: HvModel, op: Op): string[] {
  const o = op as unknown as Record<string, unknown>;
  const out: string[] = [];
  if (typeof o.pfn === 'number') {
    const nr = typeof o.nr === 'bigint' ? Number(o.nr > 4n ? 4n : o.nr) : typeof o.nr === 'number' ? Math.min(o.nr, 4) : 1;
    for (let k = 0; k < Math.max(1, nr); k++) {
      const h = m.hostOf(o.pfn + k);
      out.push(`host pfn ${hex(o.pfn + k)}: ${h.state}${h.state === 'NOPAGE' ? ` owner ${h.owner === 0 ? 'hyp' : h.owner === 1 ? 'host' : `vm ${h.owner}`}` : ''}`);
    }
  }
  if (typeof o.vm === 'number' && typeof o.gfn === 'number') {
    const vm = m.vms.get(o.vm);
    const p = vm?.pages.get(o.gfn);
    out.push(vm === undefined ? `vm ${o.vm}: none` : `vm ${o.vm}${vm.dying ? ' (dying)' : ''} gfn ${hex(o.gfn)}: ${p === undefined ? 'no page' : `${p.state} pfn ${hex(p.pfn)} prot ${p.prot}`}`);
  } else if (typeof o.vm === 'number') {
    const vm = m.vms.get(o.vm);
    out.push(vm === undefined ? `vm ${o.vm}: none` : `vm ${o.vm}: ${vm.type}${vm.dying ? ', dying' : ''}, ${vm.pages.size} pages`);
  }
  return out;
}

/** Which entry and bit decided the fresh outcome's rule, read off the access report. */
function decidedAt(r: AccessReport, ruleIdText: string, outcome: Outcome): string | null {
  // The part the outcome names (a #PF's CR2, an exit's GLA), else the last part.
  const at = outcome.kind === 'pf' ? outcome.cr2 : outcome.kind === 'exit' ? outcome.gla : null;
  const part = r.parts.find((p) => p.la === at) ?? r.parts[r.parts.length - 1];
  const parts = [part];
  const last = part;
  const ept = last.final ?? (last.guest.length > 0 ? last.guest[last.guest.length - 1].ept : null);
  const lvl = /\.l([1-4])$/.exec(ruleIdText);
  if (ruleIdText.startsWith('ept.') && ept !== null) {
    if (lvl !== null) {
      const d = ept.entries.find((e) => e.level === Number(lvl[1]));
      const need = ruleIdText.includes('.write.') ? 'W' : ruleIdText.includes('.fetch-user.') ? 'XU' : ruleIdText.includes('.fetch.') ? 'X' : ruleIdText.includes('table-write') ? 'R and W' : 'R';
      if (d !== undefined) return `${formatEntry(d)}; ${ruleIdText.startsWith('ept.not-present') ? 'not present' : `${need} = 0 here`} (gpa ${hex(ept.gpa)})`;
    }
    const stop = ept.entries.find((e) => e.stop !== null && e.stop.startsWith('misconfigured'));
    if (stop !== undefined) return `${formatEntry(stop)} (gpa ${hex(ept.gpa)})`;
  }
  if (ruleIdText.startsWith('paging.not-present') || ruleIdText.startsWith('paging.rsvd')) {
    for (const p of parts) for (const g of p.guest) if (g.entry?.stop != null && !g.entry.stop.startsWith('leaf')) return formatEntry(g.entry);
  }
  if (ruleIdText.startsWith('paging.') || ruleIdText.startsWith('pk.')) {
    const entries = parts.flatMap((p) => p.guest.map((g) => g.entry)).filter((e) => e !== null);
    const leaf = entries[entries.length - 1];
    if (leaf !== undefined) return `the walk of la ${'0x' + part.la.toString(16)}: ${leaf.rights} (leaf ${formatEntry(leaf)}); registers: ${r.registers}`;
  }
  if (ruleIdText.startsWith('spp.')) {
    for (const p of parts) {
      if (p.sppt === null) continue;
      const denied = p.sppt.subpages.filter((s) => !s.writable).map((s) => s.index);
      const stop = p.sppt.entries.find((e) => e.stop !== null && e.stop !== 'leaf');
      return stop !== undefined ? formatEntry(stop) : `sub-pages touched ${p.sppt.subpages.map((s) => `${s.index}${s.writable ? ' writable' : ' write-protected'}`).join(', ')}${denied.length > 0 ? `: sub-page ${denied[0]} denies` : ''}`;
    }
  }
  return null;
}

/** The decoded difference between the target's outcome and the model's closest one. */
export function describeDifference(actual: Outcome, expected: Outcome, access: AccessReport | null, v: Violation): string[] {
  const out: string[] = [];
  if (v.invariant === 'mem.no-lost-write') {
    const m = /hpa (0x[0-9a-f]+): machine (0x[0-9a-f]+), model (0x[0-9a-f]+)/.exec(v.detail);
    if (m !== null) {
      const hpa = Number.parseInt(m[1], 16);
      const diff = (Number.parseInt(m[2], 16) ^ Number.parseInt(m[3], 16)) & 0xff;
      const bit = diff !== 0 && (diff & (diff - 1)) === 0 ? Math.log2(diff) : null;
      const where = access !== null ? locate(access, hpa, bit) : null;
      const frame = `host frame ${hex(Math.floor(hpa / 4096))} byte ${hex(hpa % 4096)}${bit !== null ? ` bit ${bit}` : ''}`;
      out.push(`memory: ${where ?? (access !== null ? `${frame} (not on this access's walks)` : frame)}: target ${m[2]}, model ${m[3]}`);
    }
    return out;
  }
  if (actual.kind === 'pf' && expected.kind === 'pf') {
    const diff = (actual.code ^ expected.code) >>> 0;
    out.push(`#PF error code: target ${hex(actual.code)} [${pfCodeNames(actual.code)}], model ${hex(expected.code)} [${pfCodeNames(expected.code)}]${diff !== 0 ? `; differing: ${pfCodeNames(diff)}` : ''}`);
    if (actual.cr2 !== expected.cr2) out.push(`CR2: target ${hex(actual.cr2)}, model ${hex(expected.cr2)}`);
    return out;
  }
  if (actual.kind === 'exit' && expected.kind === 'exit' && actual.reason === expected.reason) {
    const diff = (actual.qual ^ expected.qual) >>> 0;
    if (diff !== 0) out.push(`qualification: target ${hex(actual.qual)} [${qualNames(actual.reason, actual.qual)}], model ${hex(expected.qual)} [${qualNames(actual.reason, expected.qual)}]; differing: ${qualNames(actual.reason, diff)}`);
    if (actual.gpa !== expected.gpa) out.push(`gpa: target ${hex(actual.gpa)}, model ${hex(expected.gpa)}`);
    if (actual.gla !== expected.gla) out.push(`gla: target ${actual.gla === null ? '-' : hex(actual.gla)}, model ${expected.gla === null ? '-' : hex(expected.gla)}`);
    return out;
  }
  out.push(`target: ${outcomeLog(actual)}`);
  out.push(`model:  ${outcomeLog(expected)}`);
  return out;
}

/** Replays `trace` on `target` and explains every step (or only step `only`). */
export function explainTrace(trace: Trace, given: Target, only: number | null = null): ExplainedStep[] {
  const watch = new Watch(trace, only);
  const base = targetFor(trace.machine, given);
  const target: Target = {
    makeMachine: (c) => (watch.machine = base.makeMachine(c)),
    makeModel: (c) => {
      const inner = base.makeModel(c);
      watch.model = inner;
      // The same model, with a look at its state before each op's `step`.
      return new Proxy(inner, {
        get(t, k) {
          if (k === 'step') return (op: Op) => { watch.beforeStep(op); return t.step(op); };
          const v: unknown = Reflect.get(t, k, t);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
    },
  };
  const r = runWith(trace, target, { records: true, stopAtFirst: false });
  watch.closeAfter();
  const hv = configMode(trace.machine) === 'hv';
  const out: ExplainedStep[] = [];
  for (const rec of r.records ?? []) {
    if (only !== null && rec.step !== only) continue;
    out.push(explainRecord(rec, watch, hv));
  }
  return out;
}

function explainRecord(rec: StepRecord, watch: Watch | null, hv: boolean): ExplainedStep {
  const access = watch?.access.get(rec.step) ?? null;
  const firstRule = rec.allowedRules[0] ?? -1;
  const firstId = ruleInfo(firstRule)?.id ?? null;
  return {
    step: rec.step,
    op: formatOp(rec.op),
    access,
    pages: hv && watch !== null ? { before: watch.before.get(rec.step) ?? [], after: watch.after.get(rec.step) ?? [] } : null,
    hvWalk: watch?.hvWalk.get(rec.step) ?? null,
    allowed: rec.allowed.map((o, k) => ({ outcome: outcomeLog(o, rec.op.op), rule: note(rec.allowedRules[k]), stale: rec.allowedStale[k] })),
    decided: access !== null && firstId !== null ? decidedAt(access, firstId, rec.allowed[0]) : null,
    actual: { outcome: outcomeLog(rec.actual, rec.op.op), class: outcomeClass(rec.op.op, rec.actual) },
    violations: rec.violations.map((v) => {
      const expected = rec.allowed.find((o) => outcomeClass(rec.op.op, o) === outcomeClass(rec.op.op, rec.actual)) ?? rec.allowed[0];
      // Other explanations that fit the step as well (docs/rules.md "Alternative explanations").
      const alternates = (v.alternates ?? []).map((a) => `${a.invariant}: ${a.coarse}`);
      return { invariant: v.invariant, rule: note(v.rule), detail: v.detail, difference: describeDifference(rec.actual, expected, access, v), alternates };
    }),
  };
}

/**
 * The lines `replay --verbose` prints under a step that has violations: the allowed outcomes with
 * their rules, and each violation with its rule in dispute and the difference decoded (no walk
 * decode: replay does not keep the model's state per step; `explain` shows it).
 */
export function violationLines(rec: StepRecord, indent = '        '): string[] {
  if (rec.violations.length === 0) return [];
  const s = explainRecord(rec, null, false);
  const L: string[] = [];
  s.allowed.forEach((a, k) => L.push(`${indent}model [${k}] ${a.outcome}${a.stale ? ' (cached)' : ''}${a.rule !== null ? ` -- rule ${a.rule.id}` : ''}`));
  for (const v of s.violations) {
    L.push(`${indent}!! ${v.invariant}: ${v.detail}`);
    if (v.rule !== null) L.push(`${indent}   rule in dispute ${v.rule.id}: ${v.rule.meaning} [${v.rule.source}]`);
    for (const d of v.difference) L.push(`${indent}   ${d}`);
    for (const a of v.alternates) L.push(`${indent}   also fits: ${a}`);
  }
  return L;
}

/** The human form of an explained step. */
export function formatExplained(s: ExplainedStep): string {
  const L: string[] = [];
  L.push(`step ${s.step}: ${s.op}`);
  if (s.access !== null) {
    L.push(`  registers: ${s.access.registers}`);
    for (const p of s.access.parts) {
      L.push(`  part la ${hex(p.la)} size ${p.size}:`);
      for (const g of p.guest) {
        L.push(`    guest table entry gpa ${hex(g.tableGpa)}, its EPT walk:`);
        for (const e of g.ept.entries) L.push(`      ${formatEntry(e)}`);
        if (g.entry !== null) L.push(`    ${formatEntry(g.entry)}`);
      }
      if (p.gpa !== null) L.push(`    final gpa ${hex(p.gpa)}, its EPT walk:`);
      for (const e of p.final?.entries ?? []) L.push(`      ${formatEntry(e)}`);
      if (p.final?.hpa != null) L.push(`      -> hpa ${hex(p.final.hpa)}`);
      if (p.sppt !== null) {
        for (const e of p.sppt.entries) L.push(`      ${formatEntry(e)}`);
        L.push(`      sub-pages: ${p.sppt.subpages.map((x) => `${x.index} ${x.writable ? 'writable' : 'write-protected'}`).join(', ') || '-'}`);
      }
    }
  }
  for (const line of s.hvWalk ?? []) L.push(`  ${line}`);
  if (s.pages !== null) {
    if (s.pages.before.length > 0) L.push(`  pages before: ${s.pages.before.join('; ')}`);
    if (s.pages.after.length > 0) L.push(`  pages after:  ${s.pages.after.join('; ')}`);
  }
  L.push('  the model allows:');
  s.allowed.forEach((a, k) => {
    L.push(`    [${k}] ${a.outcome}${a.stale ? ' (through a cached translation)' : ''}`);
    if (a.rule !== null) L.push(`        rule ${a.rule.id}: ${a.rule.meaning} [${a.rule.source}]`);
  });
  if (s.decided !== null) L.push(`  decided at: ${s.decided}`);
  L.push(`  the target: ${s.actual.outcome} (${s.actual.class})`);
  for (const v of s.violations) {
    L.push(`  !! ${v.invariant}: ${v.detail}`);
    if (v.rule !== null) L.push(`     rule in dispute ${v.rule.id}: ${v.rule.meaning} [${v.rule.source}]`);
    for (const d of v.difference) L.push(`     ${d}`);
    for (const a of v.alternates) L.push(`     also fits: ${a}`);
  }
  return L.join('\n') + '\n';
}

/** The JSON form (`--json`): one object per step, numbers as hex strings where they are addresses. */
export function explainedJson(file: string, s: ExplainedStep): string {
  return JSON.stringify({ file, ...s }, (_k, v: unknown) => (typeof v === 'bigint' ? hex(v) : v));
}
