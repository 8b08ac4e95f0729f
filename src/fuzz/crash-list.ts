/**
 * One row per failure signature over many crash stores (shards, machines, merged or not): what
 * `eptfuzz crashes list` prints and `eptfuzz report` tabulates (AFL++'s afl-whatsup and
 * syzkaller's crash list are the models).
 * Contract: rows are keyed by signature hash. A row's count is summed over campaigns, each campaign
 * (seed and shard, crash-merge.ts) counted once at its highest count, so listing the shards together
 * with their merged store does not count a sighting twice. First and last seen are the earliest and
 * latest wall-clock times of seen.json (null where no store recorded one). The repro is the
 * shortest among the stores (ops), and `dir` names its directory. A directory whose description is
 * unreadable, or whose name is not the hash of its signature, is reported in `skipped`, not listed.
 * Reads only; never writes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatSignature, signatureHash } from '../check/violation.js';
import type { Signature } from '../trace/trace.js';
import { loadTrace } from '../trace/load.js';
import { readDescription, type CrashDescription } from './crash-store.js';
import { sourcesOf } from './crash-merge.js';
import { mergeSeen, readSeen, type CrashSeen } from './crash-seen.js';

export interface CrashRow {
  hash: string;
  signature: Signature;
  summary: string;
  /** The model's rule id when the description names one (`rule`), else null. */
  rule: string | null;
  count: number;
  /** Per-campaign counts (`seed` or `seed shard i/n`). */
  sources: Record<string, number>;
  firstSeen: string | null;
  lastSeen: string | null;
  /** Ops of the shortest repro, and its size in bytes (msgpack); null when none could be read. */
  reproOps: number | null;
  reproBytes: number | null;
  minimized: boolean;
  /** The crash directory holding the shortest repro (or the first one found). */
  dir: string;
  /** Every crash directory of this signature, in the order the stores were given. */
  dirs: string[];
}

export interface CrashListing {
  rows: CrashRow[];
  skipped: Array<{ dir: string; reason: string }>;
}

function ruleOf(d: CrashDescription): string | null {
  const own = (d as unknown as { rule?: unknown }).rule;
  if (typeof own === 'string') return own;
  const inSig = (d.signature as unknown as { rule?: unknown }).rule;
  return typeof inSig === 'string' ? inSig : null;
}

function repro(dir: string): { ops: number; bytes: number } | null {
  const file = path.join(dir, 'repro.msgpack');
  try {
    return { ops: loadTrace(file).ops.length, bytes: fs.statSync(file).size };
  } catch {
    return null;
  }
}

/** The signatures of `stores` (crash-store directories), most frequent first, then by hash. */
export function listCrashes(stores: readonly string[]): CrashListing {
  const rows = new Map<string, CrashRow>();
  const seen = new Map<string, CrashSeen | null>();
  const skipped: CrashListing['skipped'] = [];
  for (const store of stores) {
    for (const name of fs.readdirSync(store).sort()) {
      if (name.startsWith('.')) continue;
      const dir = path.join(store, name);
      if (!fs.statSync(dir).isDirectory()) continue;
      const d = readDescription(dir);
      if (d === null) { skipped.push({ dir, reason: 'no readable description.json' }); continue; }
      if (signatureHash(d.signature) !== name) { skipped.push({ dir, reason: `name is not the hash of its signature (${signatureHash(d.signature)})` }); continue; }
      const r = repro(dir);
      const row = rows.get(name);
      seen.set(name, mergeSeen(seen.get(name) ?? null, readSeen(dir)));
      if (row === undefined) {
        rows.set(name, {
          hash: name, signature: d.signature, summary: formatSignature(d.signature), rule: ruleOf(d),
          count: 0, sources: { ...sourcesOf(d) }, firstSeen: null, lastSeen: null,
          reproOps: r?.ops ?? null, reproBytes: r?.bytes ?? null, minimized: d.minimized !== null, dir, dirs: [dir],
        });
        continue;
      }
      row.dirs.push(dir);
      row.rule ??= ruleOf(d);
      for (const [k, n] of Object.entries(sourcesOf(d))) row.sources[k] = Math.max(row.sources[k] ?? 0, n);
      if (r !== null && (row.reproOps === null || r.ops < row.reproOps)) {
        row.reproOps = r.ops;
        row.reproBytes = r.bytes;
        row.minimized = d.minimized !== null;
        row.dir = dir;
      }
    }
  }
  for (const row of rows.values()) {
    row.count = Object.values(row.sources).reduce((a, b) => a + b, 0);
    const s = seen.get(row.hash) ?? null;
    row.firstSeen = s?.first_seen ?? null;
    row.lastSeen = s?.last_seen ?? null;
  }
  const sorted = [...rows.values()].sort((a, b) => b.count - a.count || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  return { rows: sorted, skipped };
}
