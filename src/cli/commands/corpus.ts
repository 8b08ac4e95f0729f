/**
 * `eptfuzz corpus add|list|merge|minimize` and `eptfuzz crashes merge|list`: corpus and crash-store
 * maintenance over content addresses (src/fuzz/corpus-tools.ts, src/fuzz/crash-merge.ts).
 * Exit codes: `add` 2 for a trace that does not decode, 1 for one that fails its checks (nothing
 * is added unless every trace given is valid and passes); the others 0, or 2 on bad input.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { checkedSignature, checkTrace } from '../../check/check-trace.js';
import { formatSignature } from '../../check/violation.js';
import { addToCorpus, coveringSubset, featureUnion, mergeCorpora, scanCorpus, uniqueFeatureCounts, type ScannedEntry } from '../../fuzz/corpus-tools.js';
import { mergeCrashStores } from '../../fuzz/crash-merge.js';
import { listCrashes, type CrashRow } from '../../fuzz/crash-list.js';
import { badMergeDest, notACorpus, notACrashStore } from '../../fuzz/store-kind.js';
import { loadTrace } from '../../trace/load.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { resolveTarget } from '../target.js';
import { Progress } from '../progress.js';
import { addHubViewOptions, corpusPullCommand, crashesPullCommand, withHubView } from './hub.js';
import { showRows } from '../../hub/hub-view.js';

const short = (hash: string): string => hash.slice(0, 16);

function addCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('add')
    .description('check traces (decode, then replay with every check) and add the passing ones to a corpus directory as <sha256>.msgpack')
    .argument('<dir>', 'corpus directory (created if absent)')
    .argument('<trace...>', 'trace files (msgpack, text or JSON)')
    .option('--oracle <name>', 'check against: model or machine', 'model')
    .addHelpText('after', '\nNothing is added unless every trace decodes (else exit 2) and passes (else exit 1).\n\nExample:\n  $ eptfuzz corpus add my-corpus my-seed.txt\n')
    .action(async (dir: string, files: string[], flags: { oracle: string }) => {
      const target = await resolveTarget(flags.oracle);
      const traces = files.map((file) => ({ file, trace: loadTrace(file) })); // exit 2 on the first bad one
      let refused = false;
      for (const { file, trace } of traces) {
        const r = checkTrace(trace, target);
        if (r.first !== null) {
          refused = true;
          io.err(`eptfuzz: refusing ${file}: it fails: ${formatSignature(checkedSignature(r.first))} at step ${r.first.step} (see 'eptfuzz replay ${file}')\n`);
        }
      }
      if (refused) {
        setExit(EXIT.failure);
        return;
      }
      for (const { file, trace } of traces) {
        const { hash, added, file: out } = addToCorpus(dir, trace);
        io.out(`${added ? 'added' : 'present'} ${short(hash)} ${file} (${trace.ops.length} ops)${added ? ` -> ${out}` : ''}\n`);
      }
      setExit(EXIT.ok);
    });
}

function listCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('list')
    .description('list a corpus: content hash, ops, size, coverage features (own and unique to it), origin, file')
    .argument('<dir>', 'corpus directory')
    .option('--oracle <name>', 'measure coverage against: model or machine', 'model')
    .option('--no-coverage', 'skip running the traces (no feature counts)')
    .addHelpText('after', '\nColumns: hash (first 16 hex digits of the sha256 of the msgpack form), ops, bytes on disk,\nfeatures the trace reaches, features no other entry reaches, origin (hand-written or the generator stream), file.\n\nExample:\n  $ eptfuzz corpus list corpus\n')
    .action(async (dir: string, flags: { oracle: string; coverage: boolean }) => {
      if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir}: not a directory`);
      const target = await resolveTarget(flags.oracle);
      const scan = scanCorpus(dir, flags.coverage ? target : null);
      const unique = uniqueFeatureCounts(scan.entries);
      const feat = (n: number): string => (flags.coverage ? String(n) : '-');
      io.out(`${'hash'.padEnd(16)}  ${'ops'.padStart(6)}  ${'bytes'.padStart(8)}  ${'feat'.padStart(5)}  ${'uniq'.padStart(5)}  origin  file\n`);
      scan.entries.forEach((e, i) => {
        const fails = e.failure === null ? '' : `  FAILS: ${formatSignature(e.failure.signature)}`;
        const dup = e.duplicates.length > 0 ? ` (+${e.duplicates.length} same content)` : '';
        io.out(`${short(e.hash)}  ${String(e.ops).padStart(6)}  ${String(e.bytes).padStart(8)}  ${feat(e.features.size).padStart(5)}  ${feat(unique[i]).padStart(5)}  ${e.origin}  ${path.relative(dir, e.file)}${dup}${fails}\n`);
      });
      for (const u of scan.unreadable) io.err(`eptfuzz: skipped ${u.file}: ${u.reason}\n`);
      io.out(`${scan.entries.length} traces${flags.coverage ? `, ${featureUnion(scan.entries).size} features together` : ''}${scan.unreadable.length > 0 ? `, ${scan.unreadable.length} unreadable` : ''}\n`);
      setExit(EXIT.ok);
    });
}

function mergeCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('merge')
    .description('copy every trace of the source corpora into DEST by content address (<sha256>.msgpack; idempotent)')
    .argument('<dest>', 'destination corpus directory (created if absent)')
    .argument('<src...>', 'source corpus directories (the --corpus of each shard); a missing one or a crash store is refused')
    .addHelpText('after', '\nExample:\n  $ eptfuzz corpus merge out/corpus out/corpus0 out/corpus1   # the --corpus of each shard\n')
    .action((dest: string, sources: string[]) => {
      // Every directory is checked before anything is written: a refused merge changes nothing.
      const why = [badMergeDest(dest, 'corpus'), ...sources.map(notACorpus)].find((w) => w !== null);
      if (why != null) throw new UsageError(`corpus merge: ${why}`);
      const progress = new Progress(io, 'corpus merge', 0, 'files');
      const r = mergeCorpora(dest, sources, (done, total) => progress.set(done, total));
      progress.end();
      for (const u of r.unreadable) io.err(`eptfuzz: skipped ${u.file}: ${u.reason}\n`);
      io.out(`merged into ${dest}: ${r.added} new, ${r.present} already present${r.unreadable.length > 0 ? `, ${r.unreadable.length} unreadable skipped` : ''}\n`);
      setExit(EXIT.ok);
    });
}

function minimizeCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('minimize')
    .description('keep a subset of a corpus with the same coverage (greedy set cover over the features each trace reaches)')
    .argument('<dir>', 'corpus directory')
    .option('-o, --output <dir>', 'write the subset there as <sha256>.msgpack (DIR is left alone)')
    .option('--oracle <name>', 'measure coverage against: model or machine', 'model')
    .addHelpText('after', '\nWithout --output, DIR is minimized in place: redundant .msgpack files are removed; hand-written\n.txt and .json seeds and failing traces are always kept.\n\nExamples:\n  $ eptfuzz corpus minimize corpus -o corpus-min\n  $ eptfuzz corpus minimize out/corpus\n')
    .action(async (dir: string, flags: { output?: string; oracle: string }) => {
      if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir}: not a directory`);
      const target = await resolveTarget(flags.oracle);
      const progress = new Progress(io, 'corpus minimize: measuring', 0, 'traces');
      const scan = scanCorpus(dir, target, (done, total) => progress.set(done, total));
      progress.end();
      const handWritten = (e: ScannedEntry): boolean => !e.file.endsWith('.msgpack');
      const unmeasured = (e: ScannedEntry): boolean => e.features.size === 0 || e.failure !== null;
      const inPlace = flags.output === undefined;
      const chosen = coveringSubset(scan.entries, (e) => unmeasured(e) || (inPlace && handWritten(e)));
      const before = featureUnion(scan.entries).size;
      const after = featureUnion(chosen).size;
      if (after !== before) throw new Error(`corpus minimize lost coverage (${before} -> ${after} features)`);
      const chosenSet = new Set(chosen);
      if (flags.output !== undefined) {
        for (const e of chosen) addToCorpus(flags.output, e.trace);
        io.out(`kept ${chosen.length} of ${scan.entries.length} traces (${after} features) in ${flags.output}\n`);
      } else {
        let removed = 0;
        for (const e of scan.entries) {
          if (chosenSet.has(e)) continue;
          for (const f of [e.file, ...e.duplicates]) {
            if (f.endsWith('.msgpack')) { fs.rmSync(f); removed++; }
          }
        }
        io.out(`kept ${chosen.length} of ${scan.entries.length} traces (${after} features); removed ${removed} redundant files from ${dir}\n`);
      }
      for (const u of scan.unreadable) io.err(`eptfuzz: skipped ${u.file}: ${u.reason}\n`);
      setExit(EXIT.ok);
    });
}

export function corpusCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('corpus')
    .description('corpus maintenance: add, list, merge, minimize (traces are content-addressed by sha256)')
    .addCommand(addCommand(io, setExit))
    .addCommand(listCommand(io, setExit))
    .addCommand(mergeCommand(io, setExit))
    .addCommand(minimizeCommand(io, setExit))
    .addCommand(corpusPullCommand(io))
    .addHelpText('after', '\nExamples:\n  $ eptfuzz corpus add my-corpus seed.txt\n  $ eptfuzz corpus list corpus\n  $ eptfuzz corpus merge out/corpus out/corpus0 out/corpus1\n  $ eptfuzz corpus minimize corpus -o corpus-min\n');
}

export function crashesCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  const merge = new Command('merge')
    .description('merge crash stores by signature hash (shards, machines): new signatures copied, shared ones keep the shortest repro and sum their counts')
    .argument('<dest>', 'destination crash directory (created if absent)')
    .argument('<src...>', 'source crash stores (the --crashes of each shard); a missing one, a corpus or a single crash directory is refused')
    .addHelpText('after', '\nExample:\n  $ eptfuzz crashes merge out/crashes out/crashes0 out/crashes1   # the --crashes of each shard\n')
    .action((dest: string, sources: string[]) => {
      // Every directory is checked before anything is written: a refused merge changes nothing.
      const why = [badMergeDest(dest, 'crashes'), ...sources.map(notACrashStore)].find((w) => w !== null);
      if (why != null) throw new UsageError(`crashes merge: ${why}`);
      const r = mergeCrashStores(dest, sources);
      for (const s of r.skipped) io.err(`eptfuzz: skipped ${s.dir}: ${s.reason}\n`);
      io.out(`merged into ${dest}: ${r.added} new signature(s), ${r.merged} updated, ${r.unchanged} unchanged\n`);
      setExit(EXIT.ok);
    });
  return new Command('crashes')
    .description('crash-store maintenance: merge, list, pull')
    .addCommand(merge)
    .addCommand(crashesListCommand(io, setExit))
    .addCommand(crashesPullCommand(io));
}

/** A wall-clock time to the second (`2026-12-05T08:47:42Z`), or `-` when not recorded. */
export function shortTime(iso: string | null): string {
  return iso === null ? '-' : iso.replace(/\.\d{3}Z$/, 'Z');
}

