/**
 * Resume state in the stats directory (--out): `state.json` (the next run index, persisted
 * counters, elapsed time, seed and shard, and the mode, planted bugs, machine configuration and
 * whether a corpus was kept: a resume that differs in those is refused with one line) and `coverage.bin` (every coverage feature reached).
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
  /**
   * What the coverage and counters were reached with, so that a resume under other conditions is
   * refused rather than merged (resumeMismatch). Absent in states written before they were kept:
   * those resume unchecked.
   */
  mode?: 'bare' | 'hv';
  bugs?: string[];
  /** The machine configuration (planted bugs included), as canonical JSON. */
  machine?: string;
  /** The campaign had a --corpus: its coverage was reached by inputs kept there. */
  corpus?: boolean;
}

/** A resume under other conditions than the campaign in --out ran with (one line, exit 2). */
export class ResumeMismatchError extends Error {
  override readonly name = 'ResumeMismatchError';
}

/** JSON with object keys sorted, so that equal configurations give equal text. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
    const o = x as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  });
}

/** The top-level keys in which two canonical configurations differ. */
function differingKeys(a: string, b: string): string[] {
  try {
    const x = JSON.parse(a) as Record<string, unknown>;
    const y = JSON.parse(b) as Record<string, unknown>;
    return [...new Set([...Object.keys(x), ...Object.keys(y)])].filter((k) => canonicalJson(x[k]) !== canonicalJson(y[k])).sort();
  } catch {
    return [];
  }
}

/**
 * Why `now` cannot continue the campaign `saved` in `outDir`, or null. Coverage from another mode
 * or machine would hide what this one has not reached; coverage without the corpus that reached it
 * drops those inputs from mutation while claiming their features.
 */
export function resumeMismatch(outDir: string, saved: CampaignState, now: { mode: 'bare' | 'hv'; bugs: readonly string[]; machine: string; corpus: boolean }): string | null {
  const other = `use another --out for a new campaign`;
  if (saved.mode !== undefined && saved.mode !== now.mode) {
    return `--mode ${now.mode}: the campaign in ${outDir} ran --mode ${saved.mode}; resume it with --mode ${saved.mode}, or ${other}`;
  }
  if (saved.bugs !== undefined && canonicalJson([...saved.bugs].sort()) !== canonicalJson([...now.bugs].sort())) {
    const list = (b: readonly string[]): string => (b.length === 0 ? 'none' : [...b].sort().join(','));
    return `--bug: the campaign in ${outDir} ran with planted bugs ${list(saved.bugs)}, this run with ${list(now.bugs)}; resume with the same --bug list, or ${other}`;
  }
  if (saved.machine !== undefined && saved.machine !== now.machine) {
    const keys = differingKeys(saved.machine, now.machine);
    return `the campaign in ${outDir} ran another machine configuration (differs in: ${keys.length > 0 ? keys.join(', ') : 'its fields'}; another --target?); resume it with the same options, or ${other}`;
  }
  if (saved.corpus === true && !now.corpus) {
    return `--corpus missing: the campaign in ${outDir} kept a corpus, and its coverage was reached by those inputs; give the same --corpus, or ${other}`;
  }
  return null;
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
      ...(v.mode === 'bare' || v.mode === 'hv' ? { mode: v.mode } : {}),
      ...(Array.isArray(v.bugs) && v.bugs.every((b) => typeof b === 'string') ? { bugs: v.bugs } : {}),
      ...(typeof v.machine === 'string' ? { machine: v.machine } : {}),
      ...(typeof v.corpus === 'boolean' ? { corpus: v.corpus } : {}),
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
