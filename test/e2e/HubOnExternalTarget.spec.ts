/**
 * A hub campaign on an external target (issue 13): `fuzz --hub ... --target qemu` on two machines
 * gives, once pulled, the crash store a local `fuzz --target qemu` over the same runs writes, byte
 * for byte (the target's own minimization included: a step budget small enough to bind before
 * the time limit, so the outcome depends on no clock). The target and its profile are part of the
 * campaign's options: a machine without the target (EPTFUZZ_QEMU names a binary that is not
 * there) refuses to join in one line, exit 2, and so does a machine started on another target.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { suiteSeed, tempDir } from './helpers.js';
import { expectPulledSameAsLocal, reportedFindings, spawnCli } from '../support/hub.js';
import { qemuSuiteEnabled } from '../support/qemu.js';
import { redisOrSkipMessage, startRedis, type TestRedis } from '../support/redis.js';

const seed = `q${suiteSeed()}`;
const RUNS = 128;
const base = ['--target', 'qemu', '--seed', seed, '--runs', String(RUNS), '--block-runs', '32', '--max-ops', '80', '--shrink-steps', '8', '--shrink-ms', '600000'];
const have = redisOrSkipMessage('HubOnExternalTarget') && qemuSuiteEnabled('HubOnExternalTarget');

describe.skipIf(!have)(`HubOnExternalTarget (seed: ${seed})`, () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startRedis(); });
  afterAll(async () => { await redis?.stop(); });

  it('two machines on --target qemu: the pulled store is the local --target qemu campaign\'s, byte for byte', async () => {
    const d = tempDir('hub-qemu');
    const hub = ['fuzz', '--hub', redis.url, '--campaign', 'qemu', ...base, '--workers', '1'];
    const procs = [spawnCli(hub), spawnCli(hub)];
    const ends = await Promise.all(procs.map((p) => p.done));
    for (const [i, e] of ends.entries()) expect(e.code, procs[i].stderr()).toBe(1);
    for (const p of procs) {
      expect(p.stderr()).toMatch(/(created|joined) campaign qemu .*target qemu, 1 target process\(es\) at once/);
      expect(p.stdout()).toContain(`4/4 blocks merged, ${RUNS} runs`);
    }
    const reported = new Set(procs.flatMap((p) => reportedFindings(p.stderr())));
    expect(reported.size).toBeGreaterThan(0);
    const files = await expectPulledSameAsLocal({ url: redis.url, campaign: 'qemu' }, [...base, '--workers', '1'], join(d, 'hub'), join(d, 'local'), expect);
    for (const h of reported) expect(files.has(join(h, 'description.json')), h).toBe(true);
  }, 240_000);

  it('a machine without the target, or on another target, refuses to join in one line, exit 2', async () => {
    const hub = ['fuzz', '--hub', redis.url, '--campaign', 'qemu', ...base, '--workers', '1'];
    const missing = spawnCli(hub, { EPTFUZZ_QEMU: '/nonexistent/qemu-system-x86_64' });
    const other = spawnCli(hub.filter((a, i) => a !== '--target' && hub[i - 1] !== '--target'));
    const [m, o] = await Promise.all([missing.done, other.done]);
    expect(m.code, missing.stderr()).toBe(2);
    expect(missing.stderr().trim()).toMatch(/^eptfuzz: --target qemu: the target does not run on this machine \(.*\/nonexistent\/qemu-system-x86_64.*\); it cannot join campaign qemu$/);
    expect(o.code, other.stderr()).toBe(2);
    expect(other.stderr().trim()).toBe('eptfuzz: campaign qemu runs on --target qemu, this machine on --target machine; give the campaign\'s target or another --campaign');
  }, 60_000);
});
