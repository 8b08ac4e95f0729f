/**
 * The reference model: for every op, the SET of outcomes the architecture allows (ref §6: a
 * stale cached translation may serve until a required invalidation), and `commit` to follow the
 * branch the machine took. Contract: src/model/api.ts. allowed[0] is always the fresh walk;
 * further candidates use entries that may be cached (tlb.ts) and are marked stale (under
 * choices.staleDenial = 'sdm' also the faults of cached entries that deny; under
 * choices.guestAccessedOnFault = 'sdm' a faulting walk's A updates add unmarked candidates); `flushed`
 * lists outcomes only recently invalidated entries could give. Planted bugs are never modelled.
 * The rules follow docs/semantics.md (sources: docs/references.md); each carries its rule id (src/model/rules.ts).
 */
import { type MachineConfig, adUpdateMappingOf, eptAccessedOnFaultOf, guestAccessedOnFaultOf, staleDenialOf } from '../hw/config.js';
import {
  CR0_PG, CR0_WP, CR4_PGE, CR4_PKE, CR4_PKS, CR4_SMAP, CR4_SMEP, CTL2_MBEC, CTL2_SPP, EFER_NXE, EPTP_AD,
  PF_I, PF_U, PF_W, VMERR_ENTRY_INVALID_CTLS, VMERR_INVEPT_INVVPID_OPERAND,
} from '../hw/bits.js';
import { OK, type Outcome, sameOutcome } from '../hw/outcome.js';
import type { Op } from '../trace/ops.js';
import { type AccessContext, type AccessSetup, AccessRun, type Part } from './access.js';
import type { AccessStages, Candidate, ReferenceModelApi, SpecStep } from './api.js';
import { NO_EFFECTS, NO_FRAMES, SpecCandidate } from './candidate.js';
import { mod, splitU64 } from './entry.js';
import { type EptContext, EptAccess, type EptWalk, eptWalk } from './ept.js';
import { type Mode, exploreCached, exploreFlushed } from './explore.js';
import { SpecMemory, ZERO_ENTRY } from './memory.js';
import { eptDebugTranslate, eptEntryHpa, guestDebugTranslate, guestEntryHpa, type PathContext, spptEntryHpa } from './path-ops.js';
import { type RegFlush, type VcpuState, initialVcpu, setReg } from './registers.js';
import { VcpuTlb } from './tlb.js';
import { PageWalkMemo } from './walk-memo.js';
import { entryAddress } from './entry.js';
import { ctls2Valid, ep4taOf, eptpValid, inveptFailRule, inveptScope, invvpidFailRule, invvpidScope, spptpValid } from './vmx.js';
import { NO_RULE, RULE } from './rules.js';
import type { Reg } from '../trace/ops.js';

/** Bound on the candidates of one access (each is a distinct stale combination). */
export const MAX_CANDIDATES = 64;
/** Bound on the branch runs explored per access (and per flushed pass). */
export const MAX_RUNS = 256;

const LINEAR_SPACE = 2 ** 48;

interface Vcpu {
  state: VcpuState;
  /** The access context derived from `state` (recomputed when the state object is replaced). */
  derived: { from: VcpuState; ctx: AccessContext } | null;
  readonly tlb: VcpuTlb;
  /** VPID = index + 1 (docs/semantics.md "Machine shape"). */
  readonly vpid: number;
}

export class ReferenceModel implements ReferenceModelApi {
  private readonly mem: SpecMemory;
  private readonly vcpus: Vcpu[] = [];
  private last: readonly SpecCandidate[] = [];
  private lastStep: SpecStep | null = null;
  /** Remembered EPT walks of committed memory (walk-memo.ts): guest accesses' and path ops'. */
  private readonly eptWalks: PageWalkMemo<EptWalk>;
  /** Path-op contexts without and with MBEC (built once: path ops are frequent). */
  private readonly pathContexts: readonly PathContext[];

