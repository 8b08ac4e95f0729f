/**
 * xo.alias-not-readable reads the GPA an access used from the guest's tables, or, when the guest
 * changed them without INVLPG and the access used its cached translation, from that translation
 * (src/hv/hypervisor.ts gpaOfLinear). The XO alias and its gfn share a host page, so a cached
 * translation made through the gfn looked like one through the alias. Fixture (no planted bug;
 * first seen in the store of pkvm-share-enomem-half-done): a write through a guest PTE naming gfn
 * 0x401 is cached, the guest rewrites the PTE to name the alias of 0x401 with no INVLPG, and the
 * next write completes through the cached translation (which the model allows): no alias was
 * written.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../src/check/check-trace.js';
import { TARGETS } from '../../../src/check/targets.js';
import { parseText } from '../../../src/trace/text.js';

describe('a write through a cached translation of the gfn whose PTE now names its XO alias', () => {
  it('is no write of the alias', () => {
    const t = parseText(readFileSync(new URL('./fixtures/xo-alias-cached-gfn.txt', import.meta.url), 'utf8'));
    expect(t.machine.bugs).toEqual([]);
    expect(checkTrace(t, TARGETS.model).first).toBeNull();
  });
});
