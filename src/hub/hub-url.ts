/**
 * The hub address: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` or `rediss://...` (TLS), turned
 * into ioredis connection options, and the masking that keeps the password out of every line
 * eptfuzz prints.
 * Contract: `parseHubUrl` throws HubError (one line, exit 2) naming what is wrong, never echoing
 * the password; `hub.display` is the URL with the password replaced by `***`; `hub.mask(text)`
 * replaces the password (raw and URL-encoded) anywhere in `text`, for messages that come from
 * ioredis or Redis itself.
 */
import type { RedisOptions } from 'ioredis';
import { HubError } from './hub-error.js';

export interface HubAddress {
  /** Options for `new Redis(...)`; without the retry and timeout policy (hub-connection.ts). */
  redis: RedisOptions;
  /** The URL for messages, password masked. */
  display: string;
  tls: boolean;
  mask(text: string): string;
}

const PORT_DEFAULT = 6379;

export function parseHubUrl(text: string): HubAddress {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    // The text may hold a password: name the shape, not the text.
    throw new HubError('--hub: expected redis://[:PASSWORD@]HOST[:PORT] or rediss://... (TLS)');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new HubError(`--hub: expected a redis:// or rediss:// URL, got a ${u.protocol.replace(/:$/, '')}: URL`);
  if (u.hostname === '') throw new HubError('--hub: the URL names no host');
  const port = u.port === '' ? PORT_DEFAULT : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,2}$/.test(dbText)) throw new HubError(`--hub: the path must be a database number (0-15), got '/${dbText}'`);
  const password = u.password === '' ? undefined : decodeURIComponent(u.password);
  const username = u.username === '' ? undefined : decodeURIComponent(u.username);
  const tls = u.protocol === 'rediss:';
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const redis: RedisOptions = { host, port, db: dbText === '' ? 0 : Number(dbText) };
  if (password !== undefined) redis.password = password;
  if (username !== undefined) redis.username = username;
  if (tls) redis.tls = { servername: host };
  const secrets = password === undefined ? [] : [...new Set([password, u.password, encodeURIComponent(password)])].filter((s) => s.length > 0);
  const mask = (s: string): string => {
    let out = s;
    for (const secret of secrets) out = out.split(secret).join('***');
    return out;
  };
  const shown = new URL(u.href);
  if (shown.password !== '') shown.password = '***';
  return { redis, display: mask(shown.href.replace(/\/$/, '')), tls, mask };
}
