/**
 * Resume state in the stats directory (--out): `state.json` (the next run index, persisted
 * counters, elapsed time, seed and shard) and `coverage.bin` (every coverage feature reached).
 * Contract: both are written atomically at every stats checkpoint and at the end; a missing or
 * unreadable file means a fresh start (never an error: the crash store and corpus stay the ground
 * truth, this only continues counters and coverage). `coverage.bin` is `EPTC`, the layout version
 * and the count as little-endian u32, then the features ascending; another layout is ignored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { COVERAGE_LAYOUT, FEATURE_SPACE } from './coverage.js';

export const STATE_FILE = 'state.json';
export const COVERAGE_FILE = 'coverage.bin';
export const STATE_VERSION = 1;

export interface CampaignState {
  version: number;
  seed: string;
  shard: string | null;
  /** The next run index of the campaign's stream: resumed runs never repeat earlier ones. */
  next_run: number;
  elapsed_ms: number;
  counters: Record<string, number>;
}

export function loadState(dir: string): CampaignState | null {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as Partial<CampaignState>;
    if (v.version !== STATE_VERSION || typeof v.next_run !== 'number' || !Number.isSafeInteger(v.next_run) || v.next_run < 0) return null;
    const counters: Record<string, number> = {};
    for (const [k, n] of Object.entries(v.counters ?? {})) if (typeof n === 'number' && Number.isFinite(n)) counters[k] = n;
    return {
      version: STATE_VERSION,
      seed: typeof v.seed === 'string' ? v.seed : '',
      shard: typeof v.shard === 'string' ? v.shard : null,
      next_run: v.next_run,
      elapsed_ms: typeof v.elapsed_ms === 'number' && Number.isFinite(v.elapsed_ms) ? v.elapsed_ms : 0,
      counters,
    };
  } catch {
    return null;
  }
}

export function saveState(dir: string, state: CampaignState): void {
  writeFileAtomic(path.join(dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
}

const MAGIC = 0x43545045; // 'EPTC' little-endian

export function encodeCoverage(features: readonly number[]): Uint8Array {
  const words = new Uint32Array(3 + features.length);
  words[0] = MAGIC;
  words[1] = COVERAGE_LAYOUT;
  words[2] = features.length;
  words.set(features, 3);
  return new Uint8Array(words.buffer);
}

/** The features of a coverage file, or null when absent, damaged or of another layout. */
export function decodeCoverage(bytes: Uint8Array): number[] | null {
  if (bytes.byteLength < 12 || bytes.byteLength % 4 !== 0) return null;
  const words = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  if (words[0] !== MAGIC || words[1] !== COVERAGE_LAYOUT || words[2] !== words.length - 3) return null;
  const out: number[] = [];
  for (let i = 3; i < words.length; i++) {
    if (words[i] >= FEATURE_SPACE) return null;
    out.push(words[i]);
  }
  return out;
}

export function loadCoverage(dir: string): number[] | null {
  try {
    return decodeCoverage(fs.readFileSync(path.join(dir, COVERAGE_FILE)));
  } catch {
    return null;
  }
}

export function saveCoverage(dir: string, features: readonly number[]): void {
  writeFileAtomic(path.join(dir, COVERAGE_FILE), encodeCoverage(features), { durable: false });
}
