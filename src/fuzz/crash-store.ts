/**
 * The crash store: `crashes/<signature-hash>/` per distinct failure signature, holding
 * `repro.msgpack` (the minimized trace), `repro.txt` (its text dump), `description.json`
 * (signature, first run that saw it, count, seed, options, minimization report) and at most
 * ORIGINALS_MAX unminimized originals `original-<n>.msgpack`.
 * Contract: a crash directory is created complete or not at all; later sightings update
 * `description.json` atomically. Nothing written here depends on the clock, so the same seed and
 * options give byte-identical directories. Directories left by earlier campaigns are adopted:
 * their signatures count as known and their counts continue.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatSignature } from '../check/violation.js';
import { encodeMsgpack } from '../trace/msgpack.js';
import { formatText } from '../trace/text.js';
import type { Signature, Trace } from '../trace/trace.js';
import type { ShrinkReport } from '../shrink/minimize.js';
import { writeDirAtomic, writeFileAtomic } from './atomic.js';

/** Unminimized originals kept per signature: a few variants help triage; more is noise. */
export const ORIGINALS_MAX = 3;

export interface CrashDescription {
  signature: Signature;
  signature_hash: string;
  summary: string;
  first_seen_run: number;
  count: number;
  seed: string;
  options: Record<string, string | number | boolean>;
  minimized: {
    ops_before: number;
    ops_after: number;
    steps: number;
    rounds: number;
    steps_exhausted: boolean;
    timed_out: boolean;
  } | null;
  originals: string[];
}

function describeJson(d: CrashDescription): string {
  return JSON.stringify(d, null, 2) + '\n';
}

export class CrashStore {
  private readonly descriptions = new Map<string, CrashDescription>();

  constructor(readonly dir: string, private readonly seed: string, private readonly options: Record<string, string | number | boolean>) {}

  /** Adopts crash directories already present; returns how many. */
  load(): number {
    if (!fs.existsSync(this.dir)) return 0;
    let n = 0;
    for (const name of fs.readdirSync(this.dir).sort()) {
      if (name.startsWith('.')) continue;
      const file = path.join(this.dir, name, 'description.json');
      try {
        const d = JSON.parse(fs.readFileSync(file, 'utf8')) as CrashDescription;
        if (typeof d.count === 'number' && Array.isArray(d.originals)) {
          this.descriptions.set(name, d);
          n++;
        }
      } catch {
        // Not a crash directory (or a damaged one): leave it alone.
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

  /** First sighting of a signature: writes the whole directory. */
  create(hash: string, signature: Signature, runIndex: number, repro: Trace, report: ShrinkReport | null, original: Trace): void {
    const d: CrashDescription = {
      signature,
      signature_hash: hash,
      summary: formatSignature(signature),
      first_seen_run: runIndex,
      count: 1,
      seed: this.seed,
      options: this.options,
      minimized: report === null ? null : {
        ops_before: report.opsBefore,
        ops_after: report.opsAfter,
        steps: report.steps,
        rounds: report.rounds,
        steps_exhausted: report.stepsExhausted,
        timed_out: report.timedOut,
      },
      originals: ['original-1.msgpack'],
    };
    const files = new Map<string, Uint8Array | string>([
      ['repro.msgpack', encodeMsgpack(repro)],
      ['repro.txt', formatText(repro)],
      ['original-1.msgpack', encodeMsgpack(original)],
      ['description.json', describeJson(d)],
    ]);
    if (writeDirAtomic(path.join(this.dir, hash), files)) {
      this.descriptions.set(hash, d);
    } else {
      this.load();
      this.again(hash, original);
    }
  }

  /** A later sighting: counts it, and keeps the original while fewer than ORIGINALS_MAX are kept. */
  again(hash: string, original: Trace): void {
    const d = this.descriptions.get(hash);
    if (d === undefined) return;
    d.count++;
    if (d.originals.length < ORIGINALS_MAX) {
      const name = `original-${d.originals.length + 1}.msgpack`;
      writeFileAtomic(path.join(this.dir, hash, name), encodeMsgpack(original));
      d.originals.push(name);
    }
    writeFileAtomic(path.join(this.dir, hash, 'description.json'), describeJson(d));
  }
}
