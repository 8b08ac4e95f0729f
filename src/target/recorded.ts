/**
 * A target's recorded run as a MachineApi, so the ordinary runner (src/check/runner.ts) judges
 * it step by step against the reference model, exactly as it judges the built-in machine.
 * Contract: `apply` returns the recorded outcome of the next step and applies that step's memory
 * changes; `touchedFrames` lists the frames that step changed; watched frames the target never
 * reported read as zeros (the agent zeroes every watched frame before a trace). A frame outside the
 * watch list (`watched`, when given) was never observed: it reads as `unobserved` says (the judge
 * passes the model's own bytes, so nothing is concluded about memory the target did not report;
 * the watch list follows the pre-run's path, and a target that took another allowed path may write
 * frames that path never touched). Applying past the last recorded step is a harness bug and throws.
 */
import type { MachineApi } from '../hw/api.js';
import type { Outcome } from '../hw/outcome.js';
import type { Op } from '../trace/ops.js';
import type { StepResult } from './results.js';

export class RecordedMachine implements MachineApi {
  private next = 0;
  private touched: number[] = [];
  private readonly mem = new Map<number, Uint8Array>();

  constructor(
    private readonly steps: readonly StepResult[],
    private readonly watched: ReadonlySet<number> | null = null,
    private readonly unobserved: (frame: number) => Uint8Array | null = () => null,
  ) {}

  apply(op: Op): Outcome {
    const step = this.steps[this.next];
    if (step === undefined) throw new Error(`no recorded outcome for step ${this.next} (${op.op})`);
    this.next++;
    const touched = new Set<number>();
    for (const c of step.memory) {
      let frame = this.mem.get(c.frame);
      if (frame === undefined) { frame = new Uint8Array(4096); this.mem.set(c.frame, frame); }
      frame.set(c.bytes, c.offset);
      touched.add(c.frame);
    }
    this.touched = [...touched];
    return step.outcome;
  }

  readPhys(hpa: number, size: number): bigint {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) {
      const a = hpa + i;
      v = (v << 8n) | BigInt(this.mem.get(Math.floor(a / 4096))?.[a % 4096] ?? 0);
    }
    return v;
  }

  frameBytes(frame: number): Uint8Array | null {
    return this.frameView(frame)?.slice() ?? null;
  }

  frameView(frame: number): Uint8Array | null {
    const mine = this.mem.get(frame);
    if (mine !== undefined) return mine;
    return this.watched !== null && !this.watched.has(frame) ? this.unobserved(frame) : null;
  }

  touchedFrames(): readonly number[] {
    return this.touched;
  }

  frames(): readonly number[] {
    return [...this.mem.keys()].sort((a, b) => a - b);
  }
}
