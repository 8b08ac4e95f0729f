/**
 * Sub-page write permissions (ref §3.2-§3.4): the SPPT walk for one guest-physical address and
 * the per-sub-page write bits. Contract: pure; reads through a `QwordReader`; the SPPT is never
 * cached (docs/semantics.md "Guest access" step 6: the walk runs once per part).
 */
import { SPPT_LEAF_ODD, SPPT_NONLEAF_RSVD_HI, SPPT_NONLEAF_RSVD_LO, SPPT_VALID } from '../hw/bits.js';
import { type Entry, entryAddress, levelIndex, rsvdHi } from './entry.js';
import type { QwordReader } from './ept.js';
import { RULE } from './rules.js';

export type SppWalk =
  | { kind: 'miss' } //         exit 66, qualification bit 11 = 1
  | { kind: 'misconfig'; rule: number } //    exit 66, qualification bit 11 = 0 (rule: which entry kind)
  | { kind: 'leaf'; leaf: Entry };

const MISCONFIG_NONLEAF: SppWalk = Object.freeze({ kind: 'misconfig', rule: RULE.sppMiscNonLeaf });
const MISCONFIG_ODD: SppWalk = Object.freeze({ kind: 'misconfig', rule: RULE.sppMiscOdd });

/** ref §3.2: L4E/L3E/L2E need bit 0 and no reserved bit; the L1E no odd bit. Indexed like EPT. */
export function sppWalk(mem: QwordReader, root: number, gpa: number, maxPhyAddr: number): SppWalk {
  let table = root;
  for (let level = 4; level >= 2; level--) {
    const e = mem.readEntry(table + levelIndex(gpa, level) * 8);
    if ((e.lo & SPPT_VALID) === 0) return { kind: 'miss' }; // ref §3.4 "bit 0 = 0" -> SPPT miss
    if ((e.lo & SPPT_NONLEAF_RSVD_LO) !== 0 || (e.hi & (SPPT_NONLEAF_RSVD_HI | rsvdHi(maxPhyAddr))) !== 0) {
      return MISCONFIG_NONLEAF; // ref §3.4 reserved bit in a non-leaf entry
    }
    table = entryAddress(e, maxPhyAddr);
  }
  const leaf = mem.readEntry(table + levelIndex(gpa, 1) * 8);
  if ((leaf.lo & SPPT_LEAF_ODD) !== 0 || (leaf.hi & SPPT_LEAF_ODD) !== 0) return MISCONFIG_ODD; // ref §3.2 odd bits reserved
  return { kind: 'leaf', leaf };
}

/** ref §3.2: bit 2i of the L1E is the write permission of sub-page i (GPA bits 11:7). */
export function subPageWritable(leaf: Entry, subPage: number): boolean {
  const bit = 2 * subPage;
  return bit < 32 ? ((leaf.lo >>> bit) & 1) === 1 : ((leaf.hi >>> (bit - 32)) & 1) === 1;
}
