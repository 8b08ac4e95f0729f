/**
 * The hub URL: parsed into connection options, refused in one line naming the problem without
 * echoing the password, and masked everywhere it could be printed.
 */
import { describe, expect, it } from 'vitest';
import { parseHubUrl } from '../../../src/hub/hub-url.js';
import { HubError } from '../../../src/hub/hub-error.js';

describe('parseHubUrl', () => {
  it('reads host, port, password, user, database and TLS', () => {
    const a = parseHubUrl('redis://:s3cret@10.0.0.5:7000/3');
    expect(a.redis).toMatchObject({ host: '10.0.0.5', port: 7000, password: 's3cret', db: 3 });
    expect(a.redis.username).toBeUndefined();
    expect(a.tls).toBe(false);
    const b = parseHubUrl('rediss://fuzz:p%40ss@hub.example');
    expect(b.redis).toMatchObject({ host: 'hub.example', port: 6379, username: 'fuzz', password: 'p@ss', db: 0, tls: { servername: 'hub.example' } });
    expect(b.tls).toBe(true);
  });

  it('never shows the password: display and mask', () => {
    const a = parseHubUrl('redis://:p%40ss%2Fw0rd@h:1');
    expect(a.display).toBe('redis://:***@h:1');
    expect(a.mask('WRONGPASS for p@ss/w0rd or p%40ss%2Fw0rd')).toBe('WRONGPASS for *** or ***');
    expect(parseHubUrl('redis://h').display).toBe('redis://h');
  });

  it('refuses bad URLs in one line without echoing them', () => {
    for (const [text, want] of [
      ['not a url :pw', 'expected redis://'],
      ['http://:pw@h', 'got a http: URL'],
      ['redis://:pw@h/x1', "database number (0-15), got '/x1'"],
    ] as const) {
      let e: unknown = null;
      try { parseHubUrl(text); } catch (x) { e = x; }
      expect(e).toBeInstanceOf(HubError);
      const m = (e as Error).message;
      expect(m).toContain(want);
      expect(m).not.toContain('pw');
      expect(m.split('\n')).toHaveLength(1);
    }
  });
});
