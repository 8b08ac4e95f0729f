/**
 * When a crash signature was first and last seen, by the wall clock: `seen.json` in each crash
 * directory. It is the one file of a crash directory that depends on the clock, so it is the one
 * file the byte-identity guarantee (same seed and options, same crash files) leaves out
 * (docs/campaign-output.md). Everything else about a crash (counts, first run) is in
 * description.json and deterministic.
 * Contract: `{"first_seen": ISO-8601 UTC | null, "last_seen": ISO-8601 UTC | null}`. null means
 * "not recorded" (a directory written by an eptfuzz before this file existed, adopted by a later
 * campaign, has a last sighting but no known first one). Reading is tolerant: a missing or
 * unreadable file, or a field that is not an ISO time, reads as null, never as an error, because
 * these times are informative only. Merging takes the earliest first and the latest last sighting.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { writeFileAtomic } from './atomic.js';

/** The file name inside `crashes/<signature-hash>/`. */
export const SEEN_FILE = 'seen.json';

export interface CrashSeen {
  first_seen: string | null;
  last_seen: string | null;
}

/** The form `Date.prototype.toISOString` writes: such strings order as their times do. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function isoOrNull(v: unknown): string | null {
  return typeof v === 'string' && ISO_UTC.test(v) && Number.isFinite(Date.parse(v)) ? v : null;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export function seenJson(s: CrashSeen): string {
  return JSON.stringify({ first_seen: s.first_seen, last_seen: s.last_seen }, null, 2) + '\n';
}

/** The times recorded for a crash directory, or null when it has no readable seen.json. */
export function readSeen(crashDir: string): CrashSeen | null {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(path.join(crashDir, SEEN_FILE), 'utf8')) as unknown;
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  return { first_seen: isoOrNull(r.first_seen), last_seen: isoOrNull(r.last_seen) };
}

/** Not durable (no fsync): losing the latest time in a power cut costs nothing that matters. */
export function writeSeen(crashDir: string, s: CrashSeen): void {
  writeFileAtomic(path.join(crashDir, SEEN_FILE), seenJson(s), { durable: false });
}

const earlier = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a <= b ? a : b);
const later = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a >= b ? a : b);

/** The union of two records of one signature: earliest first sighting, latest last one. */
export function mergeSeen(a: CrashSeen | null, b: CrashSeen | null): CrashSeen | null {
  if (a === null) return b;
  if (b === null) return a;
  return { first_seen: earlier(a.first_seen, b.first_seen), last_seen: later(a.last_seen, b.last_seen) };
}

export function sameSeen(a: CrashSeen | null, b: CrashSeen | null): boolean {
  return a === b || (a !== null && b !== null && a.first_seen === b.first_seen && a.last_seen === b.last_seen);
}
