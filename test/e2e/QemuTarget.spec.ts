/**
 * The QEMU target end to end (qemu-system-x86_64 7.2 from Debian, TCG, the guest agent in direct
 * mode): hand-written guest-paging and PKS traces agree with the model and show QEMU's own #PF
 * error codes; a deliberately wrong result is caught; the agent survives a trace that writes over all
 * the RAM a trace may use, and a trace that reaches what the harness keeps is judged up to there,
 * never run into it; a killed QEMU is a fault of that trace; the committed QEMU findings
 * (docs/target-findings.md) still reproduce with their signatures.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTrace } from '../../src/trace/load.js';
import { formatSignature } from '../../src/check/violation.js';
import { onTarget } from '../../src/target/domain.js';
import { agentBatchFlags, agentTrace } from '../../src/target/lowering.js';
import { encodeBatch } from '../../src/target/bochs/batch.js';
import { STUB_LA_SUP, STUB_LA_USER } from '../../src/target/bochs/profile.js';
import { QEMU_PROFILE } from '../../src/target/qemu/profile.js';
import { cli, tempDir } from './helpers.js';
import { qemuSuiteEnabled } from '../support/qemu.js';

const enabled = qemuSuiteEnabled('QemuTarget');
const FINDINGS = 'test/e2e/qemu/findings';

afterEach(() => {
  delete process.env.EPTFUZZ_QEMU;
  delete process.env.EPTFUZZ_QEMU_CORRUPT;
});

describe.runIf(enabled)('QemuTarget', () => {
  it('a guest-paging trace agrees with the model on QEMU, with QEMU\'s own #PF error codes', async () => {
    const r = await cli(['replay', '--target', 'qemu', '--json', 'test/e2e/qemu/guest-paging.txt']);
    expect(r.code, r.stderr).toBe(0);
    const steps = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { harness: boolean; actual: { kind: string; code?: number }; violations: unknown[] });
    expect(steps.filter((s) => s.violations.length > 0)).toEqual([]);
    const pf = steps.filter((s) => !s.harness && s.actual.kind === 'pf').map((s) => s.actual.code);
    // WP=1 supervisor write 0x3, user write 0x7, SMEP fetch 0x11, SMAP read 0x1, user fetch of
    // XD 0x15, PKU access-disable read 0x25, PKU write-disable write 0x27
    expect(pf).toEqual([0x3, 0x7, 0x11, 0x1, 0x15, 0x25, 0x27]);
  });

  it('PKS: supervisor protection keys agree with the model; an IA32_PKRS that forbids the agent\'s key stops judging first', async () => {
    const r = await cli(['replay', '--target', 'qemu', '--json', 'test/e2e/qemu/pks.txt']);
    expect(r.code, r.stderr).toBe(0);
    const steps = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { harness: boolean; actual: { kind: string; code?: number }; violations: unknown[] });
    expect(steps.filter((s) => s.violations.length > 0)).toEqual([]);
    // AD1 read 0x21, WD2 write with CR0.WP=1 0x23
    expect(steps.filter((s) => !s.harness && s.actual.kind === 'pf').map((s) => s.actual.code)).toEqual([0x21, 0x23]);
    const plain = await cli(['replay', '--target', 'qemu', 'test/e2e/qemu/pks.txt']);
    expect(plain.stdout).toMatch(/^PASS test\/e2e\/qemu\/pks.txt on qemu \(15 of 17 ops judged\)$/m);
    expect(plain.stdout).toMatch(/IA32_PKRS forbids protection key 15/);
  });

  it('a deliberately wrong result is caught (the comparison can fail)', async () => {
    process.env.EPTFUZZ_QEMU_CORRUPT = 'pf';
    const r = await cli(['replay', '--target', 'qemu', 'test/e2e/qemu/guest-paging.txt']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL test\/e2e\/qemu\/guest-paging.txt on qemu: fault\.pf-error-code @ access: paging\.rw\.supervisor-write-wp -> pf not-present at step 11$/m);
  });

  it('the agent survives writes over all trace RAM; a write to its PML4 slot 511 stops judging before it runs', async () => {
    const r = await cli(['replay', '--target', 'qemu', 'test/e2e/qemu/whole-ram.txt']);
    expect(r.stdout).toMatch(/^PASS test\/e2e\/qemu\/whole-ram.txt on qemu \(139 of 141 ops judged\)$/m);
    expect(r.stdout).toMatch(/could not run step 139 as written \(the guest overwrites PML4 slot 511/);
    expect(r.code).toBe(0);
  });

  it('a killed QEMU is a fault of the trace it was running', async () => {
    process.env.EPTFUZZ_QEMU = join(process.cwd(), 'test/support/qemu-killed.sh');
    const r = await cli(['replay', '--target', 'qemu', 'test/e2e/qemu/guest-paging.txt']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAULT test\/e2e\/qemu\/guest-paging.txt: the qemu target failed on this trace: .*exited/m);
  });

  it('a QEMU that hangs (findings Q3, Q5: MOV CR3 / MOV CR4 with reserved bits) is a fault of that trace, and the other trace is still judged', async () => {
    process.env.EPTFUZZ_TARGET_TIMEOUT_MS = '3000';
    try {
      const r = await cli(['replay', '--target', 'qemu', 'test/e2e/qemu/mov-cr3-reserved-bits-hang.txt', 'test/e2e/qemu/mov-cr4-reserved-bits-hang.txt', 'test/e2e/qemu/guest-paging.txt']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^FAULT test\/e2e\/qemu\/mov-cr3-reserved-bits-hang.txt: the qemu target failed on this trace: the target did not finish within 3000 ms/m);
      expect(r.stdout).toMatch(/^FAULT test\/e2e\/qemu\/mov-cr4-reserved-bits-hang.txt: the qemu target failed on this trace: the target did not finish within 3000 ms/m);
      expect(r.stdout).toMatch(/^PASS test\/e2e\/qemu\/guest-paging.txt on qemu/m);
    } finally {
      delete process.env.EPTFUZZ_TARGET_TIMEOUT_MS;
    }
  });

  it('a QEMU that triple-faults (finding Q2: MOV CR0 with bit 32 set and PG clear) is a fault of that trace', async () => {
    const r = await cli(['replay', '--target', 'qemu', 'test/e2e/qemu/cr0-high-bits-paging-off-dies.txt']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAULT test\/e2e\/qemu\/cr0-high-bits-paging-off-dies.txt: the qemu target failed on this trace: .*Triple fault/m);
    // the same trace on the built-in machine: #GP, nothing changes
    expect((await cli(['replay', 'test/e2e/qemu/cr0-high-bits-paging-off-dies.txt'])).code).toBe(0);
  });

  it('export --target qemu: the image of a QEMU finding boots in QEMU and prints its FAIL line; a passing trace prints PASS', async () => {
    const dir = tempDir('export-qemu');
    const bad = await cli(['export', 'test/e2e/qemu/findings/rsvd-pf-without-p-read.txt', '--target', 'qemu', '--image', join(dir, 'q1.img'), '--run']);
    expect(bad.stdout).toMatch(/^step \d+: expected pf 9 f06fff; got pf 8 f06fff: MISMATCH$/m);
    expect(bad.stdout).toMatch(/^FAIL \(1 of \d+ steps differ; first: step \d+\)/m);
    expect(bad.code).toBe(1);
    const good = await cli(['export', 'test/e2e/qemu/guest-paging.txt', '--target', 'qemu', '--image', join(dir, 'gp.img'), '--run']);
    expect(good.stdout).toMatch(/^PASS \(\d+ steps as expected\)/m);
    expect(good.code).toBe(0);
  });

  it('an adapter whose eptfuzz is gone takes its hung QEMU with it', async () => {
    const dir = tempDir('orphan');
    const batchFile = join(dir, 'hang-batch.bin');
    // the batch eptfuzz sends for a trace that hangs QEMU (Q5)
    const { lowered, watch } = agentTrace(onTarget(loadTrace('test/e2e/qemu/mov-cr4-reserved-bits-hang.txt'), QEMU_PROFILE).trace, QEMU_PROFILE);
    writeFileSync(batchFile, encodeBatch([{ index: 0, trace: lowered.trace, watch, stubLaSup: STUB_LA_SUP, stubLaUser: STUB_LA_USER }],
      QEMU_PROFILE.config.framesMax * 4096, QEMU_PROFILE.config.maxPhyAddr, agentBatchFlags(QEMU_PROFILE)));
    // eptfuzz starts an adapter as a process-group leader (src/target/exec.ts); here its parent is a shell we kill
    const parent = spawn('sh', ['-c', `setsid ${process.execPath} dist/src/target/qemu/adapter.js ${batchFile} & exec sleep 60`], { stdio: 'ignore' });
    const pids = (args: string[]): number[] => { try { return execFileSync('pgrep', args, { encoding: 'utf8' }).trim().split('\n').map(Number); } catch { return []; } };
    const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
    let adapter: number[] = [];
    let emulator: number[] = [];
    for (let i = 0; i < 100 && emulator.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      adapter = pids(['-f', `adapter.js ${batchFile}`]);
      if (adapter.length === 1) emulator = pids(['-P', String(adapter[0])]);
    }
    expect(emulator.length, 'QEMU started under the adapter').toBe(1);
    parent.kill('SIGKILL');
    for (let i = 0; i < 60 && (alive(adapter[0]) || alive(emulator[0])); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(adapter[0])).toBe(false);
    expect(alive(emulator[0])).toBe(false);
  });

  it('a trace with VMX ops is refused in one line (exit 2)', async () => {
    const r = await cli(['replay', '--target', 'qemu', 'corpus/seeds/ept-permissions.txt']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/the qemu target cannot run ept_set/);
  });

  it('every committed QEMU finding still reproduces with its signature', async () => {
    const files = readdirSync(FINDINGS).filter((f) => f.endsWith('.txt')).map((f) => join(FINDINGS, f));
    expect(files.length).toBeGreaterThan(0);
    const r = await cli(['replay', '--target', 'qemu', ...files]);
    for (const f of files) {
      const want = loadTrace(f).signature;
      expect(want, f).toBeDefined();
      expect(r.stdout, f).toContain(`FAIL ${f} on qemu: ${formatSignature(want!)}`);
    }
  });
});
