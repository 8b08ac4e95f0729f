/**
 * A nondeterministic target for the determinism self-check tests: a machine whose reads return a
 * different value on every other execution of a trace. The machine and its oracle share the
 * execution number, so they agree within one execution and only a re-execution can tell.
 */
import type { Target } from '../../src/check/runner.js';
import { MachineOracle } from '../../src/check/machine-oracle.js';
import type { MachineApi } from '../../src/hw/api.js';
import { normalizeConfig } from '../../src/hw/config.js';
import { Machine } from '../../src/hw/machine.js';
import type { Outcome } from '../../src/hw/outcome.js';

let executions = 0;

class FlakyMachine implements MachineApi {
  private readonly inner = new Machine(normalizeConfig());
  constructor(private readonly salt: number) {}
  apply(op: Parameters<MachineApi['apply']>[0]): Outcome {
    const o = this.inner.apply(op);
    return o.kind === 'data' ? { kind: 'data', value: o.value ^ BigInt(this.salt & 1) } : o;
  }
  readPhys(hpa: number, size: number): bigint { return this.inner.readPhys(hpa, size); }
  frameBytes(frame: number): Uint8Array | null { return this.inner.frameBytes(frame); }
  touchedFrames(): readonly number[] { return this.inner.touchedFrames(); }
}

/** Both sides flaky in the same way, so the only symptom is a difference between two executions. */
export const FLAKY: Target = {
  makeMachine: () => new FlakyMachine(++executions),
  makeModel: () => new MachineOracle(new FlakyMachine(executions)),
};
