/**
 * Whether the agent can make a fetch exactly one instruction (agent/PROTOCOL.md "A fetch"): it
 * writes its prefix-padded NOP over each byte where a debug translation of the byte's page
 * (present bits only: guest P, EPT R/W/X or, with MBEC, XU) finds RAM that is none of the tables
 * the translation reads (guest tables, and the EPT tables of their GPAs and of the final GPA: a
 * NOP there would change the translation). A byte it cannot patch runs as whatever the memory
 * holds: an instruction nobody chose. Contract: pure reads of the model's state and memory, the
 * same walk as agent.c `debug_translate`.
 */
import { CTL2_MBEC, EPT_XU } from '../hw/bits.js';
import type { ReferenceModel } from '../model/model.js';

const PAGE = 4096;

interface Walk { hpa: number; tables: number[] }

function entry(model: ReferenceModel, table: number, addr: number, level: number): bigint {
  return model.readPhys(table + 8 * (Math.floor(addr / 2 ** (12 + 9 * (level - 1))) % 512), 8);
}

/** A 4-level walk from `root` (page aligned); `present` decides what a present entry is. */
function walk(model: ReferenceModel, root: number, addr: number, mask: number, present: (e: bigint) => boolean, tables: number[],
  translate: (gpa: number) => number | null): number | null {
  let tableGpa = root;
  for (let level = 4; level >= 1; level--) {
    const table = translate(tableGpa);
    if (table === null) return null;
    tables.push(table);
    const e = entry(model, table, addr, level);
    if (!present(e)) return null;
    const out = Number(e & BigInt(mask));
    if (level === 1 || ((level === 2 || level === 3) && (e & 0x80n) !== 0n)) {
      const span = 2 ** (12 + 9 * (level - 1));
      return out - (out % span) + (addr % span);
    }
    tableGpa = out;
  }
  return null;
}

function translateLa(model: ReferenceModel, la: number, maxPhyAddr: number, usable: (hpa: number) => boolean): Walk | null {
  const st = model.vcpuState(0);
  const mask = (2 ** maxPhyAddr - 1) - (PAGE - 1);
  const mbec = (st.ctls2 & CTL2_MBEC) !== 0;
  const tables: number[] = [];
  const eptPresent = (e: bigint): boolean => (e & 7n) !== 0n || (mbec && (e & BigInt(EPT_XU)) !== 0n);
  const viaEpt = (gpa: number): number | null => {
    const hpa = walk(model, Math.floor(st.eptp / PAGE) * PAGE % 2 ** maxPhyAddr, gpa, mask, eptPresent, tables, (t) => (usable(t) ? t : null));
    return hpa === null ? null : hpa - (hpa % PAGE);
  };
  const root = Math.floor(st.cr3 / PAGE) * PAGE % 2 ** maxPhyAddr;
  const gpa = walk(model, root, la % 2 ** 48, mask, (e) => (e & 1n) !== 0n, tables, (t) => { const h = viaEpt(t); return h !== null && usable(h) ? h : null; });
  if (gpa === null) return null;
  const page = viaEpt(gpa - (gpa % PAGE));
  return page === null ? null : { hpa: page + (gpa % PAGE), tables };
}

/** Whether every byte of a fetch of [la, la + size) gets the agent's NOP. */
export function fetchPatchable(model: ReferenceModel, la: number, size: number, maxPhyAddr: number, inRam: (hpa: number) => boolean): boolean {
  for (let page = Math.floor(la / PAGE) * PAGE; page < la + size; page += PAGE) {
    const w = translateLa(model, page, maxPhyAddr, inRam);
    if (w === null || !inRam(w.hpa) || w.tables.includes(w.hpa - (w.hpa % PAGE))) return false;
  }
  return true;
}