function crashRowLine(r: CrashRow): string {
  const ops = r.reproOps === null ? '?' : `${r.reproOps}${r.minimized ? '' : '*'}`;
  const rule = r.rule === null ? '' : ` [${r.rule}]`;
  return `${r.hash}  ${String(r.count).padStart(7)}  ${shortTime(r.firstSeen).padEnd(20)}  ${shortTime(r.lastSeen).padEnd(20)}  ${ops.padStart(5)}  ${r.summary}${rule}  ${r.dir}${r.dirs.length > 1 ? ` (+${r.dirs.length - 1})` : ''}`;
}

function crashesListCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return addHubViewOptions(new Command('list')
    .description('one line per failure signature across crash stores (shards, machines, a hub campaign): hash, count, first and last seen, repro ops, signature, directory')
    .argument('[dir...]', 'crash stores (the --crashes of each shard, or a merged store)')
    .option('--json', 'one JSON object per signature instead of the table', false))
    .addHelpText('after', '\nColumns: signature hash; runs that hit it (summed over campaigns, each seed and shard counted once,\nso a merged store listed with its shards is not counted twice); first and last seen (UTC, from each\ncrash directory\'s seen.json, or the hub\'s sightings; - when not recorded); ops of the shortest repro\n(* not minimized); invariant @ op: detail [rule]; the directory of that repro (+N: other stores holding\nit; hub:NAME/<hash> for a hub campaign\'s, which `crashes pull` writes locally).\nMost frequent first.\n\nExamples:\n  $ eptfuzz crashes list out/crashes0 out/crashes1 out/crashes2 out/crashes3\n  $ eptfuzz crashes list --hub "$EPTFUZZ_HUB" --campaign nightly [out/crashes]\n')
    .action(async (dirs: string[], flags: { json: boolean; hub?: string; campaign?: string }) => {
      if (dirs.length === 0 && flags.campaign === undefined && flags.hub === undefined) throw new UsageError('crashes list: give crash stores, or --hub URL --campaign NAME');
      const why = dirs.map(notACrashStore).find((w) => w !== null);
      if (why != null) throw new UsageError(`crashes list: ${why}`);
      await withHubView(flags, { campaign: false }, (view) => {
        const stores = view === null ? dirs : [...dirs, view.store.dir];
        const listing = listCrashes(stores);
        const rows = view === null ? listing.rows : showRows(listing.rows, [view.store]);
        const skipped = view === null ? listing.skipped : listing.skipped.map((s) => ({ ...s, dir: view.store.show(s.dir) }));
        for (const s of skipped) io.err(`eptfuzz: skipped ${s.dir}: ${s.reason}\n`);
        if (flags.json) {
          for (const r of rows) io.out(JSON.stringify({ hash: r.hash, signature: r.signature, rule: r.rule, count: r.count, sources: r.sources, first_seen: r.firstSeen, last_seen: r.lastSeen, repro_ops: r.reproOps, repro_bytes: r.reproBytes, minimized: r.minimized, dir: r.dir, dirs: r.dirs }) + '\n');
        } else {
          io.out(`${'signature'.padEnd(16)}  ${'count'.padStart(7)}  ${'first seen'.padEnd(20)}  ${'last seen'.padEnd(20)}  ${'ops'.padStart(5)}  invariant @ op: detail  dir\n`);
          for (const r of rows) io.out(crashRowLine(r) + '\n');
          const runs = rows.reduce((a, r) => a + r.count, 0);
          const hub = view === null ? '' : `; ${view.store.label}: ${view.store.summary.blocksTotal === null ? `${view.store.summary.merged} blocks merged` : `${view.store.summary.merged}/${view.store.summary.blocksTotal} blocks merged`}${view.store.summary.pending > 0 ? `, ${view.store.summary.pending} not minimized yet` : ''}`;
          io.out(`${rows.length} signature(s), ${runs} failing run(s) in ${stores.length} store(s)${skipped.length > 0 ? `; ${skipped.length} directory(ies) skipped` : ''}${hub}\n`);
        }
      });
      setExit(EXIT.ok);
    });
}