  constructor(readonly config: MachineConfig) {
    this.mem = new SpecMemory(config.framesMax);
    const eptContexts = [false, true].map((mbec): EptContext => ({ maxPhyAddr: config.maxPhyAddr, mbec, execOnly: config.caps.eptExecOnly, page1G: config.caps.page1G }));
    this.eptWalks = new PageWalkMemo(this.mem, (mem, root, gpa, mbec) => eptWalk(mem, root, gpa, eptContexts[mbec ? 1 : 0]));
    const debugWalks = new PageWalkMemo(this.mem, (mem, root, gpa, mbec) => eptDebugTranslate({ mem, maxPhyAddr: config.maxPhyAddr, mbec }, root, gpa));
    this.pathContexts = [false, true].map((mbec): PathContext => ({
      mem: this.mem,
      maxPhyAddr: config.maxPhyAddr,
      mbec,
      debugTranslate: (root, gpa) => {
        const page = debugWalks.get(root, Math.floor(gpa / 4096), mbec).value;
        return page === null ? null : page + mod(gpa, 4096);
      },
    }));
    for (let i = 0; i < config.vcpus; i++) this.vcpus.push({ state: initialVcpu(config), derived: null, tlb: new VcpuTlb(), vpid: i + 1 });
  }

  // ---- the contract -------------------------------------------------------------------------

  step(op: Op): SpecStep {
    const s = this.stepInner(op);
    this.last = s.allowed as SpecCandidate[];
    this.lastStep = s;
    return s;
  }

  commit(candidate: Candidate): void {
    if (!this.last.includes(candidate as SpecCandidate)) throw new Error('commit: not a candidate of the last step');
    this.last = [];
    if (this.lastStep instanceof AccessStep) this.lastStep.expire();
    this.lastStep = null;
    // The rule of the op is the cause a required invalidation records (tlb.ts flushedBy).
    const rule = (candidate as SpecCandidate).rule;
    for (const v of this.vcpus) v.tlb.flushRule = rule;
    (candidate as SpecCandidate).effects();
  }

