import { describe, expect, it } from 'vitest';
import { formatSignature, signatureHash, signatureOf } from '../../../src/check/violation.js';

describe('signatures', () => {
  it('ignore the step and the human detail', () => {
    const a = signatureOf({ invariant: 'mem.no-lost-write', step: 3, op: 'write', detail: 'frame 0x12 differs', coarse: 'data bytes differ', rule: 'access.write.complete' });
    const b = signatureOf({ invariant: 'mem.no-lost-write', step: 90, op: 'write', detail: 'frame 0x99 differs', coarse: 'data bytes differ', rule: 'access.write.complete' });
    expect(signatureHash(a)).toBe(signatureHash(b));
    expect(formatSignature(a)).toBe('mem.no-lost-write @ access: data bytes differ');
  });

  it('hash is a stable 16-hex-digit name (golden)', () => {
    const h = signatureHash({ invariant: 'mem.no-lost-write', op: 'write', detail: 'data bytes differ' });
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(h).toBe('dd08cefc19707e8d');
  });

  it('differs when the op kind or the coarse detail differs', () => {
    const base = { invariant: 'fault.pf-error-code', op: 'read', detail: 'error code bits differ: PK' };
    expect(signatureHash(base)).not.toBe(signatureHash({ ...base, op: 'write' }));
    expect(signatureHash(base)).not.toBe(signatureHash({ ...base, detail: 'cr2 differs' }));
  });
});
