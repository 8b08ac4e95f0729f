/**
 * The emulated hardware in bare mode: vCPUs, host memory, two-dimensional translation, TLBs.
 * Contract: `apply(op)` executes one op of src/trace/ops.ts exactly as docs/semantics.md states and
 * returns the outcome (a VM exit is the outcome of an access). `access()` is the allocation-free,
 * BigInt-free hot path behind read/write/fetch: it returns A_OK / A_PF / A_EXIT and leaves the
 * details in public fields. Planted bugs from config.bugs are read once, here, into booleans.
 */
import { normalizeConfig, validateConfig, type MachineConfig } from './config.js';
import type { MachineApi } from './api.js';
import type { Op } from '../trace/ops.js';
import { OK, type Outcome } from './outcome.js';
import { PhysMemory } from './memory.js';
import { Vcpu } from './vcpu.js';
import { EptUnit } from './ept.js';
import { ACC_FETCH, ACC_READ, ACC_WRITE, accessErrorBits, rightsFault, type RightsBugs } from './rights.js';
import { C_D, C_G, C_PKEY_SHIFT, C_RW, C_US, C_XD, T_EPT_D, T_R, T_SPP, T_W, T_X, T_XU } from './tlb.js';
import {
  ADDR_LO_MASK, CR0_PG, CR4_PGE, CTL2_MBEC, EFER_NXE, EXIT_EPT_VIOLATION, PF_P, PF_RSVD, PF_U, PF_W,
  PTE_A, PTE_D, PTE_G, PTE_P, PTE_PKEY_SHIFT_HI, PTE_PS, PTE_RW, PTE_US, PTE_XD_HI, QUAL_ADV_USER,
  QUAL_ADV_WRITABLE, QUAL_ADV_XD, QUAL_FETCH, QUAL_RD, QUAL_WR, QUAL_XLAT, EPTP_AD, addrHiMask, rsvdAddrHiMask,
} from './bits.js';
import { eptSet, gptSet, spptSet } from './path-ops.js';
import { ctls2Valid, eptpValid, invept, invvpid, spptpValid } from './vmx.js';
import { CTL2_SPP } from './bits.js';

export const A_OK = 0;
export const A_PF = 1;
export const A_EXIT = 2;

const TWO32 = 2 ** 32;
const LA_SPAN = 2 ** 48;
const LEVEL_SPAN = [0, 4096, 2 ** 21, 2 ** 30, 2 ** 39];
const PAGE_SIZE_AT = [0, 4096, 2 ** 21, 2 ** 30, 0];
/** A 4-level paging-structure entry is 8 bytes: what a walk read or an A/D update accesses. */
const PAGING_ENTRY_BYTES = 8;

export class Machine implements MachineApi {
  readonly config: MachineConfig;
  readonly mem: PhysMemory;
  readonly vcpus: Vcpu[];
  readonly ept: EptUnit;

  // Results of the last access.
  pfCode = 0;
  pfCr2 = 0.5; // doubles from the start (linear addresses exceed 2^31): no field-representation deopts
  exitReason = 0;
  exitQual = 0;
  /**
   * Bytes of the access that took the last exit: the part of the data access in the exit's page,
   * or 8 for a guest paging-structure access (a walk read or an A/D update of one entry).
   */
  exitLen = 0;
  // Addresses are kept in Float64Array boxes, not fields: a field that sees small integers, large
  // doubles and -1 keeps changing representation and V8 deoptimizes `apply` over and over.
  private readonly addr = new Float64Array(2); // [0] exit GPA, [1] exit GLA (-1 = not valid)
  get exitGpa(): number { return this.addr[0]; }
  get exitGla(): number { return this.addr[1]; }
  readLo = 0.5;
  readHi = 0.5;

  private readonly addrHi: number;
  private readonly guestRsvdHi: number;
  private readonly xoBitHi: number;
  private readonly qemuPk: boolean;
  private readonly page1G: boolean;
  private readonly rightsBugs: RightsBugs;
  private readonly bugCanary: boolean;
  private readonly bugXoNoUser: boolean;

