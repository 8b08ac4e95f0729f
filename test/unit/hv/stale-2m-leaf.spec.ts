/**
 * hv.no-stale-access covers every 4 KiB page of a 2 MiB leaf whose rights an op reduced
 * (src/hv/hypervisor.ts noteReducedLeaf): a TLB caches a page of a 2 MiB leaf under that page's
 * own GPA. Fixture: a minimized run of the planted bug pkvm-unshare-no-flush: the guest's page
 * table lies in a 2 MiB block of its memslot; host_unshare_guest of the block skips the flush, so
 * the cpu keeps the guest-physical translation of the table page and the next access walks
 * through it without the EPT violation the model requires. Only the block's first page was
 * checked before, and the finding came at that access as a difference in the exits it took.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

describe('a stale translation of a page inside an unmapped 2 MiB leaf', () => {
  const t = parseText(readFileSync(new URL('./fixtures/unshare-2m-stale-table.txt', import.meta.url), 'utf8'));

  it('is found at the op that reduced the leaf', () => {
    const first = checkTrace(t, TARGETS.model).first;
    expect(first?.invariant).toBe('hv.no-stale-access');
    expect(first?.op).toBe('host_unshare_guest');
    expect(first?.detail).toContain('gpa page 0x5f0');
  });

  it('passes with the bug off', () => {
    expect(checkTrace({ ...t, machine: { ...t.machine, bugs: [] } }, TARGETS.model).first).toBeNull();
  });
});