  readPhys(hpa: number, size: number): bigint {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.mem.readByte(hpa + i));
    return v;
  }

  /** A copy of a frame's bytes, or null if the frame was never written. */
  frameBytes(frame: number): Uint8Array | null {
    return this.mem.frameBytes(frame)?.slice() ?? null;
  }

  /** The live bytes of a frame (zero-copy, read-only for the caller, valid until the next commit). */
  /** Bound once: candidates use it to show the bytes a frame keeps when they do not write it. */
  readonly currentFrame = (frame: number): Uint8Array | null => this.frameView(frame);

  frameView(frame: number): Uint8Array | null {
    return this.mem.frameBytes(frame);
  }

  /** Every frame ever written (full sweeps). */
  frames(): readonly number[] {
    return this.mem.frameNumbers();
  }

  // ---- read-only views for tests and checkers -------------------------------------------------

  vcpuState(cpu: number): Readonly<VcpuState> {
    return this.vcpu(cpu).state;
  }

  tlbOf(cpu: number): VcpuTlb {
    return this.vcpu(cpu).tlb;
  }

  // ---- ops ----------------------------------------------------------------------------------

  private stepInner(op: Op): SpecStep {
    switch (op.op) {
      case 'read': case 'write': case 'fetch':
        return this.access(op.cpu, op.op, op.la, op.size, op.op === 'write' ? op.value : 0n);
      case 'set_reg': {
        const v = this.vcpu(op.cpu);
        const r = setReg(v.state, op.reg, op.value, this.config);
        if (r === null) return one({ kind: 'gp' }, NO_FRAMES, NO_EFFECTS, regRule(op.reg, true));
        return one(OK, NO_FRAMES, () => {
          v.state = r.next;
          flushRegs(v.tlb, r.flush);
        }, regRule(op.reg, false));
      }
      case 'invlpg': {
        // ref §6.2: the page's combined mappings for the current VPID, all EP4TAs, globals included
        const v = this.vcpu(op.cpu);
        return one(OK, NO_FRAMES, () => v.tlb.invalidateCombined(null, Math.floor(op.la / 4096), false), RULE.invlpg);
      }
      case 'invvpid': {
        const v = this.vcpu(op.cpu);
        const scope = invvpidScope(op.type, op.vpid, op.la, this.config);
        if (scope === null) return one({ kind: 'vmfail', error: VMERR_INVEPT_INVVPID_OPERAND }, NO_FRAMES, NO_EFFECTS, invvpidFailRule(op.type, op.vpid, this.config));
        return one(OK, NO_FRAMES, () => {
          if (scope.kind === 'all') v.tlb.invalidateCombined(null, null, false);
          else if (scope.vpid !== v.vpid) return; // this logical processor holds only its own VPID
          else if (scope.kind === 'address') v.tlb.invalidateCombined(null, scope.linearPage, false);
          else v.tlb.invalidateCombined(null, null, scope.keepGlobal);
        }, RULE.invvpid[op.type]);
      }
      case 'invept': {
        const v = this.vcpu(op.cpu);
        const scope = inveptScope(op.type, op.eptp, this.config);
        if (scope === null) return one({ kind: 'vmfail', error: VMERR_INVEPT_INVVPID_OPERAND }, NO_FRAMES, NO_EFFECTS, inveptFailRule(op.type, this.config));
        return one(OK, NO_FRAMES, () => {
          // ref §6.2: guest-physical and combined mappings of the EP4TA (or all), all VPIDs
          v.tlb.invalidateGpa(scope.ep4ta, null);
          v.tlb.invalidateCombined(scope.ep4ta, null, false);
        }, scope.ep4ta === null ? RULE.inveptAll : RULE.inveptSingle);
      }
      case 'set_eptp': {
        const v = this.vcpu(op.cpu);
        if (!eptpValid(op.value, this.config)) return one({ kind: 'vmfail', error: VMERR_ENTRY_INVALID_CTLS }, NO_FRAMES, NO_EFFECTS, RULE.eptpBad);
        return one(OK, NO_FRAMES, () => { v.state = { ...v.state, eptp: Number(op.value) }; }, RULE.eptpOk);
      }
      case 'set_spptp': {
        const v = this.vcpu(op.cpu);
        // SDM-3C 26.2.1.1: the SPPTP is checked only while "sub-page write permissions" is 1.
        if ((v.state.ctls2 & CTL2_SPP) !== 0 && !spptpValid(op.value, this.config)) return one({ kind: 'vmfail', error: VMERR_ENTRY_INVALID_CTLS }, NO_FRAMES, NO_EFFECTS, RULE.spptpBad);
        return one(OK, NO_FRAMES, () => { v.state = { ...v.state, spptp: Number(op.value) }; }, RULE.spptpOk);
      }
      case 'set_ctls2': {
        const v = this.vcpu(op.cpu);
        if (!ctls2Valid(op.value, this.config)) return one({ kind: 'vmfail', error: VMERR_ENTRY_INVALID_CTLS }, NO_FRAMES, NO_EFFECTS, RULE.ctls2Bad);
        // Turning SPP on makes the next VM entry check the SPPTP written while it was off.
        if ((op.value & CTL2_SPP) !== 0 && !spptpValid(BigInt(v.state.spptp), this.config)) return one({ kind: 'vmfail', error: VMERR_ENTRY_INVALID_CTLS }, NO_FRAMES, NO_EFFECTS, RULE.ctls2Spptp);
        return one(OK, NO_FRAMES, () => { v.state = { ...v.state, ctls2: op.value }; }, RULE.ctls2Ok);
      }
      case 'phys_write': {
        if (op.hpa + op.size > this.mem.ramEnd) return one({ kind: 'noent' }, NO_FRAMES, NO_EFFECTS, RULE.physNoent);
        const frames = framesOf(op.hpa, op.size);
        return one(OK, frames, () => {
          let v = op.value;
          for (let i = 0; i < op.size; i++, v >>= 8n) this.mem.writeByte(op.hpa + i, Number(v & 0xffn));
        }, RULE.physOk);
      }
      case 'phys_read': {
        if (op.hpa + op.size > this.mem.ramEnd) return one({ kind: 'noent' }, NO_FRAMES, NO_EFFECTS, RULE.physNoent);
        return one({ kind: 'data', value: this.readPhys(op.hpa, op.size) }, NO_FRAMES, NO_EFFECTS, RULE.physOk);
      }
      case 'ept_set': {
        const v = this.vcpu(op.cpu);
        return this.entryWrite(eptEntryHpa(this.pathContext(v), eptRootOf(v.state), op.gpa, op.level), op.entry);
      }
      case 'gpt_set': {
        const v = this.vcpu(op.cpu);
        const hpa = guestEntryHpa(this.pathContext(v), eptRootOf(v.state), cr3TableOf(v.state), op.la, op.level);
        return this.entryWrite(hpa, op.entry);
      }
      case 'sppt_set': {
        const v = this.vcpu(op.cpu);
        // The SPPT root is SPPTP bits [MAXPHYADDR-1:12], as for every table address (docs/semantics.md
        // "Path ops"); an SPPTP with other bits is possible while SPP is off.
        const root = entryAddress({ lo: v.state.spptp >>> 0, hi: Math.floor(v.state.spptp / 2 ** 32) }, this.config.maxPhyAddr);
        return this.entryWrite(spptEntryHpa(this.pathContext(v), root, op.gpa, op.level), op.entry);
      }
      default:
        throw new RangeError(`op '${op.op}' is a hypervisor op: it runs only in hv mode (the bare model has no hypervisor)`);
    }
  }

  private entryWrite(hpa: number | null, entry: bigint): SpecStep {
    if (hpa === null) return one({ kind: 'noent' }, NO_FRAMES, NO_EFFECTS, RULE.pathNoent);
    const { lo, hi } = splitU64(entry);
    return one(OK, [Math.floor(hpa / 4096)], () => this.mem.writeQword(hpa, lo, hi), RULE.pathSet);
  }

  /** The GPA a debug walk of memory (no checks, no cache) maps `la` to on `v` now, or null (classification only). */
  debugGuestGpa(v: Vcpu, la: number): number | null {
    if ((v.state.cr0 & CR0_PG) === 0) return la;
    return guestDebugTranslate(this.pathContext(v), eptRootOf(v.state), cr3TableOf(v.state), la);
  }

  private pathContext(v: Vcpu): PathContext {
    return this.pathContexts[(v.state.ctls2 & CTL2_MBEC) !== 0 ? 1 : 0];
  }

  private vcpu(cpu: number): Vcpu {
    const v = this.vcpus[cpu];
    if (v === undefined) throw new Error(`cpu ${cpu} does not exist (vcpus = ${this.config.vcpus})`);
    return v;
  }

  // ---- guest accesses -------------------------------------------------------------------------

  private access(cpu: number, kind: 'read' | 'write' | 'fetch', la: number, size: number, value: bigint): SpecStep {
    const v = this.vcpu(cpu);
    const setup = this.accessSetup(v, kind, la, size, value);
    let made = 0;
    const runOne = (prefix: number[], mode: Mode): AccessRun => {
      if (++made === 2) setup.points = new Map(); // explored: the runs share their translation points
      return new AccessRun(setup, prefix, mode).run();
    };
    const { runs, flushedAvailable } = exploreCached(runOne, MAX_RUNS);
    let allowed: SpecCandidate[];
    if (runs.length === 1) {
      // The common case: one run, one candidate.
      const frames = runFrames(runs[0]);
      allowed = [new AccessCandidate(this, v, setup.cx.ep4ta, runs[0], kind, false, frames, frames)];
    } else {
      const kept: AccessRun[] = [];
      for (const r of runs) {
        const twin = kept.find((k) => sameOutcome(k.outcome, r.outcome) && sameEffects(k, r));
        if (twin !== undefined) {
          // same outcome and memory effects: keep one, remember every translation either may cache
          twin.gpaFills.push(...r.gpaFills);
          twin.combFills.push(...r.combFills);
          twin.absorbProgress(r);
        } else if (kept.length < MAX_CANDIDATES) kept.push(r);
      }
      const frames = kept.map(runFrames);
      const stepFrames = kept.length > 1 ? [...new Set(frames.flat())] : frames[0];
      // stale: relies on a cached entry (a run that only set guest A on a fault does not).
      allowed = kept.map((r, i) => new AccessCandidate(this, v, setup.cx.ep4ta, r, kind, i > 0 && r.usedCached, frames[i], stepFrames));
    }
    const step: AccessRedo = { model: this, v, kind, la, size, value };
    if (!flushedAvailable) return new AccessStep(allowed, step);
    // The flushed pass only classifies an outcome that no candidate allows (checkers.ts), so it
    // runs when `flushed` is first read (it costs as much as all the other runs together).
    // Of the flushed runs that give the target's outcome and memory, the one that used the fewest
    // flushed mappings names the flush: a split access whose other part a later flush also
    // removed is explained by the part the target could not have walked afresh.
    // The flushed pass runs once per step, whichever of the three questions below asks first.
    let flushedRuns: AccessRun[] | null = null;
    const flushedPass = (): AccessRun[] => (flushedRuns ??= exploreFlushed(runOne, MAX_RUNS));
    const matching = (actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null): number | null => {
      let best: AccessRun | null = null;
      for (const r of flushedPass()) {
        if (!r.usedFlushedBeyondAdUpdates || r.usedDenied || !sameOutcome(r.outcome, actual)) continue;
        if (this.leavesMemoryAs(r, frames, view) && (best === null || r.flushedUses < best.flushedUses)) best = r;
      }
      return best === null ? null : best.flushRule;
    };
    // A run that served a part through a cached mapping whose rights deny (access.ts usedDenied)
    // and gives the target's outcome and memory: the denial it went through, as a candidate of
    // the fault that mapping gives (for the classifier only, never committed).
    const denied = (actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null): Candidate | null => {
      for (const r of flushedPass()) {
        if (!r.usedDenied || r.usedFlushed || r.deniedOutcome === null || !sameOutcome(r.outcome, actual)) continue;
        if (this.leavesMemoryAs(r, frames, view)) return deniedCandidate(r, kind, r.deniedOutcome);
      }
      return null;
    };
    return new LazyFlushedStep(allowed, step, matching, denied, (rules) => {
      const flushed: Outcome[] = [];
      for (const r of flushedPass()) {
        if (!r.usedFlushedBeyondAdUpdates || r.usedDenied) continue;
        if (allowed.some((c) => sameOutcome(c.outcome, r.outcome)) || flushed.some((o) => sameOutcome(o, r.outcome))) continue;
        flushed.push(r.outcome);
        rules.push(r.flushRule);
      }
      return flushed;
    });
  }

  /** Whether committing run `r` would leave `frames` (and the frames it writes) as `view` shows them. */
  private leavesMemoryAs(r: AccessRun, frames: readonly number[], view: (frame: number) => Uint8Array | null): boolean {
    for (const f of new Set([...frames, ...runFrames(r)])) {
      const mine = this.predictFrame(r, f) ?? this.mem.frameBytes(f);
      const theirs = view(f);
      for (let k = 0; k < 4096; k++) if ((mine === null ? 0 : mine[k]) !== (theirs === null ? 0 : theirs[k])) return false;
    }
    return true;
  }

  /**
   * Classification only (AccessStep.otherKeyRegisterMatching): whether some run of the access,
   * with PKRU and IA32_PKRS (and CR4.PKE and CR4.PKS) trading places, gives `actual` and leaves
   * memory as `view` shows it. Reads the state before the step's commit; changes nothing.
   */
  swappedKeyRunMatches(v: Vcpu, kind: 'read' | 'write' | 'fetch', la: number, size: number, value: bigint, actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null): boolean {
    const setup = this.accessSetup(v, kind, la, size, value);
    const r = setup.cx.rights;
    if (!r.pke && !r.pks) return false; // no keys: nothing to swap
    setup.cx = { ...setup.cx, rights: { ...r, pke: r.pks, pks: r.pke, pkru: r.pkrs, pkrs: r.pkru } };
    let made = 0;
    const runOne = (prefix: number[], mode: Mode): AccessRun => {
      if (++made === 2) setup.points = new Map();
      return new AccessRun(setup, prefix, mode).run();
    };
    for (const run of exploreCached(runOne, MAX_RUNS).runs) if (sameOutcome(run.outcome, actual) && this.leavesMemoryAs(run, frames, view)) return true;
    return false;
  }

  private accessSetup(v: Vcpu, kind: 'read' | 'write' | 'fetch', la: number, size: number, value: bigint): AccessSetup {
    // Step 1: split at 4 KiB boundaries of the (48-bit) linear address.
    const first = Math.min(size, 4096 - mod(la, 4096));
    const parts: Part[] = [{ la, size: first, linearPage: Math.floor(la / 4096) }];
    if (first < size) {
      const la2 = (la + first) % LINEAR_SPACE;
      parts.push({ la: la2, size: size - first, linearPage: Math.floor(la2 / 4096) });
    }
    // Two BigInt operations for the halves (BigInt arithmetic per byte is slow).
    const { lo: writeLo, hi: writeHi } = kind === 'write' ? splitU64(value) : ZERO_ENTRY;
    const cx = this.context(v);
    const nxe = cx.rights.nxe;
    return {
      cx,
      kind,
      final: kind === 'read' ? EptAccess.Read : kind === 'write' ? EptAccess.Write : EptAccess.Fetch,
      parts,
      writeLo,
      writeHi,
      // semantics.md step 2: W (write), U (CPL 3), I (fetch and (SMEP or NXE))
      pfAccessBits: (kind === 'write' ? PF_W : 0) | (cx.rights.cpl === 3 ? PF_U : 0) | (kind === 'fetch' && (cx.rights.smep || nxe) ? PF_I : 0),
      points: null,
    };
  }

  /** The register-derived part of an access setup, shared by every access until the state changes. */
  private context(v: Vcpu): AccessContext {
    if (v.derived !== null && v.derived.from === v.state) return v.derived.ctx;
    const st = v.state;
    const c = this.config;
    const eptAD = (st.eptp & EPTP_AD) !== 0;
    const nxe = (st.efer & EFER_NXE) !== 0;
    const ctx: AccessContext = {
      // ref §1.3 EPT A/D: every guest paging-structure access is treated as a write
      tableAccess: eptAD ? EptAccess.TableWrite : EptAccess.TableRead,
      config: c,
      mem: this.mem,
      tlb: v.tlb,
      paging: (st.cr0 & CR0_PG) !== 0,
      cr3Table: cr3TableOf(st),
      eptRoot: eptRootOf(st),
      ep4ta: ep4taOf(st.eptp),
      eptAD,
      eptCtx: { maxPhyAddr: c.maxPhyAddr, mbec: (st.ctls2 & CTL2_MBEC) !== 0, execOnly: c.caps.eptExecOnly, page1G: c.caps.page1G },
      guestCtx: { maxPhyAddr: c.maxPhyAddr, nxe, page1G: c.caps.page1G },
      rights: {
        cpl: st.cpl,
        wp: (st.cr0 & CR0_WP) !== 0,
        smep: (st.cr4 & CR4_SMEP) !== 0,
        smap: (st.cr4 & CR4_SMAP) !== 0,
        ac: st.ac,
        nxe,
        pke: (st.cr4 & CR4_PKE) !== 0,
        pks: (st.cr4 & CR4_PKS) !== 0,
        pkru: st.pkru,
        pkrs: st.pkrs,
        pkOnUserToSupervisor: c.choices.pkOnUserToSupervisor,
      },
      sppOn: (st.ctls2 & CTL2_SPP) !== 0,
      spptp: st.spptp,
      pge: (st.cr4 & CR4_PGE) !== 0,
      staleDenial: staleDenialOf(c) === 'sdm',
      accessedOnFault: guestAccessedOnFaultOf(c) === 'sdm',
      adUpdateCached: adUpdateMappingOf(c) === 'sdm',
      eptAccessedOnFault: eptAccessedOnFaultOf(c) === 'sdm',
      eptWalks: this.eptWalks,
    };
    v.derived = { from: st, ctx };
    return ctx;
  }

  /** The bytes of `frame` after committing run `r`, or null when `r` does not write it. */
  predictFrame(r: AccessRun, frame: number): Uint8Array | null {
    let out: Uint8Array | null = null;
    const copy = (): Uint8Array => (out ??= this.mem.frameBytes(frame)?.slice() ?? new Uint8Array(4096));
    const w = r.writes;
    for (let i = 0; i < w.length; i += 3) {
      if (Math.floor(w[i] / 4096) !== frame) continue;
      const o = w[i] % 4096;
      const b = copy();
      for (let k = 0; k < 4; k++) b[o + k] = (w[i + 1] >>> (8 * k)) & 0xff;
      for (let k = 0; k < 4; k++) b[o + 4 + k] = (w[i + 2] >>> (8 * k)) & 0xff;
    }
    const d = r.dataWrites;
    for (let i = 0; i < d.length; i += 2) if (Math.floor(d[i] / 4096) === frame) copy()[d[i] % 4096] = d[i + 1];
    return out;
  }

  /** Commits one access branch: memory, then caches filled, then the invalidations its fault requires. */
  applyRun(v: Vcpu, ep4ta: number, r: AccessRun): void {
    const w = r.writes;
    for (let i = 0; i < w.length; i += 3) this.mem.writeQword(w[i], w[i + 1], w[i + 2]);
    const d = r.dataWrites;
    for (let i = 0; i < d.length; i += 2) this.mem.writeByte(d[i], d[i + 1]);
    for (const f of r.gpaFills) v.tlb.fillGpa(ep4ta, f.page, f.m);
    for (const f of r.combFills) v.tlb.fillCombined(ep4ta, f.page, f.m);
    if (r.gpaDrop !== null) v.tlb.invalidateGpa(ep4ta, r.gpaDrop);
    if (r.combDrop !== null) v.tlb.invalidateCombined(ep4ta, r.combDrop, false);
  }
}