  // Per-part results of the access in progress (at most two parts).
  private readonly partHpa = new Float64Array(2);
  private readonly partLin = new Float64Array(2);
  private readonly partBits = new Int32Array(2); // combined-TLB bits to fill, -1 = do not fill
  // Walk scratch: GPA and low dword (as the walk read it) of each guest entry used, by level.
  private readonly entGpa = new Float64Array(5);
  private readonly entLo = new Uint32Array(5);
  /** Linear address of the part that faulted. */
  private faultLa = 0.5;
  /**
   * The access in progress has written a guest A/D update: from then on its translations walk
   * EPT fresh (docs/semantics.md step 4), since the update may have rewritten an EPT entry.
   */
  private adWritten = false;

  constructor(config: MachineConfig = normalizeConfig()) {
    const problem = validateConfig(config);
    if (problem) throw new RangeError(problem);
    this.config = config;
    this.mem = new PhysMemory(config.framesMax);
    this.vcpus = [];
    for (let i = 0; i < config.vcpus; i++) this.vcpus.push(new Vcpu(i, config));
    this.ept = new EptUnit(this.mem, config);
    this.addrHi = addrHiMask(config.maxPhyAddr);
    this.guestRsvdHi = rsvdAddrHiMask(config.maxPhyAddr);
    this.xoBitHi = config.kvmXo ? 1 << (config.maxPhyAddr - 1 - 32) : 0;
    this.qemuPk = config.choices.pkOnUserToSupervisor === 'qemu';
    this.page1G = config.caps.page1G;
    const bugs = new Set(config.bugs);
    this.rightsBugs = { pkRegByCpl: bugs.has('pkey-reg-by-cpl'), pkWdIgnoresWp: bugs.has('pks-wd-ignores-cr0wp'), pkOnFetch: bugs.has('pk-on-fetch') };
    this.bugCanary = bugs.has('canary');
    this.bugXoNoUser = bugs.has('xo-pf-no-user-bit');
  }

  // ------------------------------------------------------------------------------------------
  // MachineApi

  apply(op: Op): Outcome {
    this.mem.beginOp();
    switch (op.op) {
      case 'read': case 'write': case 'fetch': {
        const kind = op.op === 'read' ? ACC_READ : op.op === 'write' ? ACC_WRITE : ACC_FETCH;
        const value = op.op === 'write' ? op.value : 0n;
        const r = this.access(op.cpu, op.la, op.size, kind, Number(value & 0xffffffffn), Number((value >> 32n) & 0xffffffffn));
        if (r === A_PF) return { kind: 'pf', code: this.pfCode, cr2: this.pfCr2 };
        if (r === A_EXIT) return this.exitOutcome();
        if (kind !== ACC_READ) return OK;
        return { kind: 'data', value: (BigInt(this.readHi) << 32n) | BigInt(this.readLo) };
      }
      case 'set_reg':
        return this.vcpu(op.cpu).setReg(op.reg, op.value, this.config) ? OK : { kind: 'gp' };
      case 'invlpg': {
        const v = this.vcpu(op.cpu);
        v.ctlb.dropPage(v.vpid, Math.floor(op.la / 4096)); // SDM-3A-4.10.4.1 "INVLPG"
        return OK;
      }
      case 'invvpid':
        return invvpid(this.vcpu(op.cpu), op.type, op.vpid, op.la, this.config);
      case 'invept':
        return invept(this.vcpu(op.cpu), op.type, op.eptp, this.config);
      case 'set_eptp':
        if (!eptpValid(op.value, this.config)) return { kind: 'vmfail', error: 7 };
        this.vcpu(op.cpu).eptp = Number(op.value);
        return OK;
      case 'set_spptp':
        // SDM-3C 26.2.1.1: checked only while "sub-page write permissions for EPT" is 1.
        if ((this.vcpu(op.cpu).ctls2 & CTL2_SPP) !== 0 && !spptpValid(op.value, this.config)) return { kind: 'vmfail', error: 7 };
        this.vcpu(op.cpu).spptp = Number(op.value);
        return OK;
      case 'set_ctls2':
        if (!ctls2Valid(op.value, this.config)) return { kind: 'vmfail', error: 7 };
        if ((op.value & CTL2_SPP) !== 0 && !spptpValid(BigInt(this.vcpu(op.cpu).spptp), this.config)) return { kind: 'vmfail', error: 7 };
        this.vcpu(op.cpu).ctls2 = op.value >>> 0;
        return OK;
      case 'phys_write':
        if (!this.mem.isRam(op.hpa) || !this.mem.isRam(op.hpa + op.size - 1)) return { kind: 'noent' };
        this.mem.writeBytes(op.hpa, op.size, op.value);
        return OK;
      case 'phys_read':
        if (!this.mem.isRam(op.hpa) || !this.mem.isRam(op.hpa + op.size - 1)) return { kind: 'noent' };
        return { kind: 'data', value: this.mem.readBytes(op.hpa, op.size) };
      case 'ept_set':
        return eptSet(this.mem, this.vcpu(op.cpu), op.gpa, op.level, op.entry, this.addrHi);
      case 'gpt_set':
        return gptSet(this.mem, this.vcpu(op.cpu), op.la, op.level, op.entry, this.addrHi);
      case 'sppt_set':
        return spptSet(this.mem, this.vcpu(op.cpu), op.gpa, op.level, op.entry, this.addrHi);
      default:
        throw new RangeError(`op '${op.op}' is a hypervisor op: it runs only in hv mode (a bare machine has no hypervisor)`);
    }
  }

