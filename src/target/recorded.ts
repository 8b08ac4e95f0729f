/**
 * A target's recorded run as a MachineApi, so the ordinary runner (src/check/runner.ts) judges
 * it step by step against the reference model, exactly as it judges the built-in machine.
 * Contract: `apply` returns the recorded outcome of the next step and applies that step's memory
 * changes; `touchedFrames` lists the frames that step changed; frames the target never reported
 * read as zeros (the agent zeroes every watched frame before a trace). Applying past the last
 * recorded step is a harness bug and throws.
 */
import type { MachineApi } from '../hw/api.js';
import type { Outcome } from '../hw/outcome.js';
import type { Op } from '../trace/ops.js';
import type { StepResult } from './results.js';

export class RecordedMachine implements MachineApi {
  private next = 0;
  private touched: number[] = [];
  private readonly mem = new Map<number, Uint8Array>();

  constructor(private readonly steps: readonly StepResult[]) {}

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
    return this.mem.get(frame)?.slice() ?? null;
  }

  frameView(frame: number): Uint8Array | null {
    return this.mem.get(frame) ?? null;
  }

  touchedFrames(): readonly number[] {
    return this.touched;
  }

  frames(): readonly number[] {
    return [...this.mem.keys()].sort((a, b) => a - b);
  }
}
