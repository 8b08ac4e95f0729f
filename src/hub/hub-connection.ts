/**
 * Connections to the hub. `openHub` checks the hub once, failing fast (one line, exit 2: an
 * unreachable host, a wrong password, TLS refused), then hands out connections for the campaign
 * that retry for ever with backoff: a Redis restarted mid-campaign is reconnected to, and
 * commands issued meanwhile wait for it (ioredis's offline queue, `maxRetriesPerRequest: null`,
 * which BullMQ workers need anyway).
 * Contract: no message leaving this module contains the password (HubAddress.mask).
 */
import { Redis } from 'ioredis';
import { HubError } from './hub-error.js';
import type { HubAddress } from './hub-url.js';

/** How long the first contact may take before the hub is declared unreachable. */
const CONNECT_TIMEOUT_MS = 5000;
/** Reconnect backoff: 50 ms growing to this cap (a restarted Redis is back within a second or two). */
const RECONNECT_MS_MAX = 1000;

export interface Hub {
  address: HubAddress;
  /** The command connection (own commands, Lua scripts). */
  redis: Redis;
  /** A new connection with the campaign's retry policy (BullMQ queues and workers each take one). */
  connection(): Redis;
  close(): Promise<void>;
}

function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0];
}

export async function openHub(address: HubAddress): Promise<Hub> {
  const probe = new Redis({ ...address.redis, lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  let lastError: unknown = null;
  probe.on('error', (e: unknown) => { lastError = e; });
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    const why = oneLine(lastError ?? e);
    const hint = /WRONGPASS|NOAUTH|invalid password|invalid username/i.test(why) ? ' (wrong or missing password)' : '';
    throw new HubError(address.mask(`hub ${address.display}: ${why}${hint}`));
  } finally {
    probe.disconnect();
  }
  const opened: Redis[] = [];
  const connection = (): Redis => {
    const r = new Redis({
      ...address.redis,
      connectTimeout: CONNECT_TIMEOUT_MS,
      maxRetriesPerRequest: null,
      retryStrategy: (times: number) => Math.min(50 * times, RECONNECT_MS_MAX),
    });
    // Errors while reconnecting are expected (Redis restarting); commands wait for the connection.
    r.on('error', () => undefined);
    opened.push(r);
    return r;
  };
  const redis = connection();
  return {
    address,
    redis,
    connection,
    async close(): Promise<void> {
      await Promise.all(opened.map(async (r) => {
        try { await r.quit(); } catch { r.disconnect(); }
      }));
    },
  };
}
