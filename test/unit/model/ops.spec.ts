/**
 * Every op kind on the reference model: register rules (#GP), VMCS checks (vmfail 7), INVEPT /
 * INVVPID operands (vmfail 28), host-physical reads and writes and RAM bounds, path ops and
 * `noent`, paging off, page-crossing accesses, EPT A/D bits, advanced exit information, and the
 * commit contract (docs/semantics.md; ref §1.1, §2.1, §6.2).
 */
import { describe, expect, it } from 'vitest';
import { CR4_PAE, CR4_PKE, CR4_SMEP, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../../../src/hw/bits.js';
import type { MachineConfig } from '../../../src/hw/config.js';
import type { Outcome } from '../../../src/hw/outcome.js';
import { ReferenceModel } from '../../../src/model/model.js';
import type { Op } from '../../../src/trace/ops.js';
import { LAYOUT, ScenarioBuilder } from '../../vectors/builder.js';
import { runOps } from '../../vectors/runner.js';
import { config, data, exit48, ok, pf } from '../../vectors/vector.js';

const GPA = LAYOUT.dataGpa;
const LA = LAYOUT.dataLa;
const RW_AD = BigInt(PTE_P | PTE_RW | PTE_A | PTE_D);

function one(op: Op, cfg: MachineConfig = config(), before: Op[] = []): Outcome {
  const m = new ReferenceModel(cfg);
  runOps(m, before);
  const s = m.step(op);
  expect(s.allowed).toHaveLength(1);
  expect(s.allowed[0].stale).toBe(false);
  return s.allowed[0].outcome;
}

const setReg = (reg: Op & { op: 'set_reg' } extends infer _ ? 'cr0' | 'cr3' | 'cr4' | 'efer' | 'rflags' | 'cpl' | 'pkru' | 'pkrs' : never, value: bigint): Op =>
  ({ op: 'set_reg', cpu: 0, reg, value });

describe('set_reg', () => {
  it.each([
    ['cr0 bit 32', setReg('cr0', 1n << 32n)],
    ['cr0 PG without PE', setReg('cr0', 0x80000000n)],
    ['cr3 bit at MAXPHYADDR', setReg('cr3', 1n << 46n)],
    ['cr3 bit 63', setReg('cr3', 1n << 63n)],
    ['cr4 VMXE-like bit 13', setReg('cr4', BigInt(CR4_PAE | (1 << 13)))],
    ['cr4 clearing PAE with LMA = 1', setReg('cr4', 0n)],
    ['efer bit 1', setReg('efer', 0xd02n)],
    ['efer LME change while PG = 1', setReg('efer', 0x800n)],
    ['cpl 4', setReg('cpl', 4n)],
    ['pkru above 32 bits', setReg('pkru', 1n << 32n)],
    ['pkrs bit 32', setReg('pkrs', 1n << 32n)],
  ])('%s -> #GP', (_n, op) => {
    expect(one(op)).toEqual({ kind: 'gp' });
  });

  it('capability gates: SMEP, PKE, PKRU and PKRS need their features', () => {
    const off = config({ caps: { smep: false, pku: false, pks: false } });
    expect(one(setReg('cr4', BigInt(CR4_PAE | CR4_SMEP)), off)).toEqual({ kind: 'gp' });
    expect(one(setReg('cr4', BigInt(CR4_PAE | CR4_PKE)), off)).toEqual({ kind: 'gp' });
    expect(one(setReg('pkru', 4n), off)).toEqual({ kind: 'gp' });
    expect(one(setReg('pkrs', 4n), off)).toEqual({ kind: 'gp' });
  });

  it('valid writes change the state; rflags keeps only AC; LMA follows LME and PG', () => {
    const m = new ReferenceModel(config());
    expect(runOps(m, [setReg('rflags', 0xffffffffn), setReg('cpl', 3n), setReg('pkru', 0xcn), setReg('cr3', 0x5000n)])).toEqual([ok, ok, ok, ok]);
    const st = m.vcpuState(0);
    expect(st.ac).toBe(true);
    expect(st.cpl).toBe(3);
    expect(st.pkru).toBe(0xc);
    expect(st.cr3).toBe(0x5000);
    expect(runOps(m, [setReg('cr0', 0x1n), setReg('efer', 0x500n)])).toEqual([ok, ok]); // paging off, then LME on, LMA bit ignored
    expect(m.vcpuState(0).efer & 0x400).toBe(0);
    expect(runOps(m, [setReg('cr0', 0x80000001n)])).toEqual([ok]);
    expect(m.vcpuState(0).efer & 0x400).toBe(0x400);
  });

  it('a #GP changes nothing', () => {
    const m = new ReferenceModel(config());
    runOps(m, [setReg('cr0', 1n << 40n)]);
    expect(m.vcpuState(0).cr0).toBe(0x80010001);
  });
});

describe('VMCS writes (vmfail 7)', () => {
  const eptp = (v: bigint): Op => ({ op: 'set_eptp', cpu: 0, value: v });
  it.each([
    ['memory type 1', 0x100019n],
    ['5-level walk', 0x100026n],
    ['bit 7 (SSS)', 0x10009en],
    ['bit 8', 0x10011en],
    ['address bit 46', (1n << 46n) | 0x1en],
  ])('EPTP %s', (_n, v) => {
    expect(one(eptp(v))).toEqual({ kind: 'vmfail', error: 7 });
  });
  it('EPTP A/D needs caps.eptAD; UC and WB are valid', () => {
    expect(one(eptp(0x10005en), config({ caps: { eptAD: false } }))).toEqual({ kind: 'vmfail', error: 7 });
    expect(one(eptp(0x10005en))).toEqual(ok);
    expect(one(eptp(0x100018n))).toEqual(ok);
  });
  it('SPPTP: low bits and bits above MAXPHYADDR fail while SPP is on, and only then (SDM 26.2.1.1)', () => {
    const spp: Op = { op: 'set_ctls2', cpu: 0, value: 0x800022 };
    expect(one({ op: 'set_spptp', cpu: 0, value: 0x2008n }, config(), [spp])).toEqual({ kind: 'vmfail', error: 7 });
    expect(one({ op: 'set_spptp', cpu: 0, value: 1n << 50n }, config(), [spp])).toEqual({ kind: 'vmfail', error: 7 });
    expect(one({ op: 'set_spptp', cpu: 0, value: 0x2000n }, config(), [spp])).toEqual(ok);
    // SPP off: the VM entry does not look at the SPPTP, so the write stands ...
    expect(one({ op: 'set_spptp', cpu: 0, value: 0x2008n })).toEqual(ok);
    // ... and turning SPP on checks it then.
    expect(one(spp, config(), [{ op: 'set_spptp', cpu: 0, value: 0x2008n }])).toEqual({ kind: 'vmfail', error: 7 });
  });
  it('secondary controls: EPT and VPID required, MBEC/SPP need their capability, other bits fail', () => {
    const c = (value: number, cfg = config()): Outcome => one({ op: 'set_ctls2', cpu: 0, value }, cfg);
    expect(c(0x20)).toEqual({ kind: 'vmfail', error: 7 });
    expect(c(0x2)).toEqual({ kind: 'vmfail', error: 7 });
    expect(c(0x2a)).toEqual({ kind: 'vmfail', error: 7 });
    expect(c(0x22 | (1 << 22), config({ caps: { mbec: false } }))).toEqual({ kind: 'vmfail', error: 7 });
    expect(c(0x22 | (1 << 23), config({ caps: { spp: false } }))).toEqual({ kind: 'vmfail', error: 7 });
    expect(c(0x22 | (1 << 22) | (1 << 23))).toEqual(ok);
  });
});

describe('INVEPT / INVVPID operands (vmfail 28)', () => {
  const inv = (type: number, vpid: number, la: bigint): Op => ({ op: 'invvpid', cpu: 0, type, vpid, la });
  it.each([
    ['INVVPID type 4', inv(4, 1, 0n)],
    ['INVVPID VPID 0 with type 1', inv(1, 0, 0n)],
    ['INVVPID type 0 non-canonical', inv(0, 1, 0x0000800000000000n)],
    ['INVEPT type 0', { op: 'invept', cpu: 0, type: 0, eptp: 0x10005en } as Op],
    ['INVEPT type 1 with an invalid EPTP', { op: 'invept', cpu: 0, type: 1, eptp: 0x100001n } as Op],
  ])('%s', (_n, op) => {
    expect(one(op)).toEqual({ kind: 'vmfail', error: 28 });
  });
  it('unsupported types per capability', () => {
    expect(one(inv(1, 1, 0n), config({ caps: { invvpidTypes: [true, false, true, true] } }))).toEqual({ kind: 'vmfail', error: 28 });
    expect(one({ op: 'invept', cpu: 0, type: 2, eptp: 0n }, config({ caps: { inveptAll: false } }))).toEqual({ kind: 'vmfail', error: 28 });
  });
  it('valid operands', () => {
    expect(one(inv(2, 0, 0n))).toEqual(ok);
    expect(one(inv(0, 1, 0xffff800000001000n))).toEqual(ok);
    expect(one({ op: 'invept', cpu: 0, type: 1, eptp: 0x10005en })).toEqual(ok);
    expect(one({ op: 'invlpg', cpu: 0, la: LA })).toEqual(ok);
  });
});

describe('host-physical ops and RAM bounds', () => {
  it('phys_write then phys_read, byte-exact and little-endian, across a frame boundary', () => {
    const m = new ReferenceModel(config());
    const w = m.step({ op: 'phys_write', hpa: 0x3ffe, size: 4, value: 0xa1b2c3d4n });
    expect(w.allowed[0].frames).toEqual([3, 4]);
    m.commit(w.allowed[0]);
    expect(runOps(m, [{ op: 'phys_read', hpa: 0x3ffe, size: 4 }, { op: 'phys_read', hpa: 0x4000, size: 1 }])).toEqual([data(0xa1b2c3d4n), data(0xb2n)]);
    expect(m.frameBytes(4)![0]).toBe(0xb2);
    expect(m.frameBytes(9)).toBeNull();
  });
  it('outside RAM (or straddling its end) is noent', () => {
    const cfg = config({ framesMax: 16 });
    expect(one({ op: 'phys_read', hpa: 16 * 4096, size: 1 }, cfg)).toEqual({ kind: 'noent' });
    expect(one({ op: 'phys_write', hpa: 16 * 4096 - 2, size: 4, value: 0n }, cfg)).toEqual({ kind: 'noent' });
  });
  it('guest data outside RAM reads all-ones; writes are dropped', () => {
    const b = new ScenarioBuilder();
    b.eptMap(GPA, 0x40000000, 7n).guestMap(LA, GPA, RW_AD); // HPA 1 GiB, RAM is 256 MiB
    const m = new ReferenceModel(config());
    runOps(m, b.ops);
    const w = m.step({ op: 'write', cpu: 0, la: LA, size: 8, value: 5n });
    expect(w.allowed[0].outcome).toEqual(ok);
    expect(w.allowed[0].frames).not.toContain(0x40000000 / 4096); // only EPT A/D bits in RAM are written
    m.commit(w.allowed[0]);
    expect(runOps(m, [{ op: 'read', cpu: 0, la: LA, size: 8 }])).toEqual([data(0xffffffffffffffffn)]);
  });
  it('a table outside RAM reads all-ones: an EPT PML4E there is a misconfiguration', () => {
    const m = new ReferenceModel(config());
    runOps(m, [{ op: 'set_eptp', cpu: 0, value: 0x4000001en }, { op: 'set_reg', cpu: 0, reg: 'cr0', value: 1n }]);
    expect(runOps(m, [{ op: 'read', cpu: 0, la: 0x1000, size: 1 }])).toEqual([{ kind: 'exit', reason: 49, qual: 0, gpa: 0x1000, gla: null }]);
  });
});

describe('path ops', () => {
  it('ept_set needs present non-leaf upper entries', () => {
    const m = new ReferenceModel(config());
    expect(runOps(m, [{ op: 'ept_set', cpu: 0, gpa: 0x5000, level: 1, entry: 0x5037n }])).toEqual([{ kind: 'noent' }]); // PML4E at HPA 0 is empty
    expect(runOps(m, [{ op: 'ept_set', cpu: 0, gpa: 0x5000, level: 4, entry: 0x10007n }])).toEqual([ok]);
    expect(m.readPhys(0, 8)).toBe(0x10007n);
    expect(runOps(m, [{ op: 'ept_set', cpu: 0, gpa: 0x5000, level: 3, entry: 0x20087n }])).toEqual([ok]); // a 1 GiB leaf
    expect(runOps(m, [{ op: 'ept_set', cpu: 0, gpa: 0x5000, level: 2, entry: 0n }])).toEqual([{ kind: 'noent' }]);
  });
  it('gpt_set resolves guest tables through the debug EPT walk', () => {
    const b = new ScenarioBuilder();
    b.eptMap(GPA, b.dataFrame(), 7n).guestMap(LA, GPA, RW_AD);
    const m = new ReferenceModel(config());
    runOps(m, b.ops);
    expect(runOps(m, [{ op: 'gpt_set', cpu: 0, la: LA + 2 ** 39, level: 3, entry: 1n }])).toEqual([{ kind: 'noent' }]); // no PML4E there
    runOps(m, [{ op: 'ept_set', cpu: 0, gpa: b.guestTableGpa(LA, 1), level: 1, entry: 0n }]);
    expect(runOps(m, [{ op: 'gpt_set', cpu: 0, la: LA, level: 1, entry: 0n }])).toEqual([{ kind: 'noent' }]); // PT GPA untranslatable
    expect(runOps(m, [{ op: 'gpt_set', cpu: 0, la: LA, level: 2, entry: 0n }])).toEqual([ok]);
  });
  it('sppt_set needs valid upper SPPT entries', () => {
    const m = new ReferenceModel(config());
    expect(runOps(m, [{ op: 'sppt_set', cpu: 0, gpa: 0, level: 1, entry: 1n }])).toEqual([{ kind: 'noent' }]);
    expect(runOps(m, [{ op: 'sppt_set', cpu: 0, gpa: 0, level: 4, entry: 0x2001n }])).toEqual([ok]);
    expect(m.readPhys(0x1000, 8)).toBe(0x2001n); // SPPTP starts at 0x1000
  });
  it('an unknown vCPU throws', () => {
    const m = new ReferenceModel(config({ vcpus: 1 }));
    expect(() => m.step({ op: 'invlpg', cpu: 3, la: 0 })).toThrow(/cpu 3/);
  });
});

describe('guest accesses', () => {
  it('paging off: the linear address is the GPA (fetch needs XS)', () => {
    const b = new ScenarioBuilder({ mbec: true });
    const hpa = b.dataFrame();
    b.eptMap(0x3000, hpa, 1n | (1n << 10n)); // R and XU only
    b.reg('cr0', 1).op({ op: 'phys_write', hpa: hpa + 8, size: 2, value: 0xbeefn });
    const m = new ReferenceModel(config({ caps: { advExitInfo: true } }));
    runOps(m, b.ops);
    expect(runOps(m, [{ op: 'read', cpu: 0, la: 0x3008, size: 2 }])).toEqual([data(0xbeefn)]);
    // a supervisor-mode address without XS: FETCH|PR|PUX|GLA|XLAT; no advanced bits with paging off
    expect(runOps(m, [{ op: 'fetch', cpu: 0, la: 0x3010, size: 1 }])).toEqual([exit48(0x1cc, 0x3010, 0x3010)]);
  });

  it('page-crossing write and read, byte-exact', () => {
    const b = new ScenarioBuilder();
    b.eptMap(GPA, b.dataFrame(), 7n).eptMap(GPA + 0x1000, b.dataFrame(), 7n);
    b.guestMap(LA, GPA, RW_AD).guestMap(LA + 0x1000, GPA + 0x1000, RW_AD);
    b.write(LA + 0xffd, 8, 0x0807060504030201n).read(LA + 0xffd, 8).read(LA + 0x1000, 1);
    const m = new ReferenceModel(config());
    const outs = runOps(m, b.ops);
    expect(outs.slice(-3)).toEqual([ok, data(0x0807060504030201n), data(0x04n)]);
  });

  it('a fault in the second part: no data written, A/D of the first part stay, CR2 = second part', () => {
    const b = new ScenarioBuilder({ eptAD: false });
    const f1 = b.dataFrame();
    b.eptMap(GPA, f1, 7n).eptMap(GPA + 0x1000, b.dataFrame(), 7n);
    b.guestMap(LA, GPA, BigInt(PTE_P | PTE_RW)).guestMap(LA + 0x1000, GPA + 0x1000, 0n);
    const m = new ReferenceModel(config());
    runOps(m, b.ops);
    const s = m.step({ op: 'write', cpu: 0, la: LA + 0xffe, size: 4, value: 0xffffffffn });
    expect(s.allowed.map((c) => c.outcome)).toEqual([pf(0x2, LA + 0x1000)]);
    m.commit(s.allowed[0]);
    // semantics.md step 1: the first part's walk passed (A and D set), the second faulted; no data
    expect(m.readPhys(b.guestEntryGpa(LA, 1), 8) & BigInt(PTE_A | PTE_D)).toBe(BigInt(PTE_A | PTE_D));
    expect(m.readPhys(f1 + 0xffe, 2)).toBe(0n);
  });

  it('a fetch straddling pages needs both executable', () => {
    const b = new ScenarioBuilder();
    b.eptMap(GPA, b.dataFrame(), 7n).eptMap(GPA + 0x1000, b.dataFrame(), 3n);
    b.guestMap(LA, GPA, RW_AD).guestMap(LA + 0x1000, GPA + 0x1000, RW_AD);
    const m = new ReferenceModel(config({ caps: { advExitInfo: false } }));
    runOps(m, b.ops);
    expect(runOps(m, [{ op: 'fetch', cpu: 0, la: LA + 0xffa, size: 10 }])).toEqual([exit48(0x19c, GPA + 0x1000, LA + 0x1000)]);
  });

  it('EPT A/D: A on the path, D in the leaf for writes; guest-table pages get D (walks count as writes)', () => {
    const b = new ScenarioBuilder({ eptAD: true });
    b.eptMap(GPA, b.dataFrame(), 7n).guestMap(LA, GPA, RW_AD);
    const m = new ReferenceModel(config());
    runOps(m, b.ops);
    const leaf = b.eptEntryHpa(GPA, 1);
    const ptLeaf = b.eptEntryHpa(b.guestTableGpa(LA, 1), 1);
    runOps(m, [{ op: 'read', cpu: 0, la: LA, size: 1 }]);
    expect(m.readPhys(leaf, 8) & 0x300n).toBe(0x100n);
    expect(m.readPhys(ptLeaf, 8) & 0x300n).toBe(0x300n);
    expect(m.readPhys(b.eptEntryHpa(GPA, 4), 8) & 0x100n).toBe(0x100n);
    runOps(m, [{ op: 'write', cpu: 0, la: LA, size: 1, value: 1n }]);
    expect(m.readPhys(leaf, 8) & 0x300n).toBe(0x300n);
  });

  it('EPT A/D off: no EPT A/D writes', () => {
    const b = new ScenarioBuilder({ eptAD: false });
    b.eptMap(GPA, b.dataFrame(), 7n).guestMap(LA, GPA, RW_AD);
    const m = new ReferenceModel(config());
    runOps(m, b.ops);
    const s = m.step({ op: 'write', cpu: 0, la: LA, size: 1, value: 1n });
    expect(s.allowed[0].frames).toEqual([LAYOUT.dataPool / 4096]);
  });

  it('advanced exit information (bits 9-11) with the capability, final accesses only', () => {
    const b = new ScenarioBuilder();
    b.eptMap(GPA, b.dataFrame(), 1n).guestMap(LA, GPA, RW_AD | BigInt(PTE_US));
    const adv = new ReferenceModel(config({ caps: { advExitInfo: true } }));
    runOps(adv, b.ops);
    // user-mode (bit 9) and writable (bit 10) linear address, not XD
    expect(runOps(adv, [{ op: 'write', cpu: 0, la: LA, size: 1, value: 1n }])).toEqual([exit48(0x18a | 0x600, GPA, LA)]);
    const plain = new ReferenceModel(config({ caps: { advExitInfo: false } }));
    runOps(plain, b.ops);
    expect(runOps(plain, [{ op: 'write', cpu: 0, la: LA, size: 1, value: 1n }])).toEqual([exit48(0x18a, GPA, LA)]);
  });

  it('MAXPHYADDR: guest bit 40 is reserved at MAXPHYADDR 40, an address bit at 46', () => {
    const b = new ScenarioBuilder();
    b.eptMap(GPA, b.dataFrame(), 7n).guestMap(LA, GPA, RW_AD);
    b.guestRaw(LA, 1, BigInt(GPA) | RW_AD | (1n << 40n));
    const narrow = new ReferenceModel(config({ maxPhyAddr: 40 }));
    const outs = runOps(narrow, [...b.ops, { op: 'read', cpu: 0, la: LA, size: 1 }]);
    expect(outs[outs.length - 1]).toEqual(pf(0x9, LA));
    const wide = new ReferenceModel(config({ maxPhyAddr: 46, caps: { advExitInfo: false } }));
    const outs2 = runOps(wide, [...b.ops, { op: 'read', cpu: 0, la: LA, size: 1 }]);
    expect(outs2[outs2.length - 1]).toEqual(exit48(0x181, GPA + 2 ** 40, LA)); // unmapped GPA
  });
});

describe('commit contract', () => {
  it('rejects a candidate that the last step did not return', () => {
    const m = new ReferenceModel(config());
    const s = m.step({ op: 'invlpg', cpu: 0, la: 0 });
    m.commit(s.allowed[0]);
    expect(() => m.commit(s.allowed[0])).toThrow(/not a candidate/);
  });
  it('step has no effect until commit', () => {
    const m = new ReferenceModel(config());
    m.step({ op: 'phys_write', hpa: 0x5000, size: 8, value: 7n });
    expect(m.readPhys(0x5000, 8)).toBe(0n);
  });
});
