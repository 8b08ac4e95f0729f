/**
 * hv mode: a target that went past an exit the model's access takes is filed as going past it,
 * `G -> completes` (checkers.ts `skippedExits`, path-in-dispute.ts `pastHvStop`), the same
 * signature as where the model's access stops at that exit. Fixtures: runs of the planted bug
 * spp-lost-on-wrprotect from a 10-minute campaign (seed m11): an access the target completed with
 * none of the model's exits (the model's SPP-miss exit, then completion), and a page-crossing
 * access whose SPP exit the target reports for the second part where the model exits at the first,
 * and an access whose exits are the model's without the SPP-miss exit in the middle.
 * Each passes with the bug off.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

function first(fixture: string): { coarse: string | undefined; clean: boolean } {
  const t = parseText(readFileSync(new URL(`./fixtures/${fixture}`, import.meta.url), 'utf8'));
  const clean = checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first === null;
  return { coarse: checkTrace(t, TARGETS.model).first?.coarse, clean };
}

describe('hv: a target that went past an exit of the model', () => {
  it('completing without the model\'s exits', () => {
    expect(first('hv-skipped-exits.txt')).toEqual({ coarse: 'kvm.spp.parked-bit-restored -> completes', clean: true });
  });

  it('completing without an exit in the middle of the model\'s', () => {
    expect(first('hv-skipped-middle-exit.txt')).toEqual({ coarse: 'kvm.spp.parked-bit-restored -> completes', clean: true });
  });

  it('exiting for the next part of a page-crossing access', () => {
    expect(first('hv-exit-next-part.txt')).toEqual({ coarse: 'kvm.spp.parked-bit-restored -> completes', clean: true });
  });
});