/**
 * The classifier's view of a run that went through a cached mapping's denial (access.ts
 * usedDenied): the fault the architecture gives there, with the run's stage records (the denying
 * mapping's walk rights), so a signature names the check the target judged otherwise.
 */
function deniedCandidate(run: AccessRun, kind: 'read' | 'write' | 'fetch', outcome: Outcome): Candidate {
  const keyStage = (st: AccessStages | null): AccessStages | null => st !== null && st.keyStage === NO_RULE && kind === 'fetch' ? { ...st, keyStage: RULE.pkFetch } : st;
  const first = keyStage({ rightsStage: run.rightsStage, keyStage: run.keyStage, keyOtherDenies: run.keyOtherDenies })!;
  return {
    outcome, stale: true, frames: NO_FRAMES, rule: run.deniedRule,
    rightsStage: first.rightsStage, keyStage: first.keyStage, keyOtherDenies: first.keyOtherDenies,
    stagesAt: (page) => keyStage(run.stagesAt(page)),
    stopPart: run.stopPart, partPages: run.partPages, finalGpaOf: (i) => run.finalGpaOf(i),
  };
}

/** The `flushed` list of a step that has none (shared: nobody changes a step's lists). */
const NO_OUTCOMES: Outcome[] = Object.freeze([]) as unknown as Outcome[];

