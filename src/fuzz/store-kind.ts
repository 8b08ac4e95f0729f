/**
 * What a directory holds, so that maintenance commands refuse the wrong kind instead of merging
 * nothing (a corpus given to `crashes merge`) or copying failing repros into a corpus (a crash
 * store given to `corpus merge`).
 * Contract: `crashes` when some direct subdirectory holds a description.json (a crash store);
 * `crash-dir` when the directory itself holds one (one signature's directory); `corpus` when it
 * holds trace files and is neither; `empty` when it holds none of these (a shard that found
 * nothing); `missing` and `not-dir` as named. Hidden names (locks, temporaries) are ignored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { traceFiles } from './corpus.js';

export type StoreKind = 'missing' | 'not-dir' | 'empty' | 'crashes' | 'crash-dir' | 'corpus';

const DESCRIPTION = 'description.json';

export function storeKind(dir: string): StoreKind {
  if (!fs.existsSync(dir)) return 'missing';
  if (!fs.statSync(dir).isDirectory()) return 'not-dir';
  if (fs.existsSync(path.join(dir, DESCRIPTION))) return 'crash-dir';
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const sub = path.join(dir, name);
    if (fs.statSync(sub).isDirectory() && fs.existsSync(path.join(sub, DESCRIPTION))) return 'crashes';
  }
  return traceFiles(dir).length > 0 ? 'corpus' : 'empty';
}

/** Why `dir` cannot be a source of `crashes merge`, or null when it can. */
export function notACrashStore(dir: string): string | null {
  switch (storeKind(dir)) {
    case 'missing': return `${dir}: no such directory`;
    case 'not-dir': return `${dir}: not a directory`;
    case 'crash-dir': return `${dir}: one crash directory, not a crash store; give the directory that holds it (${path.dirname(dir)})`;
    case 'corpus': return `${dir}: a corpus (trace files, no <signature-hash>/description.json), not a crash store; use 'eptfuzz corpus merge'`;
    default: return null;
  }
}

/** Why `dir` cannot be a source of `corpus merge`, or null when it can. */
export function notACorpus(dir: string): string | null {
  switch (storeKind(dir)) {
    case 'missing': return `${dir}: no such directory`;
    case 'not-dir': return `${dir}: not a directory`;
    case 'crashes':
    case 'crash-dir': return `${dir}: a crash store (failing repros), not a corpus; use 'eptfuzz crashes merge' (a corpus holds passing traces)`;
    default: return null;
  }
}

/** Why `dir` cannot be the destination of a merge of `kind`, or null (absent is fine: it is created). */
export function badMergeDest(dir: string, kind: 'crashes' | 'corpus'): string | null {
  const k = storeKind(dir);
  if (k === 'missing') return null;
  return kind === 'crashes' ? notACrashStore(dir) : notACorpus(dir);
}
