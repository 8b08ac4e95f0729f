/**
 * The debug guest translation (src/model/path-ops.ts `guestDebugTranslate`): 4-level paging read
 * from memory through the debug EPT translation, a leaf at any size, null where an entry is not
 * present. Memory is a map of 8-byte entries; EPT identity-maps the first 2 MiB here with a 2 MiB
 * leaf (so guest table GPAs are their HPAs).
 */
import { describe, expect, it } from 'vitest';
import { guestDebugTranslate, type PathContext } from '../../../src/model/path-ops.js';

function contextOf(entries: Record<number, number>): PathContext {
  return {
    mem: {
      inRam: (hpa) => hpa < 0x400000,
      readEntry: (hpa) => {
        const v = entries[hpa] ?? 0;
        return { lo: v % 0x100000000, hi: Math.floor(v / 0x100000000) };
      },
    },
    maxPhyAddr: 39,
    mbec: false,
  };
}

// EPT at 0x1000: L4 -> 0x2000, L3 -> 0x3000, L2[0] = 2 MiB leaf at 0 (R W X)
const EPT = { 0x1000: 0x2007, 0x2000: 0x3007, 0x3000: 0x87 };

describe('guestDebugTranslate', () => {
  it('walks 4 KiB and 2 MiB guest leaves, and stops at a not-present entry', () => {
    // guest tables: CR3 0x10000; L4[0] -> 0x11000; L3[0] -> 0x12000; L2[0] -> 0x13000, L2[1] = 2 MiB leaf at 0x600000
    const c = contextOf({ ...EPT, 0x10000: 0x11003, 0x11000: 0x12003, 0x12000: 0x13003, 0x12008: 0x600083, [0x13000 + 5 * 8]: 0x528003 });
    expect(guestDebugTranslate(c, 0x1000, 0x10000, 0x5123)).toBe(0x528123);
    expect(guestDebugTranslate(c, 0x1000, 0x10000, 0x212345)).toBe(0x612345);
    expect(guestDebugTranslate(c, 0x1000, 0x10000, 0x6000)).toBeNull();
  });
});