/** A candidate of a guest access: committing it applies its run (one object per candidate, no closures). */
class AccessCandidate extends SpecCandidate {
  constructor(
    private readonly model: ReferenceModel,
    private readonly v: Vcpu,
    private readonly ep4ta: number,
    private readonly run: AccessRun,
    private readonly kind: 'read' | 'write' | 'fetch',
    stale: boolean,
    frames: readonly number[],
    stepFrames: readonly number[],
  ) {
    super(run.outcome, stale, frames, NO_EFFECTS, null, stepFrames, model.currentFrame, run.rule);
  }

  override effects(): void {
    this.model.applyRun(this.v, this.ep4ta, this.run);
  }

  protected override predicted(frame: number): Uint8Array | null {
    return this.model.predictFrame(this.run, frame);
  }

  get rightsStage(): number {
    return this.run.rightsStage;
  }

  get keyStage(): number {
    // Fetches are never keyed, whatever the walk reached (rules.ts pk.fetch-exempt).
    return this.run.keyStage === NO_RULE && this.kind === 'fetch' ? RULE.pkFetch : this.run.keyStage;
  }

  get keyOtherDenies(): boolean {
    return this.run.keyOtherDenies;
  }

  get stopPart(): number {
    return this.run.stopPart;
  }

  get partPages(): readonly number[] {
    return this.run.partPages;
  }

