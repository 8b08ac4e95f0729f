/**
 * Replay exit codes on hv-mode traces: 0 for the hand-written hv seeds, 1 when a planted hv bug
 * reproduces, 2 (one line naming the op index and the mode) for a hypervisor op in a bare trace or
 * a hardware op the hypervisor refuses in a hv trace.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, tempDir } from './helpers.js';

const SEEDS = join(import.meta.dirname, '..', '..', 'corpus', 'seeds');
const HV = '@machine {"mode":"hv","framesMax":8192,"kvmXo":true,"hv":{"poolFrames":256}}';
const header = (machine: string): string => `@schema 1\n@eptfuzz 0.1.0\n${machine}\n`;

/** A protected guest writes a private page; teardown reclaims it; the host reads it back. */
const RECLAIM = [
  'vm_create vm=3 type=protected',
  'host_donate_guest vm=3 pfn=0x20 gfn=0x5',
  'set_mem_attrs vm=3 gpa=0x5000 size=0x1000 attrs=0x8 flags=0x0',
  'vcpu_load cpu=0 vm=3',
  'write cpu=0 la=0x5008 size=8 value=0xdeadbeef',
  'vcpu_load cpu=0 vm=1',
  'vm_teardown_start vm=3',
  'vm_reclaim vm=3 gfn=0x5',
  'read cpu=1 la=0x20008 size=8',
].join('\n') + '\n';

describe('HvReplayExitCodes', () => {
  it('exit 0: every hand-written hv seed and its msgpack copy replays clean', async () => {
    const files = readdirSync(SEEDS).filter((f) => f.startsWith('hv-')).map((f) => join(SEEDS, f));
    expect(files.length).toBeGreaterThanOrEqual(4);
    const r = await cli(['replay', ...files]);
    expect(r.code, r.stdout).toBe(0);
    const all = await cli(['replay', ...readdirSync(SEEDS).map((f) => join(SEEDS, f))]);
    expect(all.code, all.stdout).toBe(0);
    expect(all.stdout.match(/^PASS /gm)?.length).toBe(readdirSync(SEEDS).length);
  });

  it('exit 0 without the bug, exit 1 with pkvm-reclaim-no-zero (the reclaimed page still holds the data)', async () => {
    const dir = tempDir('hvreplay');
    const ok = join(dir, 'ok.txt');
    const bad = join(dir, 'bad.txt');
    writeFileSync(ok, header(HV) + RECLAIM);
    writeFileSync(bad, header(HV.replace('"mode":"hv"', '"mode":"hv","bugs":["pkvm-reclaim-no-zero"]')) + RECLAIM);
    const pass = await cli(['replay', '--verbose', ok]);
    expect(pass.code, pass.stdout).toBe(0);
    expect(pass.stdout).toMatch(/read cpu=1 la=0x20008 size=8\n\s+-> data 0x0\n/);
    const fail = await cli(['replay', bad]);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/FAIL .*@ vm_reclaim/);
    const oracle = await cli(['replay', '--oracle', 'machine', bad]);
    expect(oracle.code).toBe(1);
  });

  it('exit 2, one line naming op index and mode: a hv op in a bare trace, a refused hardware op in a hv trace', async () => {
    const dir = tempDir('hvmodes');
    const bare = join(dir, 'bare.txt');
    const hv = join(dir, 'hv.txt');
    writeFileSync(bare, header('@machine {}') + 'read cpu=0 la=0x1000 size=8\nvm_create vm=2 type=np\n');
    writeFileSync(hv, header(HV) + 'vm_create vm=2 type=np\nept_set cpu=0 gpa=0x0 level=4 entry=0x1007\n');
    for (const [file, mode] of [[bare, 'bare-mode'], [hv, 'hv-mode']] as const) {
      for (const command of [['replay'], ['dump'], ['corpus', 'add', join(dir, 'corpus')]]) {
        const r = await cli([...command, file]);
        expect(r.code, `${command.join(' ')} ${file}`).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain('(op 1)');
        expect(lines[0]).toContain(mode);
      }
    }
  });
});