  readPhys(hpa: number, size: number): bigint {
    return this.mem.readBytes(hpa, size);
  }

  frameBytes(frame: number): Uint8Array | null {
    return this.mem.frameBytes(frame);
  }

  touchedFrames(): readonly number[] {
    return this.mem.touched();
  }

  frameView(frame: number): Uint8Array | null {
    return this.mem.frameView(frame);
  }

  frames(): readonly number[] {
    return this.mem.frames();
  }

  private exitOutcome(): Outcome {
    const gla = this.addr[1];
    return { kind: 'exit', reason: this.exitReason, qual: this.exitQual, gpa: this.addr[0], gla: gla < 0 ? null : gla };
  }

  private vcpu(i: number): Vcpu {
    const v = this.vcpus[i];
    if (v === undefined) throw new RangeError(`cpu ${i} does not exist (machine has ${this.vcpus.length})`);
    return v;
  }

  // ------------------------------------------------------------------------------------------
  // The access path (docs/semantics.md "Guest access")

  /**
   * One guest access of `size` bytes at linear address `la` (48-bit). For writes the data is
   * `lo` (bytes 0-3) and `hi` (bytes 4-7). Returns A_OK, A_PF or A_EXIT.
   */
  access(cpu: number, la: number, size: number, kind: number, lo: number, hi: number): number {
    const v = this.vcpus[cpu];
    if (v === undefined) throw new RangeError(`cpu ${cpu} does not exist`);
    const first = Math.min(size, 4096 - (la & 0xfff));
    const parts = first < size ? 2 : 1;
    this.adWritten = false;
    let partLa = la;
    let partLen = first;
    for (let p = 0; p < parts; p++) {
      if (p === 1) {
        partLa = (la + first) % LA_SPAN;
        partLen = size - first;
      }
      const r = this.translatePart(v, partLa, partLen, kind, p);
      if (r !== A_OK) return this.finishFault(v, r, la, p);
    }

    // Every part translated: fill the combined TLB, then move the data.
    const root = EptUnit.root(v.eptp);
    for (let p = 0; p < parts; p++) {
      const bits = this.partBits[p];
      if (bits >= 0) {
        const lin = this.partLin[p];
        const hpa = this.partHpa[p];
        v.ctlb.fill(v.vpid, root, (lin - (lin & 0xfff)) / 4096, (hpa - (hpa & 0xfff)) / 4096, bits);
      }
    }
    if (kind === ACC_FETCH) return A_OK;
    const mem = this.mem;
    const h0 = this.partHpa[0];
    const h1 = this.partHpa[1];
    if (parts === 1 && (h0 & 3) === 0 && (size === 8 || size === 4)) {
      // Aligned word fast path (same bytes as the byte loop below).
      if (kind === ACC_WRITE) {
        mem.write32(h0, lo);
        if (size === 8) mem.write32(h0 + 4, hi);
      } else {
        this.readLo = mem.read32(h0);
        this.readHi = size === 8 ? mem.read32(h0 + 4) : 0;
      }
      return A_OK;
    }
    if (kind === ACC_WRITE) {
      // Planted 'canary': a 2-byte page-crossing write loses its second byte.
      const n = this.bugCanary && size === 2 && parts === 2 ? 1 : size;
      for (let i = 0; i < n; i++) {
        const byte = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
        mem.writeByte(i < first ? h0 + i : h1 + (i - first), byte);
      }
      return A_OK;
    }
    let rlo = 0;
    let rhi = 0;
    for (let i = 0; i < size; i++) {
      const byte = mem.readByte(i < first ? h0 + i : h1 + (i - first));
      if (i < 4) rlo |= byte << (8 * i);
      else rhi |= byte << (8 * (i - 4));
    }
    this.readLo = rlo >>> 0;
    this.readHi = rhi >>> 0;
    return A_OK;
  }