  finalGpaOf(part: number): number | null {
    return this.run.finalGpaOf(part);
  }

  debugFinalGpaOf(part: number): number | null {
    if (part <= this.run.stopPart) return null;
    const page = this.run.partPages[part];
    return page === undefined ? null : this.model.debugGuestGpa(this.v, page * 4096);
  }

  xoReportAt(gpa: number): Outcome | null {
    return this.run.xoReportAt(gpa);
  }

  stagesAt(linearPage: number): AccessStages | null {
    const st = this.run.stagesAt(linearPage);
    // Fetches are never keyed (as keyStage above).
    return st !== null && st.keyStage === NO_RULE && this.kind === 'fetch' ? { ...st, keyStage: RULE.pkFetch } : st;
  }

  /** What this candidate writes at `hpa`: a data byte of the access, a table entry (A/D), or nothing (a lost write's signature). */
  wroteAt(hpa: number): 'data' | 'entry' | null {
    const d = this.run.dataWrites;
    for (let i = 0; i < d.length; i += 2) if (d[i] === hpa) return 'data';
    const w = this.run.writes;
    for (let i = 0; i < w.length; i += 3) if (hpa >= w[i] && hpa < w[i] + 8) return 'entry';
    return null;
  }
}

/** What an access step needs to run its access again under a hypothesis (AccessStep). */
interface AccessRedo {
  model: ReferenceModel;
  v: Vcpu;
  kind: 'read' | 'write' | 'fetch';
  la: number;
  size: number;
  value: bigint;
}

