/**
 * Developer tool: what a finished crash store's signatures become under the current classifier,
 * without running the campaign again. Each crash directory's minimized repro and stored originals
 * are checked against the reference model; the directory's hits follow its repro's new signature
 * (an estimate: the runs behind a directory are not all kept). Prints, per store, the new
 * signatures with their hits, and each directory whose originals sign differently from its repro.
 * Usage: npx tsx bench/resign-store.ts CRASHES...
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkTrace } from '../src/check/check-trace.js';
import { TARGETS } from '../src/check/targets.js';
import { alternateSignatures, formatSignature, signatureOf, type Violation } from '../src/check/violation.js';
import { loadTrace } from '../src/trace/load.js';

/** The signature a trace gets now, and its alternative explanations (checkers.ts Finding.alternates). */
function signWithAlternates(file: string): { sig: string; alts: string[] } {
  let trace;
  try {
    trace = loadTrace(file);
  } catch (e) {
    return { sig: `(unreadable now: ${e instanceof Error ? e.message.split('\n')[0].slice(file.length + 2, file.length + 60) : String(e)})`, alts: [] };
  }
  const r = checkTrace(trace, TARGETS.model);
  if (r.first === null) return { sig: '(passes)', alts: [] };
  return { sig: formatSignature(signatureOf(r.first)), alts: alternateSignatures(r.first as Violation).map(formatSignature) };
}

function signOf(file: string): string {
  return signWithAlternates(file).sig;
}

const fold = process.argv.includes('--fold');
for (const store of process.argv.slice(2).filter((a) => a !== '--fold')) {
  const hits = new Map<string, number>();
  // --fold: the directories in the order they were first seen, each filed as a campaign files it
  // now: under its signature when on file, else under the first alternative on file, else new.
  const order: { run: number; sig: string; alts: string[]; count: number }[] = [];
  const splits: string[] = [];
  let total = 0;
  let asFiled = 0;
  for (const name of fs.readdirSync(store).sort()) {
    const dir = path.join(store, name);
    const descFile = path.join(dir, 'description.json');
    if (!fs.existsSync(descFile)) continue;
    const d = JSON.parse(fs.readFileSync(descFile, 'utf8')) as { count: number; summary: string };
    // A repro the current format refuses keeps the signature it was filed under (counted apart).
    const signed = signWithAlternates(path.join(dir, 'repro.msgpack'));
    let sig = signed.sig;
    order.push({ run: (d as { first_seen_run?: number }).first_seen_run ?? 0, sig, alts: signed.alts, count: d.count });
    if (sig.startsWith('(unreadable now')) {
      asFiled += d.count;
      sig = d.summary;
    }
    hits.set(sig, (hits.get(sig) ?? 0) + d.count);
    total += d.count;
    for (const f of fs.readdirSync(dir).filter((n) => n.startsWith('original-')).sort()) {
      const o = signOf(path.join(dir, f));
      if (o !== sig) splits.push(`    ${name}/${f}: ${o}  (repro: ${sig})`);
    }
  }
  const rows = [...hits].sort((a, b) => b[1] - a[1]);
  process.stdout.write(`== ${store}: ${rows.length} signatures, ${total} hits${asFiled > 0 ? ` (${asFiled} of them as filed: their repro is in a format the current version refuses)` : ''}\n`);
  for (const [s, n] of rows) process.stdout.write(`  ${String(n).padStart(6)} ${(100 * n / total).toFixed(1).padStart(5)} %  ${s}\n`);
  if (splits.length > 0) process.stdout.write(`  originals signing otherwise:\n${splits.join('\n')}\n`);
  if (fold) {
    const filed = new Map<string, number>();
    for (const o of order.sort((a, b) => a.run - b.run)) {
      const under = filed.has(o.sig) ? o.sig : o.alts.find((a) => filed.has(a)) ?? o.sig;
      filed.set(under, (filed.get(under) ?? 0) + o.count);
    }
    const folded = [...filed].sort((a, b) => b[1] - a[1]);
    process.stdout.write(`  folded by alternatives: ${folded.length} signatures\n`);
    for (const [s, n] of folded) process.stdout.write(`  ${String(n).padStart(6)} ${(100 * n / total).toFixed(1).padStart(5)} %  ${s}\n`);
  }
}