  /**
   * ref §6.2: a #PF or EPT exit drops the combined mappings of its linear page (the EPT unit already
   * dropped the GPA's guest-physical mapping). The machine also drops the pages of the access's
   * earlier parts: more than required (always allowed), and it keeps the machine's cache inside
   * what every equally-valid branch of the reference model keeps (docs/semantics.md).
   */
  private finishFault(v: Vcpu, result: number, la: number, lastPart: number): number {
    v.ctlb.dropPage(v.vpid, Math.floor(this.faultLa / 4096));
    if (lastPart === 1) v.ctlb.dropPage(v.vpid, Math.floor(la / 4096));
    return result;
  }

  /**
   * Translates one part (within one 4 KiB linear page) into partHpa[p]. Returns A_OK, A_PF
   * (pfCode/pfCr2 set) or A_EXIT (exit* set). Records what to cache in partBits[p].
   */
  private translatePart(v: Vcpu, la: number, len: number, kind: number, p: number): number {
    const ept = this.ept;
    const acc = kind === ACC_READ ? QUAL_RD : kind === ACC_WRITE ? QUAL_WR : QUAL_FETCH;
    this.partLin[p] = la;
    this.partBits[p] = -1;

    if ((v.cr0 & CR0_PG) === 0) {
      // No guest paging: the linear address is the GPA (supervisor-mode for MBEC, no advanced info).
      if (!ept.translate(v, la, acc, true, false, la, 0, len)) return this.takeExit(v, la, kind, len);
      this.partHpa[p] = ept.hpa;
      return A_OK;
    }

    const root = EptUnit.root(v.eptp);
    const linPage = (la - (la & 0xfff)) / 4096;
    const mbec = (v.ctls2 & CTL2_MBEC) !== 0;
    const eptAd = (v.eptp & EPTP_AD) !== 0;
    const dirtyNeed = eptAd ? T_EPT_D : 0; // a cached write needs EPT D set only while EPT A/D is on

    // Combined TLB: usable only if it allows the access outright (docs/semantics.md).
    const slot = v.ctlb.find(v.vpid, root, linPage);
    if (slot >= 0) {
      const b = v.ctlb.bitsAt(slot);
      const us = (b & C_US) !== 0;
      const needEpt = kind === ACC_READ ? T_R : kind === ACC_WRITE ? T_W | dirtyNeed : (mbec && us ? T_XU : T_X);
      const usable = (b & needEpt) === needEpt
        && (kind !== ACC_WRITE || ((b & C_D) !== 0 && (b & T_SPP) === 0))
        && rightsFault(v, kind, (b & C_RW) !== 0, us, (b & C_XD) !== 0, (b >>> C_PKEY_SHIFT) & 15, this.qemuPk, this.rightsBugs) === 0;
      if (usable) {
        this.partHpa[p] = v.ctlb.hpaPageAt(slot) * 4096 + (la & 0xfff);
        return A_OK;
      }
      v.ctlb.drop(slot);
    }

    // Guest walk, levels 4 -> 1; every entry read goes through EPT (ref §1.3 "Guest-linear accesses").
    const mem = this.mem;
    const walkAcc = eptAd ? QUAL_RD | QUAL_WR : QUAL_RD;
    const walkNeed = eptAd ? T_R | T_W | T_EPT_D : T_R;
    const gtlb = v.gtlb;
    const nxe = (v.efer & EFER_NXE) !== 0;
    const rsvdHi = this.guestRsvdHi | (nxe ? 0 : PTE_XD_HI);
    let table = v.cr3 - (v.cr3 & 0xfff);
    let rw = true;
    let us = true;
    let xd = false;
    let accessedAll = PTE_A;
    let level = 4;
    let lo = 0;
    let hi = 0;
    for (; ; level--) {
      const gpa = table + ((Math.floor(la / LEVEL_SPAN[level]) & 511) << 3);
      // Inline guest-physical TLB probe (the common case); the EPT unit does the rest.
      const off = gpa & 0xfff;
      const gs = gtlb.find(root, (gpa - off) / 4096);
      let hpa: number;
      if (gs >= 0 && !this.adWritten && (gtlb.bitsAt(gs) & walkNeed) === walkNeed) hpa = gtlb.hpaPageAt(gs) * 4096 + off;
      else if (this.freshTranslate(v, gpa, walkAcc, false, false, la, 0, 8)) hpa = ept.hpa;
      else return this.takeExit(v, la, kind, PAGING_ENTRY_BYTES);
      this.entGpa[level] = gpa;
      lo = mem.read32(hpa);
      hi = mem.read32(hpa + 4);
      this.entLo[level] = lo;
      if ((lo & PTE_P) === 0) return this.pageFault(la, accessErrorBits(v, kind)); // error bits only on the fault path
      const ps = (lo & PTE_PS) !== 0;
      // ref §4.1 RSVD: address bits >= MAXPHYADDR, XD without NXE, PS in a PML4E, PS in a PDPTE
      // without 1 GiB pages, large-leaf alignment bits (1 GiB 29:13, 2 MiB 20:13).
      if ((hi & rsvdHi) !== 0
        || (level === 4 && ps)
        || (level === 3 && ps && (!this.page1G || (lo & 0x3fffe000) !== 0))
        || (level === 2 && ps && (lo & 0x1fe000) !== 0)) {
        return this.pageFault(la, PF_P | PF_RSVD | accessErrorBits(v, kind));
      }
      accessedAll &= lo;
      rw &&= (lo & PTE_RW) !== 0;
      us &&= (lo & PTE_US) !== 0;
      xd ||= (hi & PTE_XD_HI) !== 0;
      if (level === 1 || (level <= 3 && ps)) break;
      table = (hi & this.addrHi) * TWO32 + ((lo & ADDR_LO_MASK) >>> 0);
    }
    const leafLevel = level;
    const pkey = (hi >>> PTE_PKEY_SHIFT_HI) & 15;
    const code = rightsFault(v, kind, rw, us, xd && nxe, pkey, this.qemuPk, this.rightsBugs);
    if (code !== 0) return this.pageFault(la, code);

    // Guest A/D updates (docs/semantics.md step 4): paging-structure writes through EPT.
    const adDone = accessedAll !== 0 && (kind !== ACC_WRITE || (lo & PTE_D) !== 0);
    for (let l = 4; !adDone && l >= leafLevel; l--) {
      // Decided from the entry as the walk read it (docs/semantics.md step 4), even if an earlier
      // update of this access already set the bit (two levels using one entry: aliased tables).
      const cur = l === leafLevel ? lo : this.entLo[l];
      const want = (cur | PTE_A | (l === leafLevel && kind === ACC_WRITE ? PTE_D : 0)) >>> 0; // unsigned, as read32 returns
      if (want === cur) continue;
      // A/D writes re-walk EPT (docs/semantics.md step 4): the walk's own earlier updates may have
      // changed the EPT entries (guest tables aliased onto EPT tables), and a fresh walk is always allowed.
      const entGpa = this.entGpa[l];
      gtlb.dropPage((entGpa - (entGpa & 0xfff)) / 4096);
      if (!ept.translate(v, entGpa, QUAL_RD | QUAL_WR, false, false, la, 0, 8)) return this.takeExit(v, la, kind, PAGING_ENTRY_BYTES);
      const hpa = ept.hpa;
      mem.write32(hpa, mem.read32(hpa) | (want & ~cur));
      this.adWritten = true;
      if (l === leafLevel) lo = want;
    }

    // Final access through EPT.
    const size = PAGE_SIZE_AT[leafLevel];
    const frameBase = (hi & this.addrHi) * TWO32 + ((lo & ADDR_LO_MASK) >>> 0);
    const mask = size - 1; // size is a power of two <= 2^30: masking the low 32 bits is exact (no fmod)
    const gpa = frameBase - (frameBase & mask) + (la & mask);
    const adv = (us ? QUAL_ADV_USER : 0) | (rw ? QUAL_ADV_WRITABLE : 0) | (xd && nxe ? QUAL_ADV_XD : 0);
    // Inline guest-physical TLB probe for the final GPA, as for the walk.
    const finalNeed = kind === ACC_READ ? T_R : kind === ACC_WRITE ? T_W | dirtyNeed : (mbec && us ? T_XU : T_X);
    const foff = gpa & 0xfff;
    const fs = gtlb.find(root, (gpa - foff) / 4096);
    let eptBits: number;
    if (fs >= 0 && !this.adWritten && (gtlb.bitsAt(fs) & finalNeed) === finalNeed) {
      eptBits = gtlb.bitsAt(fs);
      this.partHpa[p] = gtlb.hpaPageAt(fs) * 4096 + foff;
    } else if (this.freshTranslate(v, gpa, acc, true, us, la, adv, len)) {
      eptBits = ept.bits;
      this.partHpa[p] = ept.hpa;
    } else return this.takeExit(v, la, kind, len);
    const global = (lo & PTE_G) !== 0 && (v.cr4 & CR4_PGE) !== 0;
    this.partBits[p] = (eptBits & (T_R | T_W | T_X | T_XU | T_EPT_D | T_SPP))
      | (rw ? C_RW : 0) | (us ? C_US : 0) | (xd && nxe ? C_XD : 0) | (global ? C_G : 0)
      | ((lo & PTE_D) !== 0 ? C_D : 0) | (pkey << C_PKEY_SHIFT);
    return A_OK;
  }

