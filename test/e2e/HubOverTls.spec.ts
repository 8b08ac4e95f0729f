/**
 * `rediss://` reaches a TLS-only Redis (issue 13): against a redis-server that speaks TLS only,
 * with a self-signed certificate, a machine that does not trust the certificate is refused in
 * one line (exit 2, password masked); one that trusts it (NODE_EXTRA_CA_CERTS, Node's own way to
 * add a CA) runs a campaign with a planted bug to the end, and `status` reads it over TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, suiteSeed } from './helpers.js';
import { opensslAvailable, redisAvailable, startRedis, type TestRedis } from '../support/redis.js';
import { spawnCli } from '../support/hub.js';

const seed = suiteSeed();
const have = redisAvailable() && opensslAvailable();
if (!have) console.warn('HubOverTls: SKIPPED: redis-server or openssl is not installed (.ci/run installs redis-server)');

describe.skipIf(!have)(`HubOverTls (seed: ${seed})`, () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await startRedis({ tls: true, password: 'tls-pass-77' }); });
  afterAll(async () => { await redis?.stop(); });

  it('an untrusted certificate is one line, exit 2; a trusted one runs a campaign over TLS', async () => {
    const untrusted = await cli(['status', '--hub', redis.url, '--campaign', 'tls']);
    expect(untrusted.code).toBe(2);
    expect(untrusted.stderr.trim().split('\n')).toHaveLength(1);
    expect(untrusted.stderr).toContain('self-signed certificate');
    expect(untrusted.stderr).not.toContain('tls-pass-77');
    const env = { NODE_EXTRA_CA_CERTS: redis.caFile! };
    const p = spawnCli(['fuzz', '--hub', redis.url, '--campaign', 'tls', '--seed', seed, '--runs', '128', '--bug', 'canary', '--oracle', 'machine', '--max-ops', '120', '--workers', '1'], env);
    const end = await p.done;
    expect(end.code, p.stderr()).toBe(1);
    expect(p.stdout()).toContain('campaign tls: 2/2 blocks merged, 128 runs');
    const st = spawnCli(['status', '--hub', redis.url, '--campaign', 'tls'], env);
    expect((await st.done).code, st.stderr()).toBe(0);
    expect(st.stdout()).toMatch(/^campaign tls: running; .*2\/2 blocks merged/);
    expect(st.stdout() + p.stderr() + p.stdout()).not.toContain('tls-pass-77');
   }, 180_000);
});