/**
 * A guest access step. Besides its allowed candidates it answers, before commit, whether the
 * access run with the key registers swapped (each page's key checked against the other address
 * type's register: PKRS for a user-mode page, PKRU for a supervisor-mode one) gives exactly the
 * target's outcome and memory (pk.register-by-address for the whole access, cached translations
 * and fresh walks alike; for the classifier only).
 */
class AccessStep implements SpecStep {
  protected expired = false;

  constructor(
    readonly allowed: Candidate[],
    private readonly redo: AccessRedo,
  ) {}

  get flushed(): Outcome[] {
    return NO_OUTCOMES;
  }

  otherKeyRegisterMatching(actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null): boolean {
    if (this.expired) throw new Error('SpecStep.otherKeyRegisterMatching after commit: call it before committing the step');
    const { model, v, kind, la, size, value } = this.redo;
    return model.swappedKeyRunMatches(v, kind, la, size, value, actual, frames, view);
  }

  expire(): void {
    this.expired = true;
  }
}

/**
 * An access step whose `flushed` list is computed when first read. It describes the state the
 * step saw, so it must be read before the step's candidate is committed (the runner reads it
 * only then, to classify a disagreement); reading it later throws rather than answer wrongly.
 */
class LazyFlushedStep extends AccessStep {
  private list: Outcome[] | null = null;
  private readonly rules: number[] = [];

