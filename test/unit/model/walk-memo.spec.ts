/**
 * The model's memo of EPT walks (src/model/walk-memo.ts): it returns what a walk of committed
 * memory returns now, reuses a walk while the entries it read are unchanged (a neighbouring entry
 * may change), and walks anew when one of them changes or an absent table frame is created. The
 * model's flushed list is computed on demand and only before the step is committed.
 */
import { describe, expect, it } from 'vitest';
import { EPT_RWX } from '../../../src/hw/bits.js';
import { type EptContext, type EptWalk, eptWalk } from '../../../src/model/ept.js';
import { type EntryReader, SpecMemory } from '../../../src/model/memory.js';
import { ReferenceModel } from '../../../src/model/model.js';
import { PageWalkMemo } from '../../../src/model/walk-memo.js';
import { LAYOUT, ScenarioBuilder } from '../../vectors/builder.js';
import { runOps } from '../../vectors/runner.js';
import { config } from '../../vectors/vector.js';

const CTX: EptContext = { maxPhyAddr: 46, mbec: false, execOnly: false, page1G: true };
const ROOT = 0x1000;
const GPA = 0x40_0000; // PML4 index 0, PDPT index 0, PD index 2, PT index 0

/** EPT for GPA: PML4 at 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000 -> frame 0x9000. */
function tables(mem: SpecMemory): void {
  mem.writeQword(ROOT, 0x2000 | EPT_RWX, 0);
  mem.writeQword(0x2000, 0x3000 | EPT_RWX, 0);
  mem.writeQword(0x3000 + 2 * 8, 0x4000 | EPT_RWX, 0);
  mem.writeQword(0x4000, 0x9000 | EPT_RWX | (6 << 3), 0);
}

function memo(mem: SpecMemory): { m: PageWalkMemo<EptWalk>; walks: () => number } {
  let n = 0;
  const m = new PageWalkMemo(mem, (r: EntryReader, root: number, gpa: number) => {
    n++;
    return eptWalk(r, root, gpa, CTX);
  });
  return { m, walks: () => n };
}

describe('EPT walk memo', () => {
  it('returns what a walk of memory returns, and walks once while nothing changes', () => {
    const mem = new SpecMemory(64);
    tables(mem);
    const { m, walks } = memo(mem);
    const a = m.get(ROOT, GPA / 4096, false);
    expect(a.value).toEqual(eptWalk(mem, ROOT, GPA, CTX));
    expect(a.value.kind === 'leaf' && a.value.hpa).toBe(0x9000);
    expect(m.get(ROOT, GPA / 4096, false)).toBe(a);
    expect(walks()).toBe(1);
    // another GPA, another walk; MBEC is part of the key
    m.get(ROOT, GPA / 4096 + 1, false);
    m.get(ROOT, GPA / 4096, true);
    expect(walks()).toBe(3);
  });

  it('keeps a walk when a neighbouring entry changes, walks anew when one it read changes', () => {
    const mem = new SpecMemory(64);
    tables(mem);
    const { m, walks } = memo(mem);
    m.get(ROOT, GPA / 4096, false);
    mem.writeQword(0x4000 + 8, 0xa000 | EPT_RWX | (6 << 3), 0); // the next PTE
    mem.writeByte(0x9000, 0x55); // the data frame
    expect(m.get(ROOT, GPA / 4096, false).value.kind).toBe('leaf');
    expect(walks()).toBe(1);
    mem.writeQword(0x4000, 0, 0); // the PTE the walk read
    expect(m.get(ROOT, GPA / 4096, false).value.kind).toBe('not-present');
    expect(walks()).toBe(2);
    mem.writeQword(0x4000, 0xb000 | EPT_RWX | (6 << 3) | (1 << 8), 0); // present again, A set
    const again = m.get(ROOT, GPA / 4096, false).value;
    expect(again.kind === 'leaf' && again.hpa).toBe(0xb000);
    expect(again).toEqual(eptWalk(mem, ROOT, GPA, CTX));
  });

  it('walks anew when a table frame it found absent is created', () => {
    const mem = new SpecMemory(64);
    mem.writeQword(ROOT, 0x2000 | EPT_RWX, 0); // the PDPT frame 0x2000 is never written: zeros
    const { m, walks } = memo(mem);
    expect(m.get(ROOT, GPA / 4096, false).value.kind).toBe('not-present');
    mem.writeQword(0x2000 + 8, 0x7000 | EPT_RWX, 0); // creates the frame (another entry)
    expect(m.get(ROOT, GPA / 4096, false).value.kind).toBe('not-present');
    expect(walks()).toBe(2);
    tables(mem);
    expect(m.get(ROOT, GPA / 4096, false).value).toEqual(eptWalk(mem, ROOT, GPA, CTX));
  });

  it('never remembers reads beyond RAM (they read all-ones forever)', () => {
    const mem = new SpecMemory(4); // RAM ends at 0x4000: the PT frame is beyond it
    tables(mem);
    const { m, walks } = memo(mem);
    const w = m.get(ROOT, GPA / 4096, false);
    expect(w.value).toEqual(eptWalk(mem, ROOT, GPA, CTX));
    expect(m.get(ROOT, GPA / 4096, false)).toBe(w);
    expect(walks()).toBe(1);
  });
});

describe('flushed outcomes on demand', () => {
  /** A warm model whose EPT mapping of the data page was removed and invalidated. */
  function flushedStep(): { m: ReferenceModel; read: () => ReturnType<ReferenceModel['step']> } {
    const b = new ScenarioBuilder();
    const hpa = b.dataFrame();
    b.eptMap(LAYOUT.dataGpa, hpa, 7n).guestMap(LAYOUT.dataLa, LAYOUT.dataGpa, 0x63n);
    b.read(LAYOUT.dataLa, 2);
    const m = new ReferenceModel(config({ caps: { advExitInfo: false } }));
    runOps(m, b.ops);
    runOps(m, [
      { op: 'ept_set', cpu: 0, gpa: LAYOUT.dataGpa, level: 1, entry: 0n },
      { op: 'invept', cpu: 0, type: 2, eptp: 0n },
    ]);
    return { m, read: () => m.step({ op: 'read', cpu: 0, la: LAYOUT.dataLa, size: 2 }) };
  }

  it('are the same when read late (before commit) and can be read twice', () => {
    const { read } = flushedStep();
    const s = read();
    expect(s.allowed).toHaveLength(1);
    expect(s.flushed).toHaveLength(1);
    expect(s.flushed).toBe(s.flushed);
  });

  it('refuse to be read after the step was committed', () => {
    const { m, read } = flushedStep();
    const s = read();
    m.commit(s.allowed[0]);
    expect(() => s.flushed).toThrow(/after commit/);
  });
});
