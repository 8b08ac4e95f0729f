/**
 * The crash store: `crashes/<signature-hash>/` per distinct failure signature, holding
 * `repro.msgpack` (the minimized trace), `repro.txt` (its text dump), `description.json`
 * (signature, first run that saw it, count, seed, options, minimization report), `seen.json`
 * (first and last sighting by the wall clock) and at most ORIGINALS_MAX unminimized originals
 * `original-<n>.msgpack`.
 * Contract: a crash directory is created complete or not at all, at the first sighting, with the
 * unminimized trace as its repro and `minimized: null`; background minimization later replaces
 * `repro.*` and then `description.json` (each file atomically), so a campaign killed in between
 * leaves a valid directory that the next campaign minimizes again (from `original-1.msgpack`).
 * Later sightings update `description.json` atomically (counts at the next `flush`, originals at
 * once: the original's file, then the description, which lists it; a kill between the two leaves
 * that file unlisted, and the next sighting writes it again under the same name). Nothing written here depends on the clock but `seen.json` (crash-seen.ts: first and
 * last sighting by the wall clock, written with the directory and then at each `flush`), so the
 * same seed and options give byte-identical directories apart from that one file. Directories
 * left by earlier campaigns are adopted: their signatures count as known and their counts continue.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatSignature } from '../check/violation.js';
import { encodeMsgpack } from '../trace/msgpack.js';
import { loadTrace } from '../trace/load.js';
import { formatText } from '../trace/text.js';
import type { Signature, Trace } from '../trace/trace.js';
import type { ShrinkReport } from '../shrink/minimize.js';
import { writeDirAtomic, writeFileAtomic } from './atomic.js';
import { SEEN_FILE, isoTime, readSeen, seenJson, writeSeen, type CrashSeen } from './crash-seen.js';
import { WORKER_FAULT } from './protocol.js';

/** Unminimized originals kept per signature: a few variants help triage; more is noise. */
export const ORIGINALS_MAX = 3;

export interface MinimizedReport {
  ops_before: number;
  ops_after: number;
  steps: number;
  rounds: number;
  steps_exhausted: boolean;
  timed_out: boolean;
}

export interface CrashDescription {
  signature: Signature;
  signature_hash: string;
  summary: string;
  /** The id of the rule in dispute (docs/rules.md), when the finding names one (absent in older stores). */
  rule?: string;
  first_seen_run: number;
  count: number;
  seed: string;
  options: Record<string, string | number | boolean>;
  /** null until (background) minimization has finished. */
  minimized: MinimizedReport | null;
  originals: string[];
  /** Why the repro is not minimized (nondeterministic failure, signature not kept), when so. */
  note?: string;
  /**
   * After `eptfuzz crashes merge`: the count per campaign (`seed` or `seed shard i/n`) that saw
   * the signature; `count` is their sum.
   */
  sources?: Record<string, number>;
}

function describeJson(d: CrashDescription): string {
  return JSON.stringify(d, null, 2) + '\n';
}

export function reportJson(r: ShrinkReport): MinimizedReport {
  return {
    ops_before: r.opsBefore,
    ops_after: r.opsAfter,
    steps: r.steps,
    rounds: r.rounds,
    steps_exhausted: r.stepsExhausted,
    timed_out: r.timedOut,
  };
}

export function isCrashDescription(d: unknown): d is CrashDescription {
  const x = d as Partial<CrashDescription> | null;
  return typeof x === 'object' && x !== null && typeof x.count === 'number' && Array.isArray(x.originals)
    && typeof x.signature === 'object' && x.signature !== null && typeof x.signature_hash === 'string';
}

export function readDescription(crashDir: string): CrashDescription | null {
  try {
    const d = JSON.parse(fs.readFileSync(path.join(crashDir, 'description.json'), 'utf8')) as unknown;
    return isCrashDescription(d) ? d : null;
  } catch {
    return null;
  }
}

export function writeDescription(crashDir: string, d: CrashDescription): void {
  writeFileAtomic(path.join(crashDir, 'description.json'), describeJson(d));
}

/** The files of a crash directory for a first sighting (`seen` is the one clock-dependent file). */
export function crashFiles(d: CrashDescription, repro: Trace, original: Trace, seen: CrashSeen): Map<string, Uint8Array | string> {
  return new Map<string, Uint8Array | string>([
    ['repro.msgpack', encodeMsgpack(repro)],
    ['repro.txt', formatText(repro)],
    ['original-1.msgpack', encodeMsgpack(original)],
    ['description.json', describeJson(d)],
    [SEEN_FILE, seenJson(seen)],
  ]);
}

/** Why a harness fault's trace is never minimized (minimize-job.ts). */
export const HARNESS_FAULT_NOTE = 'not minimized: a harness fault (the worker running this trace threw, died or hung), not a check failing';

export class CrashStore {
  private readonly descriptions = new Map<string, CrashDescription>();
  /** Descriptions whose count changed since they were last written (see `flush`). */
  private readonly dirty = new Set<string>();
  /** Wall-clock sightings of this session, per signature (written to seen.json at `flush`). */
  private readonly seen = new Map<string, CrashSeen>();
  private readonly seenDirty = new Set<string>();

  /** `now` is the wall clock (injected by tests); it reaches seen.json only. */
  constructor(readonly dir: string, private readonly seed: string, private readonly options: Record<string, string | number | boolean>, private readonly now: () => number = Date.now) {}