  constructor(
    allowed: Candidate[],
    redo: AccessRedo,
    private readonly matching: (actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null) => number | null,
    private readonly denied: (actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null) => Candidate | null,
    private readonly compute: (rules: number[]) => Outcome[],
  ) {
    super(allowed, redo);
  }

  flushedMatching(actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null): number | null {
    if (this.expired) throw new Error('SpecStep.flushedMatching after commit: call it before committing the step');
    return this.matching(actual, frames, view);
  }

  deniedMatching(actual: Outcome, frames: readonly number[], view: (frame: number) => Uint8Array | null): Candidate | null {
    if (this.expired) throw new Error('SpecStep.deniedMatching after commit: call it before committing the step');
    return this.denied(actual, frames, view);
  }

  override get flushed(): Outcome[] {
    if (this.list === null) {
      if (this.expired) throw new Error('SpecStep.flushed read after commit: read it before committing the step');
      this.list = this.compute(this.rules);
    }
    return this.list;
  }

  get flushedRules(): readonly number[] {
    void this.flushed;
    return this.rules;
  }

}

function one(outcome: Outcome, frames: readonly number[] = NO_FRAMES, effects: () => void = NO_EFFECTS, rule = NO_RULE): SpecStep {
  return { allowed: [new SpecCandidate(outcome, false, frames, effects, null, frames, null, rule)], flushed: NO_OUTCOMES };
}

/** The rule of a `set_reg` (semantics.md "Register writes"): the register's write or its #GP. */
function regRule(reg: Reg, gp: boolean): number {
  switch (reg) {
    case 'cr0': return gp ? RULE.regCr0Gp : RULE.regCr0;
    case 'cr3': return gp ? RULE.regCr3Gp : RULE.regCr3;
    case 'cr4': return gp ? RULE.regCr4Gp : RULE.regCr4;
    case 'efer': return gp ? RULE.regEferGp : RULE.regEfer;
    default: return gp ? RULE.regOtherGp : RULE.regOther;
  }
}

function flushRegs(tlb: VcpuTlb, flush: RegFlush): void {
  if (flush === 'all') tlb.invalidateCombined(null, null, false);
  else if (flush === 'non-global') tlb.invalidateCombined(null, null, true);
}

function eptRootOf(st: VcpuState): number {
  return Math.floor(st.eptp / 4096) * 4096;
}

function cr3TableOf(st: VcpuState): number {
  return Math.floor(st.cr3 / 4096) * 4096;
}

function framesOf(hpa: number, size: number): number[] {
  const a = Math.floor(hpa / 4096);
  const b = Math.floor((hpa + size - 1) / 4096);
  return a === b ? [a] : [a, b];
}

function runFrames(r: AccessRun): readonly number[] {
  if (r.writes.length === 0 && r.dataWrites.length === 0) return NO_FRAMES;
  const out: number[] = [];
  for (let i = 0; i < r.writes.length; i += 3) addFrame(out, r.writes[i]);
  for (let i = 0; i < r.dataWrites.length; i += 2) addFrame(out, r.dataWrites[i]);
  return out;
}

function addFrame(frames: number[], hpa: number): void {
  const f = Math.floor(hpa / 4096);
  if (!frames.includes(f)) frames.push(f);
}

function sameEffects(a: AccessRun, b: AccessRun): boolean {
  return sameArray(a.writes, b.writes) && sameArray(a.dataWrites, b.dataWrites);
}

function sameArray(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
