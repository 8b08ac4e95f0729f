/**
 * One defect, one signature, measured on real campaigns (issue 11; docs/rules.md "Planted bugs"):
 * reads the crash stores of finished `eptfuzz fuzz` campaigns and prints, per store, its
 * signatures (hits, share, the rule in dispute and whether it is one of the bug's
 * `finds.rules`) and, per planted bug, the verdict.
 * - A store of one bug: every signature (crash directory) counts against the catalogue's limit
 *   (`finds.signaturesMax`, default 2), and each must name one of the bug's `finds.rules`.
 * - A store of several bugs: each signature's minimized repro (repro.txt) is replayed once per
 *   bug with that bug alone switched on (in-process `eptfuzz replay`, the trace's `bugs` header
 *   rewritten), and so is each stored original (the first unminimized runs that hit it); the
 *   bugs that reproduce the same signature alone on one of them are its owners (when none does,
 *   the pairs that do on the repro: two bugs acting together). A bug passes when some signature
 *   names one of its `finds.rules` and every owner of that signature includes it. Up to four
 *   traces per signature: one a signature many runs hit may have more owners than they show.
 * Usage (after `tsc -p tsconfig.bench.json`): node dist-bench/bench/signatures.js [--markdown] DIR...
 * Read-only on the stores; temporary traces go to the OS temp directory.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CATALOGUE, type PlantedBug } from '../src/bugs/catalogue.js';
import { main } from '../src/cli/main.js';
import { captureIo } from '../src/cli/io.js';
import { readDescription, type CrashDescription } from '../src/fuzz/crash-store.js';

/** owners: the sets of bugs (one bug, else two) that reproduce the signature alone. */
interface Sig { hash: string; d: CrashDescription; share: number; rule: string; owners: string[][] }

/** The rule (group) in dispute a signature detail names (as test/quality/OneDefectOneSignature). */
export const ruleOf = (detail: string): string => detail.replace(/^flushed by /, '').split(/ -> |: /)[0];

const BY_NAME = new Map(CATALOGUE.map((b) => [b.name, b] as const));

async function reproduces(text: string, d: CrashDescription, set: readonly string[], tmp: string): Promise<boolean> {
  const file = path.join(tmp, `${d.signature_hash}-${set.join('+')}.txt`);
  fs.writeFileSync(file, text.replace(/"bugs":\[[^\]]*\]/, `"bugs":${JSON.stringify(set)}`));
  const io = captureIo();
  const code = await main(['replay', file], io);
  return code === 1 && (io.stdout() + io.stderr()).includes(`FAIL ${file}: ${d.summary} at step`);
}

/**
 * The single bugs that reproduce the signature alone on the minimized repro or on one of the
 * stored originals (up to three unminimized runs); if none does, the pairs that do on the repro.
 */
async function ownersOf(dir: string, d: CrashDescription, bugs: readonly string[], tmp: string): Promise<string[][]> {
  const repro = path.join(dir, 'repro.txt');
  if (!fs.existsSync(repro)) return []; // a harness fault or an unfinished entry: nothing to replay
  const texts = [fs.readFileSync(repro, 'utf8')];
  for (const [i, o] of d.originals.entries()) {
    const txt = path.join(tmp, `${d.signature_hash}-original-${i}.txt`);
    if (await main(['convert', path.join(dir, o), txt], captureIo()) === 0) texts.push(fs.readFileSync(txt, 'utf8'));
  }
  const owners: string[][] = [];
  for (const b of bugs) {
    for (const text of texts) {
      if (await reproduces(text, d, [b], tmp)) { owners.push([b]); break; }
    }
  }
  if (owners.length > 0) return owners;
  for (let i = 0; i < bugs.length; i++) {
    for (let j = i + 1; j < bugs.length; j++) if (await reproduces(texts[0], d, [bugs[i], bugs[j]], tmp)) owners.push([bugs[i], bugs[j]]);
  }
  return owners;
}

async function readStore(dir: string, tmp: string): Promise<{ bugs: string[]; sigs: Sig[]; total: number }> {
  const descs = fs.readdirSync(dir).filter((n) => !n.startsWith('.'))
    .map((n) => [n, readDescription(path.join(dir, n))] as const)
    .filter((x): x is readonly [string, CrashDescription] => x[1] !== null);
  const total = descs.reduce((n, [, d]) => n + d.count, 0);
  const bugs = descs.length === 0 ? [] : String(descs[0][1].options.bugs ?? '').split(',').filter((s) => s !== '');
  const sigs: Sig[] = [];
  for (const [n, d] of descs) {
    const owners = bugs.length > 1 ? await ownersOf(path.join(dir, n), d, bugs, tmp) : [bugs];
    sigs.push({ hash: d.signature_hash, d, share: total === 0 ? 0 : d.count / total, rule: ruleOf(d.signature.detail), owners });
  }
  sigs.sort((a, b) => b.d.count - a.d.count);
  return { bugs, sigs, total };
}

