/**
 * RecordedMachine (src/target/recorded.ts): what a target reported is read back; a watched frame
 * it never reported reads as zeros (null: the agent zeroed it); a frame outside the watch list was
 * never observed and reads as the fallback the judge gives (the model's own bytes), so it can never
 * be taken for a lost write.
 */
import { describe, expect, it } from 'vitest';
import { RecordedMachine } from '../../../src/target/recorded.js';

describe('RecordedMachine', () => {
  const steps = [{ outcome: { kind: 'ok' as const }, memory: [{ frame: 5, offset: 16, bytes: Uint8Array.of(0xaa, 0xbb) }] }];
  const model = new Uint8Array(4096).fill(7);

  it('reads reported bytes, zeros for a watched silent frame, the fallback for an unwatched one', () => {
    const m = new RecordedMachine(steps as never, new Set([5, 6]), (f) => (f === 9 ? model : null));
    m.apply({ op: 'invlpg', cpu: 0, la: 0n } as never);
    expect(m.touchedFrames()).toEqual([5]);
    expect(m.frameView(5)?.[16]).toBe(0xaa);
    expect(m.readPhys(5 * 4096 + 16, 2)).toBe(0xbbaan);
    expect(m.frameView(6)).toBeNull();
    expect(m.frameView(9)).toBe(model);
    expect(m.frameBytes(9)).toEqual(model);
  });

  it('without a watch list, every unreported frame reads as zeros (null)', () => {
    const m = new RecordedMachine(steps as never);
    expect(m.frameView(9)).toBeNull();
  });
});