  /**
   * `ept.translate`, but once the access has written a guest A/D update, from a fresh EPT walk:
   * the GPA's cached guest-physical mapping is dropped first (dropping is always allowed).
   */
  private freshTranslate(v: Vcpu, gpa: number, acc: number, final: boolean, user: boolean, la: number, adv: number, len: number): boolean {
    if (this.adWritten) v.gtlb.dropPage((gpa - (gpa & 0xfff)) / 4096);
    return this.ept.translate(v, gpa, acc, final, user, la, adv, len);
  }

  private pageFault(la: number, code: number): number {
    this.faultLa = la;
    this.pfCode = code;
    this.pfCr2 = la;
    return A_PF;
  }

  /**
   * Copies the EPT unit's exit, applying the KVM XO design's #PF conversion (semantics.md step 7).
   * `len`: bytes of the access that exited (the data part's, or a paging-structure entry's).
   */
  private takeExit(v: Vcpu, la: number, kind: number, len: number): number {
    const ept = this.ept;
    this.faultLa = la;
    this.exitLen = len;
    if (this.xoBitHi !== 0 && ept.exitReason === EXIT_EPT_VIOLATION && (ept.exitQual & QUAL_XLAT) !== 0
      && kind !== ACC_FETCH && Math.floor(ept.exitGpa / TWO32) & this.xoBitHi) {
      // ref §5.2: P = 1, W/R as the access, U/S for CPL 3, RSVD = I/D = 0; CR2 from the GLA.
      return this.pageFault(la, PF_P | (kind === ACC_WRITE ? PF_W : 0) | (v.cpl === 3 && !this.bugXoNoUser ? PF_U : 0));
    }
    this.exitReason = ept.exitReason;
    this.exitQual = ept.exitQual;
    this.addr[0] = ept.exitGpa;
    this.addr[1] = ept.exitGla;
    return A_EXIT;
  }
}
