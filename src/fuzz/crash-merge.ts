/**
 * Merging crash stores (`eptfuzz crashes merge DEST SRC...`): the outputs of many shards or
 * machines become one store, keyed by signature hash.
 * Contract: a signature new to DEST is copied as a whole directory (atomically); a signature both
 * have keeps DEST's repro unless SRC's is shorter, gains SRC's originals up to ORIGINALS_MAX (by
 * content: an original already there is not copied twice), and its count becomes the sum over
 * the campaigns that saw it, each campaign (seed and shard) counted once at its highest count.
 * Merging the same source twice therefore changes nothing. The wall-clock times (seen.json) become
 * the earliest first and the latest last sighting of either. Directories whose name is not the hash
 * of their description's signature are skipped, not trusted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { signatureHash } from '../check/violation.js';
import { loadTrace } from '../trace/load.js';
import { writeDirAtomic, writeFileAtomic } from './atomic.js';
import { ORIGINALS_MAX, readDescription, writeDescription, type CrashDescription } from './crash-store.js';
import { mergeSeen, readSeen, sameSeen, writeSeen } from './crash-seen.js';

export interface CrashMergeResult {
  added: number;
  merged: number;
  unchanged: number;
  skipped: Array<{ dir: string; reason: string }>;
}

/** The campaign a description comes from: its seed and shard. */
function sourceKey(d: CrashDescription): string {
  const shard = d.options.shard;
  return typeof shard === 'string' ? `${d.seed} shard ${shard}` : d.seed;
}

/** Per-campaign counts: recorded ones, or the description's own campaign with its count. */
export function sourcesOf(d: CrashDescription): Record<string, number> {
  return d.sources ?? { [sourceKey(d)]: d.count };
}

function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (fs.statSync(p).isFile()) out.set(name, fs.readFileSync(p));
  }
  return out;
}

function reproOps(dir: string): number {
  try {
    return loadTrace(path.join(dir, 'repro.msgpack')).ops.length;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function mergeInto(destDir: string, srcDir: string, dd: CrashDescription, sd: CrashDescription): boolean {
  let changed = false;
  const have = filesOf(destDir);
  const src = filesOf(srcDir);
  // Originals, by content.
  const contents = [...have].filter(([n]) => dd.originals.includes(n)).map(([, b]) => b);
  for (const name of sd.originals) {
    if (dd.originals.length >= ORIGINALS_MAX) break;
    const bytes = src.get(name);
    if (bytes === undefined || contents.some((b) => b.equals(bytes))) continue;
    const target = `original-${dd.originals.length + 1}.msgpack`;
    writeFileAtomic(path.join(destDir, target), bytes);
    dd.originals.push(target);
    contents.push(bytes);
    changed = true;
  }
  // The shorter minimized repro wins.
  const srcRepro = src.get('repro.msgpack');
  const srcText = src.get('repro.txt');
  if (sd.minimized !== null && srcRepro !== undefined && srcText !== undefined && reproOps(srcDir) < reproOps(destDir)) {
    writeFileAtomic(path.join(destDir, 'repro.msgpack'), srcRepro);
    writeFileAtomic(path.join(destDir, 'repro.txt'), srcText);
    dd.minimized = sd.minimized;
    delete dd.note;
    changed = true;
  }
  // Counts: one entry per campaign, at its highest count.
  const sources = sourcesOf(dd);
  for (const [k, n] of Object.entries(sourcesOf(sd))) {
    if ((sources[k] ?? 0) < n) {
      sources[k] = n;
      changed = true;
    }
  }
  if (changed) {
    const sorted: Record<string, number> = {};
    for (const k of Object.keys(sources).sort()) sorted[k] = sources[k];
    dd.sources = sorted;
    dd.count = Object.values(sorted).reduce((a, b) => a + b, 0);
    writeDescription(destDir, dd);
  }
  // Times: earliest first sighting, latest last one (not a change of the crash itself).
  const destSeen = readSeen(destDir);
  const seen = mergeSeen(destSeen, readSeen(srcDir));
  if (seen !== null && !sameSeen(seen, destSeen)) writeSeen(destDir, seen);
  return changed;
}

export function mergeCrashStores(dest: string, sources: readonly string[]): CrashMergeResult {
  fs.mkdirSync(dest, { recursive: true });
  const out: CrashMergeResult = { added: 0, merged: 0, unchanged: 0, skipped: [] };
  for (const src of sources) {
    if (!fs.existsSync(src) || !fs.statSync(src).isDirectory()) {
      out.skipped.push({ dir: src, reason: 'not a directory' });
      continue;
    }
    for (const name of fs.readdirSync(src).sort()) {
      if (name.startsWith('.')) continue;
      const srcDir = path.join(src, name);
      if (!fs.statSync(srcDir).isDirectory()) continue;
      const sd = readDescription(srcDir);
      if (sd === null) { out.skipped.push({ dir: srcDir, reason: 'no readable description.json' }); continue; }
      if (signatureHash(sd.signature) !== name) { out.skipped.push({ dir: srcDir, reason: `name is not the hash of its signature (${signatureHash(sd.signature)})` }); continue; }
      const destDir = path.join(dest, name);
      const dd = readDescription(destDir);
      if (dd === null) {
        if (fs.existsSync(destDir)) { out.skipped.push({ dir: srcDir, reason: `${destDir} exists but is not a crash directory` }); continue; }
        if (writeDirAtomic(destDir, filesOf(srcDir))) out.added++;
        continue;
      }
      if (mergeInto(destDir, srcDir, dd, sd)) out.merged++;
      else out.unchanged++;
    }
  }
  return out;
}
