import { describe, expect, it } from 'vitest';
import { Coverage } from '../../../src/fuzz/coverage.js';
import type { Op } from '../../../src/trace/ops.js';

const read: Op = { op: 'read', cpu: 0, la: 0x1000, size: 8 };
const write: Op = { op: 'write', cpu: 0, la: 0x1000, size: 8, value: 1n };

describe('Coverage', () => {
  it('counts new features per run and never twice', () => {
    const c = new Coverage();
    c.beginRun();
    c.observe(read, { kind: 'pf', code: 5, cr2: 0x1000 });
    c.observe(read, { kind: 'pf', code: 5, cr2: 0x2000 }); // cr2 is not a feature; the transition read→read is
    expect(c.endRun()).toBe(3);
    c.beginRun();
    c.observe(read, { kind: 'pf', code: 5, cr2: 0x1000 });
    expect(c.endRun()).toBe(0);
  });

  it('separates error-code bits, qualification bits and op kinds', () => {
    const c = new Coverage();
    c.beginRun();
    c.observe(read, { kind: 'pf', code: 5, cr2: 0 });
    const base = c.count;
    c.observe(read, { kind: 'pf', code: 0x25, cr2: 0 });
    c.observe(read, { kind: 'exit', reason: 48, qual: 0x181, gpa: 0, gla: 0 });
    c.observe(read, { kind: 'exit', reason: 48, qual: 0x189, gpa: 0, gla: 0 });
    c.observe(write, { kind: 'exit', reason: 48, qual: 0x189, gpa: 0, gla: 0 });
    expect(c.count - base).toBeGreaterThanOrEqual(4);
  });
});
