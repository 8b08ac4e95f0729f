/**
 * The bare generator varies the machine configuration per epoch (src/gen/configs.ts): every second
 * epoch runs the KVM XO design with XO alias mappings, so the planted `xo-pf-no-user-bit` (the XO
 * #PF injected without U/S at CPL 3) is found by a short default campaign, and its repro carries
 * the configuration it needs.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../../src/trace/load.js';
import { cli, suiteSeed, tempDir } from './helpers.js';

const seed = suiteSeed();

describe(`BareCampaignFindsXoBug (seed: ${seed})`, () => {
  it('a 384-run bare campaign with --bug xo-pf-no-user-bit finds it; the repro runs kvmXo and replays to exit 1', async () => {
    const dir = tempDir('xobug');
    const crashes = join(dir, 'crashes');
    const r = await cli(['fuzz', '--seed', seed, '--runs', '384', '--max-ops', '120', '--workers', '0', '--oracle', 'machine', '--bug', 'xo-pf-no-user-bit', '--crashes', crashes]);
    expect(r.code, r.stdout).toBe(1);
    const repros = readdirSync(crashes).map((h) => join(crashes, h, 'repro.msgpack'));
    const xo = repros.map((f) => ({ f, t: loadTrace(f) })).find(({ t }) => t.signature?.invariant === 'fault.pf-error-code');
    expect(xo, r.stdout).toBeDefined();
    expect(xo!.t.machine.kvmXo).toBe(true);
    expect(xo!.t.signature?.detail).toContain('U');
    const replay = await cli(['replay', '--oracle', 'machine', xo!.f]);
    expect(replay.code).toBe(1);
    const model = await cli(['replay', xo!.f]);
    expect(model.code).toBe(1);
  });

  it('the same seed gives the same configurations (two generations agree), and they vary', async () => {
    const { epochConfig } = await import('../../src/gen/configs.js');
    const { normalizeConfig } = await import('../../src/hw/config.js');
    const configs = Array.from({ length: 8 }, (_, e) => epochConfig(normalizeConfig(), seed, e));
    expect(Array.from({ length: 8 }, (_, e) => epochConfig(normalizeConfig(), seed, e))).toEqual(configs);
    expect(configs[0]).toEqual(normalizeConfig());
    expect(new Set(configs.map((c) => c.maxPhyAddr)).size).toBe(4);
    expect(configs.filter((c) => c.kvmXo).length).toBeGreaterThanOrEqual(3);
  });
});
