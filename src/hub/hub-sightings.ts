/**
 * When each signature of a hub campaign was first and last seen, by the wall clock: the hub's
 * counterpart of a local crash directory's seen.json (src/fuzz/crash-seen.ts).
 * Contract: the `seen` hash of a campaign maps a signature hash to `FIRST_MS,LAST_MS` (Unix ms);
 * a sighting is a machine storing a block result in which a run fails with that signature (the
 * block's commit, hub-machine.ts: the update runs in the same script, so a result stored is a
 * sighting recorded), at that machine's clock; the earliest and latest times are kept whatever
 * order sightings arrive in. These times are informative only: they are never part of a merge
 * record, a crash directory's deterministic files, or anything a campaign decides; a value that
 * does not parse reads as "not recorded". `crashes pull` writes them into seen.json.
 */
import { signatureHash } from '../check/violation.js';
import type { RunReport } from '../fuzz/protocol.js';
import type { CrashSeen } from '../fuzz/crash-seen.js';
import { isoTime } from '../fuzz/crash-seen.js';
import type { Hub } from './hub-connection.js';
import type { CampaignKeys } from './hub-keys.js';

/**
 * Lua: records sightings at ARGV[now] of the signature hashes ARGV[from..] in hash KEYS[seen].
 * Spliced into a script (`seenKey` and `nowArg`, `fromArg` name its KEYS and ARGV slots).
 */
export function sightingsLua(seenKey: string, nowArg: string, fromArg: number): string {
  return `
local now = tonumber(${nowArg})
for i = ${fromArg}, #ARGV do
  local first, last = now, now
  local v = redis.call('HGET', ${seenKey}, ARGV[i])
  if v then
    local f, l = string.match(v, '^(%d+),(%d+)$')
    f = tonumber(f)
    l = tonumber(l)
    if f ~= nil and l ~= nil then
      if f < first then first = f end
      if l > last then last = l end
    end
  end
  redis.call('HSET', ${seenKey}, ARGV[i], string.format('%.0f,%.0f', first, last))
end
`;
}

/** The distinct signature hashes of a block's failing runs (the ones its merge counts), sorted. */
export function failingSignatures(reports: readonly RunReport[]): string[] {
  const out = new Set<string>();
  for (const r of reports) if (r.failure !== null && r.trace !== null) out.add(signatureHash(r.failure.signature));
  return [...out].sort();
}

function parseSighting(v: string): CrashSeen | null {
  const m = /^(\d{1,15}),(\d{1,15})$/.exec(v);
  if (m === null) return null;
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (first > last) return null;
  return { first_seen: isoTime(first), last_seen: isoTime(last) };
}

/** Every recorded sighting of the campaign, by signature hash. */
export async function readSightings(hub: Hub, keys: CampaignKeys): Promise<Map<string, CrashSeen>> {
  const raw = await hub.redis.hgetall(keys.seen);
  const out = new Map<string, CrashSeen>();
  for (const [hash, v] of Object.entries(raw)) {
    const s = parseSighting(v);
    if (s !== null) out.set(hash, s);
  }
  return out;
}
