/**
 * Guarantee: the README's hand-written trace, replayed, prints what the README says it prints
 * (plain replay: one PASS line; --verbose: the EPT violation line quoted there). The trace and the
 * expected lines are read from README.md itself, so the two cannot drift apart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, tempDir } from './helpers.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

/** The fenced block of `lang` that follows `marker` in the README. */
function blockAfter(marker: string, lang: string): string {
  const at = README.indexOf(marker);
  expect(at, marker).toBeGreaterThanOrEqual(0);
  const open = README.indexOf('```' + lang + '\n', at);
  const close = README.indexOf('\n```', open + 4);
  return README.slice(open + lang.length + 4, close + 1);
}

describe('ReadmeReplayOutput', () => {
  it('plain and verbose replay of the README trace print the README lines', async () => {
    const trace = blockAfter('Example: an EPT leaf without write permission', 'text');
    const name = /Saved as `([^`]+)`/.exec(README)?.[1];
    expect(name).toBeDefined();
    const dir = tempDir('readme');
    const file = join(dir, name!);
    writeFileSync(file, trace);

    const plain = await cli(['replay', file]);
    const said = /prints one line, `(PASS [^`]+)`/.exec(README.replace(/\s*\n\s*/g, ' '))?.[1];
    expect(said).toBeDefined();
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe(said!.replace(name!, file) + '\n');

    const verbose = await cli(['replay', '--verbose', file]);
    const shown = blockAfter('`--verbose` shows each step', 'text').split('\n').filter((l) => l.length > 0 && !l.startsWith('$') && l !== '...');
    const got = verbose.stdout.split('\n');
    for (const line of shown) expect(got, line).toContain(line.replace(name!, file));
  });
});