  /** Adopts crash directories already present; returns how many. */
  load(): number {
    if (!fs.existsSync(this.dir)) return 0;
    let n = 0;
    for (const name of fs.readdirSync(this.dir).sort()) {
      if (name.startsWith('.')) continue;
      const d = readDescription(path.join(this.dir, name));
      if (d !== null) {
        this.descriptions.set(name, d);
        n++;
      }
    }
    return n;
  }

  known(hash: string): boolean {
    return this.descriptions.has(hash) || fs.existsSync(path.join(this.dir, hash));
  }

  description(hash: string): CrashDescription | undefined {
    return this.descriptions.get(hash);
  }

  /** Adopted or created signatures whose minimization has not finished. */
  pending(): string[] {
    return [...this.descriptions].filter(([, d]) => d.minimized === null && d.note === undefined).map(([h]) => h).sort();
  }

  /** The first unminimized original of a crash (the input of a re-minimization), or null. */
  original(hash: string): Trace | null {
    try {
      return loadTrace(path.join(this.dir, hash, 'original-1.msgpack'));
    } catch {
      return null;
    }
  }

  /**
   * First sighting of a signature: writes the whole directory. With `minimized` the repro is the
   * minimized trace; without, the original stands in until `finish` is called. Returns false when
   * another writer created the directory first (the sighting is then counted there).
   */
  create(hash: string, signature: Signature, runIndex: number, original: Trace, minimized: { trace: Trace; report: ShrinkReport } | null = null, note?: string, rule?: string): boolean {
    const d: CrashDescription = {
      signature,
      signature_hash: hash,
      summary: formatSignature(signature),
      ...(rule !== undefined ? { rule } : {}),
      first_seen_run: runIndex,
      count: 1,
      seed: this.seed,
      options: this.options,
      minimized: minimized === null ? null : reportJson(minimized.report),
      originals: ['original-1.msgpack'],
    };
    if (note !== undefined) d.note = note;
    const repro = minimized?.trace ?? { ...original, signature };
    const t = isoTime(this.now());
    const seen = { first_seen: t, last_seen: t };
    if (writeDirAtomic(path.join(this.dir, hash), crashFiles(d, repro, original, seen))) {
      this.descriptions.set(hash, d);
      this.seen.set(hash, seen);
      return true;
    }
    this.load();
    this.again(hash, original);
    return false;
  }

  /**
   * Background minimization finished: the repro becomes `result.trace` (repro files first, the
   * description last, so a kill in between leaves `minimized: null` and the work is redone).
   * With a null result the original stays the repro and `note` says why.
   */
  finish(hash: string, result: { trace: Trace; report: ShrinkReport } | null, note?: string): void {
    const d = this.descriptions.get(hash);
    if (d === undefined) return;
    const dir = path.join(this.dir, hash);
    if (result !== null) {
      // Two files, then the description: the description is the commit point (a kill between the
      // writes leaves the signature pending, and the next session minimizes and writes both again).
      writeFileAtomic(path.join(dir, 'repro.msgpack'), encodeMsgpack(result.trace));
      writeFileAtomic(path.join(dir, 'repro.txt'), formatText(result.trace));
      d.minimized = reportJson(result.report);
      delete d.note;
    } else {
      d.note = d.signature.invariant === WORKER_FAULT ? HARNESS_FAULT_NOTE : note ?? 'not minimized';
    }
    this.dirty.delete(hash);
    writeDescription(dir, d);
  }

  /**
   * A later sighting: counts it, and keeps the original while fewer than ORIGINALS_MAX are kept.
   * The description is rewritten at once when an original was added, else at the next `flush`
   * (a frequent bug would otherwise cost one synced file write per failing run).
   */
  again(hash: string, original: Trace): void {
    const d = this.descriptions.get(hash);
    if (d === undefined) return;
    d.count++;
    this.sighted(hash);
    if (d.sources !== undefined) {
      const shard = this.options.shard;
      const key = typeof shard === 'string' ? `${this.seed} shard ${shard}` : this.seed;
      d.sources[key] = (d.sources[key] ?? 0) + 1;
    }
    if (d.originals.length < ORIGINALS_MAX) {
      const name = `original-${d.originals.length + 1}.msgpack`;
      const file = path.join(this.dir, hash, name);
      writeFileAtomic(file, encodeMsgpack(original));
      d.originals.push(name);
      this.dirty.delete(hash);
      try {
        writeDescription(path.join(this.dir, hash), d);
      } catch (e) {
        // The description could not list it (disk full): take the file back, so the directory
        // keeps exactly the files its description names.
        d.originals.pop();
        this.dirty.add(hash);
        fs.rmSync(file, { force: true });
        throw e;
      }
      return;
    }
    this.dirty.add(hash);
  }

  /** A sighting now: the last-seen time moves (an adopted directory's record is read first). */
  private sighted(hash: string): void {
    let s = this.seen.get(hash);
    if (s === undefined) {
      s = readSeen(path.join(this.dir, hash)) ?? { first_seen: null, last_seen: null };
      this.seen.set(hash, s);
    }
    s.last_seen = isoTime(this.now());
    this.seenDirty.add(hash);
  }

  /** Writes the descriptions whose counts changed since they were last written, and their times. */
  flush(): void {
    for (const hash of [...this.dirty].sort()) {
      const d = this.descriptions.get(hash);
      if (d !== undefined) writeDescription(path.join(this.dir, hash), d);
    }
    this.dirty.clear();
    for (const hash of [...this.seenDirty].sort()) {
      const s = this.seen.get(hash);
      if (s !== undefined) writeSeen(path.join(this.dir, hash), s);
    }
    this.seenDirty.clear();
  }
}
