/**
 * Lowering: the trace the guest agent runs, as a trace the reference model can judge.
 * Contract: `lower(trace)` returns a trace with the same configuration whose ops are the original
 * ones plus harness ops, and `origin[i]` = the original index of lowered op i (-1 for a harness op).
 * Harness ops are ordinary trace ops, so the model accounts for every byte the stub touches:
 * - a prologue of phys_write ops builds the stub's frames (stub.ts);
 * - before every op the L2 guest executes through the stub (read, write, invlpg, set_reg of
 *   cr0 / cr3 / cr4 / efer / pkrs), the stub's EPT PML4 entry and guest PML4 entry are (re)written
 *   with ept_set / gpt_set at the current EPTP and CR3 (left out where `keepsStubEntries` says
 *   that no op since the last such pair can have changed them), and a one-byte `fetch` of the stub's nop
 *   at the page the guest will execute from (user page at CPL 3) stands for the stub's fetch: its
 *   walk sets the same accessed / dirty flags and fills the same TLB entries as the agent's;
 * - register writes run at CPL 0 (a kernel executes them), so at another CPL the lowered trace
 *   switches to 0 around them (the model's CPL is a register write with no side effect).
 * A MOV to CR3 is the exception: it runs under the harness's own CR3 (STUB_CR3), which the
 * lowered trace switches to with a `set_reg cr3` that the agent performs as a plain VMCS write
 * (`loadCr3`: no flush): so the old CR3 need not map the stub, and the flush the model makes for
 * the switch is the one the guest's MOV CR3 then makes (the same non-global entries of the VPID).
 * That holds only for a value the MOV accepts (below 2^MAXPHYADDR); another value takes the
 * ordinary path, so a refused MOV leaves CR3 as the original trace has it.
 * The CPL is tracked statically: set_reg cpl with a value above 3 is #GP and changes nothing.
 */
import type { Op, Reg } from '../../trace/ops.js';
import type { Trace } from '../../trace/trace.js';
import { STUB_GPA, STUB_LA_SUP, STUB_LA_USER } from './profile.js';
import { STUB_CR3, STUB_EPT_PML4E, STUB_GUEST_PML4E, stubWords } from './stub.js';

export interface Lowered {
  trace: Trace;
  /** Original op index of each lowered op; -1 for harness ops. */
  origin: Int32Array;
  /** Lowered ops (`set_reg cr3`) the agent performs as a VMCS write of the guest CR3 (no flush). */
  loadCr3: ReadonlySet<number>;
  /**
   * Where the harness cannot go on (lowered step: the trace is sent and judged only up to it),
   * with the reason; null when it runs to the end.
   */
  stop?: { step: number; why: string } | null;
}

/** Registers the guest itself writes (through the stub, at CPL 0). */
const GUEST_REGS: ReadonlySet<Reg> = new Set<Reg>(['cr0', 'cr3', 'cr4', 'efer', 'pkrs']);

/** Whether the guest executes `op` through the stub (a data access, INVLPG, a register write). */
export function throughStub(op: Op): boolean {
  return op.op === 'read' || op.op === 'write' || op.op === 'invlpg' || (op.op === 'set_reg' && GUEST_REGS.has(op.reg));
}

/**
 * Whether the stub's entries the lowering installed before an earlier op still hold after `op`,
 * so that installing them again would write the same values at the same places (the lowering
 * leaves that out): `op` writes no memory and changes neither CR3, the EPTP nor the secondary
 * controls (which choose the entries' addresses and how the agent walks to them). A guest read,
 * INVLPG or register write also sets accessed flags on its walks (SDM 3A 4.8; EPT: 3C "Accessed
 * and Dirty Flags for EPT"), but the installed entries have A set already (stub.ts) and are
 * non-leaf (no dirty flag), so nothing changes there (the harness's probe fetch likewise). A
 * trace's own fetch is not among them: where the agent cannot patch its bytes, it runs whatever
 * instruction memory holds. A target that writes the entries anyway is caught at that step:
 * every stub op's write set holds them.
 */
export function keepsStubEntries(op: Op): boolean {
  switch (op.op) {
    case 'read': case 'invlpg': case 'invept': case 'invvpid': case 'phys_read':
      return true;
    case 'set_reg':
      return op.reg !== 'cr3';
    default:
      return false;
  }
}

/** Whether the guest executes `op` at CPL 0 whatever the trace's CPL. */
function atCpl0(op: Op): boolean {
  return op.op === 'invlpg' || op.op === 'set_reg';
}

/**
 * A stub-executed op (original index i) at the trace's CPL: the CPL switch it needs, the probe
 * fetch of the stub page it runs from, the op, the switch back. `harness` appends a harness op,
 * `original` the op itself.
 */
export function emitThroughStub(op: Op, i: number, cpl: number, harness: (op: Op) => void, original: (op: Op, i: number) => void): void {
  const runCpl = atCpl0(op) ? 0 : cpl;
  if (runCpl !== cpl) harness({ op: 'set_reg', cpu: 0, reg: 'cpl', value: BigInt(runCpl) });
  harness({ op: 'fetch', cpu: 0, la: runCpl === 3 ? STUB_LA_USER : STUB_LA_SUP, size: 1 });
  original(op, i);
  if (runCpl !== cpl) harness({ op: 'set_reg', cpu: 0, reg: 'cpl', value: BigInt(cpl) });
}

export function prologue(): Op[] {
  return stubWords().map(({ hpa, value }) => ({ op: 'phys_write', hpa, size: 8, value }) as Op);
}

export function lower(trace: Trace): Lowered {
  const ops: Op[] = [];
  const origin: number[] = [];
  const loadCr3 = new Set<number>();
  const harness = (op: Op): void => { ops.push(op); origin.push(-1); };
  const original = (op: Op, i: number): void => { ops.push(op); origin.push(i); };
  for (const op of prologue()) harness(op);
  let cpl = 0;
  let installed = false;
  for (let i = 0; i < trace.ops.length; i++) {
    const op = trace.ops[i];
    if (op.op === 'set_reg' && op.reg === 'cr3' && op.value >> BigInt(trace.machine.maxPhyAddr) === 0n) {
      installed = false;
      harness({ op: 'ept_set', cpu: 0, gpa: STUB_GPA, level: 4, entry: STUB_EPT_PML4E });
      loadCr3.add(ops.length);
      harness({ op: 'set_reg', cpu: 0, reg: 'cr3', value: STUB_CR3 });
      if (cpl !== 0) harness({ op: 'set_reg', cpu: 0, reg: 'cpl', value: 0n });
      harness({ op: 'fetch', cpu: 0, la: STUB_LA_SUP, size: 1 });
      ops.push(op); origin.push(i);
      if (cpl !== 0) harness({ op: 'set_reg', cpu: 0, reg: 'cpl', value: BigInt(cpl) });
      continue;
    }
    if (throughStub(op)) {
      if (!installed) {
        harness({ op: 'ept_set', cpu: 0, gpa: STUB_GPA, level: 4, entry: STUB_EPT_PML4E });
        harness({ op: 'gpt_set', cpu: 0, la: STUB_LA_SUP, level: 4, entry: STUB_GUEST_PML4E });
        installed = true;
      }
      emitThroughStub(op, i, cpl, harness, original);
      installed &&= keepsStubEntries(op);
      continue;
    }
    ops.push(op); origin.push(i);
    installed &&= keepsStubEntries(op);
    if (op.op === 'set_reg' && op.reg === 'cpl' && op.value <= 3n) cpl = Number(op.value);
  }
  return { trace: { ...trace, ops }, origin: Int32Array.from(origin), loadCr3 };
}
