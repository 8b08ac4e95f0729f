/**
 * Developer tool, run once when the signature scheme changes (docs/traces.md "Signatures"):
 * re-signs the committed crashes (crashes/<hash>/, renamed to the new hash) against the reference
 * model, and prints the new signatures of the target findings' fixtures, which are re-signed from a
 * `replay --target` run (their signatures are what a real target did). Not run by users: it
 * rewrites tracked files.
 * Usage: npx tsx bench/resign.ts crashes            # re-sign and rename crash directories
 *        npx tsx bench/resign.ts fixture FILE SIG    # write SIG (JSON) as FILE's @signature
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkTrace } from '../src/check/check-trace.js';
import { TARGETS } from '../src/check/targets.js';
import { formatSignature, signatureHash, signatureOf } from '../src/check/violation.js';
import { loadTrace, saveTrace } from '../src/trace/load.js';
import type { Signature } from '../src/trace/trace.js';

function resignCrashes(root: string): void {
  for (const hash of fs.readdirSync(root).sort()) {
    const dir = path.join(root, hash);
    const descFile = path.join(dir, 'description.json');
    if (!fs.existsSync(descFile)) continue;
    const d = JSON.parse(fs.readFileSync(descFile, 'utf8'));
    const repro = loadTrace(path.join(dir, 'repro.msgpack'));
    const r = checkTrace(repro, TARGETS.model);
    if (r.first === null) throw new Error(`${dir}: the repro passes`);
    const sig: Signature = signatureOf(r.first);
    const newHash = signatureHash(sig);
    const old = d.summary as string;
    const next = { signature: sig, signature_hash: newHash, summary: formatSignature(sig), rule: r.first.rule } as Record<string, unknown>;
    for (const [k, v] of Object.entries(d)) if (!(k in next)) next[k] = v;
    fs.writeFileSync(descFile, JSON.stringify(next, null, 2) + '\n');
    for (const f of fs.readdirSync(dir)) {
      if (!f.endsWith('.msgpack') && !(f === 'repro.txt')) continue;
      const file = path.join(dir, f);
      const t = loadTrace(file);
      if (t.signature === undefined && !f.startsWith('repro')) continue;
      saveTrace(file, { ...t, signature: sig }, f.endsWith('.txt') ? 'text' : 'msgpack');
    }
    // One directory per signature: a crash whose new signature another already holds is merged
    // into it (the first in name order keeps its repro).
    let note = '';
    if (newHash !== hash && fs.existsSync(path.join(root, newHash))) {
      fs.rmSync(dir, { recursive: true });
      note = ' (merged: that directory already holds the signature)';
    } else if (newHash !== hash) fs.renameSync(dir, path.join(root, newHash));
    console.log(`| \`${hash}\` | ${old} | \`${newHash}\`${note} | ${formatSignature(sig)} |`);
  }
}

const [cmd, a, b] = process.argv.slice(2);
if (cmd === 'crashes') resignCrashes(a ?? 'crashes');
else if (cmd === 'fixture' && a !== undefined && b !== undefined) {
  const t = loadTrace(a);
  saveTrace(a, { ...t, signature: JSON.parse(b) as Signature }, 'text');
  console.log(`${a}: ${formatSignature(JSON.parse(b) as Signature)}`);
} else {
  console.error('usage: resign.ts crashes [DIR] | fixture FILE SIGNATURE-JSON');
  process.exit(2);
}
