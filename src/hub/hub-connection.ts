/**
 * Connections to the hub. `openHub` checks the hub once, failing fast (one line, exit 2: an
 * unreachable host, a wrong password, TLS refused), then hands out connections for the campaign
 * that retry with backoff: a Redis restarted mid-campaign is reconnected to, and commands issued
 * meanwhile wait for it (ioredis's offline queue, `maxRetriesPerRequest: null`, which BullMQ
 * workers need anyway).
 * Contract: no wait on the hub is unbounded. A watchdog gives up on the hub (`Hub.abandon`) when
 * it has not answered for `unreachableMs` (a connection without a socket that long, or a PING
 * unanswered that long: Redis down, or up but hung): every connection is then ended at once, so
 * every pending command rejects, and `Hub.failure` holds the one line to report. A connection
 * ended while it waits to reconnect ends for real (ioredis alone would stay 'reconnecting' for
 * ever and never emit 'end', which BullMQ's Worker.close awaits: the hang of a machine whose
 * Redis came back empty). No message leaving this module contains the password (HubAddress.mask).
 */
import { Redis, type Callback, type RedisOptions } from 'ioredis';
// ioredis's own close path, the one its disconnect() takes for a client that never connected.
import { closeHandler } from 'ioredis/built/redis/event_handler.js';
import { HubError } from './hub-error.js';
import type { HubAddress } from './hub-url.js';

/** How long the first contact may take before the hub is declared unreachable. */
const CONNECT_TIMEOUT_MS = 5000;
/** Reconnect backoff: 50 ms growing to this cap (a restarted Redis is back within a second or two). */
const RECONNECT_MS_MAX = 1000;
/** How long a machine waits for a hub that does not answer before it leaves (`--hub-timeout`). */
export const HUB_UNREACHABLE_MS_DEFAULT = 60_000;
/** The watchdog's period (and the PING's). */
const WATCH_MS = 1000;
/** ioredis's words for a command on an ended connection (BullMQ takes them for a connection error). */
const CONNECTION_CLOSED = 'Connection is closed.';
/** How long `close` lets a connection say QUIT before it cuts it. */
const QUIT_MS = 2000;

export interface Hub {
  address: HubAddress;
  /** The command connection (own commands, Lua scripts). */
  redis: Redis;
  /** A new connection with the campaign's retry policy (BullMQ queues and workers each take one). */
  connection(): Redis;
  /** Every connection opened so far, duplicates made by BullMQ included. */
  connections(): readonly Redis[];
  /** Why the hub was given up on (unreachable too long, or `abandon`), else null. */
  readonly failure: HubError | null;
  /** Gives up on the hub: records `why` (the first reason stays) and ends every connection at once; pending commands reject. */
  abandon(why: HubError): void;
  /** Closes every connection (QUIT, bounded; cut at once after `abandon`). */
  close(): Promise<void>;
}

export interface HubConnectOptions {
  /** Give up on a hub that has not answered for this long (ms). */
  unreachableMs?: number;
}

function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0];
}

/**
 * Makes `disconnect()` of a client that waits to reconnect (status 'reconnecting': no socket, a
 * retry timer) end it: ioredis clears the timer but, with no socket left to close, never runs its
 * close handler, so the client stays 'reconnecting' for ever, its queued commands never settle and
 * 'end' is never emitted (ioredis issue #1247; the same fix is proposed upstream in ioredis
 * PR #2169). BullMQ's Worker.close() awaits that 'end' for its blocking connection.
 */
function endsWhenSocketless(r: Redis): void {
  const disconnect = r.disconnect.bind(r);
  r.disconnect = (reconnect = false): void => {
    const socketless = r.status === 'reconnecting';
    disconnect(reconnect);
    if (socketless && !reconnect && r.status === 'reconnecting') closeHandler(r)();
  };
}

export async function openHub(address: HubAddress, opts: HubConnectOptions = {}): Promise<Hub> {
  const unreachableMs = opts.unreachableMs ?? HUB_UNREACHABLE_MS_DEFAULT;
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

  let failure: HubError | null = null;
  let lastTrouble = '';
  const opened: Redis[] = [];
  /** When each connection lost its socket (null: it has one). */
  const downSince = new Map<Redis, number | null>();
  const track = (r: Redis): Redis => {
    endsWhenSocketless(r);
    // Errors while reconnecting are expected (Redis restarting); commands wait for the connection.
    r.on('error', (e: unknown) => { lastTrouble = oneLine(e); });
    r.on('close', () => { if ((downSince.get(r) ?? null) === null) downSince.set(r, Date.now()); });
    r.on('ready', () => downSince.set(r, null));
    r.on('end', () => downSince.delete(r));
    downSince.set(r, null);
    // BullMQ's workers take their blocking connection with duplicate(): it gets the same policy.
    r.duplicate = (override?: Partial<RedisOptions>): Redis => make(override ?? {});
    // After abandon() nothing connects again (BullMQ reconnects a blocking connection itself).
    const connect = r.connect.bind(r);
    r.connect = (callback?: Callback<void>): Promise<void> => (failure !== null ? Promise.reject(new Error(CONNECTION_CLOSED)) : connect(callback));
    opened.push(r);
    return r;
  };
  const make = (override: Partial<RedisOptions>): Redis => track(new Redis({
    ...address.redis,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: null,
    ...override,
    // After abandon() nothing reconnects: a connect that fails ends the client.
    retryStrategy: (times: number) => (failure !== null ? null : Math.min(50 * times, RECONNECT_MS_MAX)),
  }));
  const redis = make({});

  const abandon = (why: HubError): void => {
    failure ??= new HubError(address.mask(why.message));
    clearInterval(watch);
    for (const r of opened) if (r.status !== 'end') r.disconnect();
  };
  let pingSince: number | null = null;
  const watch = setInterval(() => {
    const now = Date.now();
    const down = [...downSince.values()].filter((t): t is number => t !== null);
    const silentMs = Math.max(now - Math.min(now, ...down), pingSince === null ? 0 : now - pingSince);
    if (silentMs >= unreachableMs) {
      const why = lastTrouble === '' ? 'no answer' : `last error: ${lastTrouble}`;
      abandon(new HubError(`hub ${address.display}: unreachable for ${Math.round(silentMs / 1000)} s (${why}); gave up waiting (fuzz --hub-timeout)`));
      return;
    }
    if (pingSince === null && redis.status !== 'end') {
      pingSince = now;
      redis.ping().then(() => { pingSince = null; }, () => undefined);
    }
  }, WATCH_MS);
  watch.unref();

  return {
    address,
    redis,
    connection: () => make({}),
    connections: () => opened,
    get failure(): HubError | null { return failure; },
    abandon,
    async close(): Promise<void> {
      clearInterval(watch);
      await Promise.all(opened.map(async (r) => {
        if (r.status === 'end') return;
        if (failure !== null) { r.disconnect(); return; }
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([r.quit(), new Promise((resolve) => { timer = setTimeout(resolve, QUIT_MS); })]);
        } catch {
          // Already closed: nothing to say.
        } finally {
          clearTimeout(timer);
          if ((r.status as string) !== 'end') r.disconnect();
        }
      }));
    },
  };
}