function singleVerdict(bug: PlantedBug, sigs: Sig[]): string {
  const max = bug.finds.signaturesMax ?? 2;
  const offRule = sigs.filter((s) => !bug.finds.rules.includes(s.rule));
  const ok = sigs.length >= 1 && sigs.length <= max && offRule.length === 0;
  return `${ok ? 'PASS' : 'FAIL'}: ${sigs.length} signature(s) (max ${max})` +
    (offRule.length > 0 ? `; not in finds.rules: ${offRule.map((s) => s.rule).join(', ')}` : '');
}

async function report(dir: string, md: boolean, tmp: string): Promise<void> {
  const { bugs, sigs, total } = await readStore(dir, tmp);
  const out = (s: string): void => { process.stdout.write(s + '\n'); };
  out(`${md ? '### ' : '== '}${dir}: ${sigs.length} signatures, ${total} hits, bugs: ${bugs.join(', ') || '(none)'}`);
  if (md) out('\n| hits | share | signature | rule in dispute | reproduced alone by |\n|---|---|---|---|---|');
  for (const s of sigs) {
    const owners = s.owners.length === 0 ? '(no bug or pair)' : s.owners.map((o) => o.join(' + ')).join(', ');
    if (md) out(`| ${s.d.count} | ${(100 * s.share).toFixed(1)} % | \`${s.d.summary}\` | \`${s.rule}\` | ${owners} |`);
    else out(`  ${String(s.d.count).padStart(5)} ${(100 * s.share).toFixed(1).padStart(5)} %  ${s.hash}  ${s.d.summary}  [${owners}]`);
  }
  if (md) out('');
  if (bugs.length === 1) {
    const bug = BY_NAME.get(bugs[0]);
    if (bug !== undefined) out(`${bug.name}: ${singleVerdict(bug, sigs)}`);
    return;
  }
  if (md) out('| bug | its signatures (hits) | own signature naming finds.rules |\n|---|---|---|');
  for (const name of bugs) {
    const bug = BY_NAME.get(name);
    if (bug === undefined) continue;
    // A signature is this bug's when it takes part in every set that reproduces it; its own when
    // it is this bug's and names one of its finds.rules.
    const mine = sigs.filter((s) => s.owners.some((o) => o.includes(name)));
    const own = mine.filter((s) => s.owners.every((o) => o.includes(name)) && bug.finds.rules.includes(s.rule));
    const naming = sigs.filter((s) => bug.finds.rules.includes(s.rule));
    const shared = mine.filter((s) => !s.owners.every((o) => o.includes(name)));
    const others = (s: Sig): string[] => [...new Set(s.owners.flat().filter((o) => o !== name))];
    const verdict = own.length > 0 ? 'yes' : naming.length > 0 ? `no: its rule's signature is shared with ${[...new Set(naming.flatMap(others))].join(', ') || '(reproduced by no bug or pair)'}` : 'no signature names its rule';
    const list = mine.map((s) => `\`${s.d.signature.detail}\` (${s.d.count})`).join('; ') || '-';
    if (md) out(`| ${name} | ${list} | ${verdict} |`);
    else out(`  ${name}: ${verdict}; its signatures: ${list}${shared.length > 0 ? `; shared: ${shared.map((s) => `${s.hash} with ${others(s).join(', ')}`).join('; ')}` : ''}`);
  }
  const orphans = sigs.filter((s) => s.owners.length === 0);
  out(`${orphans.length} signature(s) no bug or pair of bugs reproduces${orphans.length > 0 ? `: ${orphans.map((s) => `${s.hash} (${s.d.count})`).join(', ')}` : ''}`);
}

async function cli(argv: string[]): Promise<void> {
  const md = argv.includes('--markdown');
  const dirs = argv.filter((a) => a !== '--markdown');
  if (dirs.length === 0) {
    process.stderr.write('usage: node dist-bench/bench/signatures.js [--markdown] CRASH_DIR...\n');
    process.exitCode = 2;
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eptfuzz-signatures-'));
  try {
    for (const d of dirs) {
      if (!fs.existsSync(d)) { process.stderr.write(`signatures: ${d}: no such crash store\n`); process.exitCode = 2; continue; }
      await report(d, md, tmp);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await cli(process.argv.slice(2));
