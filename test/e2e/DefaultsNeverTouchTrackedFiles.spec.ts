/**
 * Guarantee: neither the defaults nor any command the README or `--help` shows writes into a file
 * or directory tracked by the repository (a canary run once rewrote a committed description.json,
 * and the README's overnight `--corpus corpus` filled the committed corpus/).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRASHES_DIR_DEFAULT } from '../../src/cli/commands/fuzz.js';
import { cli, tempDir } from './helpers.js';

const REPO = join(import.meta.dirname, '..', '..');

/** Top-level tracked entries (git), or the two known stores when git is not at hand. */
function trackedTop(): Set<string> {
  try {
    const out = execFileSync('git', ['ls-files'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return new Set(out.split('\n').filter((l) => l.length > 0).map((l) => l.split('/')[0]));
  } catch {
    return new Set(['corpus', 'crashes']);
  }
}

/** The paths an eptfuzz command line writes to (its destinations), per subcommand. */
function writeTargets(tokens: readonly string[]): string[] {
  const value = (flag: string): string | undefined => {
    const i = tokens.indexOf(flag);
    return i >= 0 ? tokens[i + 1] : undefined;
  };
  const positional = tokens.filter((t, i) => !t.startsWith('-') && (i === 0 || !/^--?(o|output|to|target|crashes|corpus|out|seed|runs|duration|shard|bug|mode|workers|image|max-steps|format|oracle|step|features)$/.test(tokens[i - 1])));
  const [cmd, sub] = tokens;
  const out: string[] = [];
  const push = (p: string | undefined): void => { if (p !== undefined) out.push(p); };
  if (cmd === 'fuzz') {
    out.push(value('--crashes') ?? CRASHES_DIR_DEFAULT);
    push(value('--corpus'));
    push(value('--out'));
  } else if (cmd === 'corpus' && (sub === 'add' || sub === 'merge')) {
    push(positional[2]);
  } else if (cmd === 'corpus' && sub === 'minimize') {
    push(value('-o') ?? value('--output') ?? positional[2]);
  } else if (cmd === 'crashes' && sub === 'merge') {
    push(positional[2]);
  } else if (cmd === 'minimize') {
    push(value('-o') ?? value('--output'));
  } else if (cmd === 'convert') {
    push(positional[2]);
  } else if (cmd === 'export') {
    push(value('--image'));
  } else if (cmd === 'report') {
    push(value('-o') ?? value('--output'));
  }
  return out;
}

/** Every `eptfuzz ...` command in a text (README code, help examples), comments dropped. */
function commandsIn(text: string): string[][] {
  const out: string[][] = [];
  for (const line of text.split('\n')) {
    for (const part of line.replace(/\s#.*$/, '').split(/&&|\|\|/)) {
      const m = /(?:^|\s)eptfuzz\s+(.*)$/.exec(part);
      if (m === null || /^\s*(fuzz|corpus|crashes|minimize|convert|export|report)\b/.test(m[1]) === false) continue;
      out.push(m[1].trim().split(/\s+/));
    }
  }
  return out;
}

const HELP_PATHS = [[], ['fuzz'], ['replay'], ['minimize'], ['export'], ['dump'], ['convert'], ['corpus'], ['corpus', 'add'], ['corpus', 'list'], ['corpus', 'merge'], ['corpus', 'minimize'], ['crashes'], ['crashes', 'merge'], ['crashes', 'list'], ['report'], ['bugs']];

describe('defaults and documented commands never write into tracked files', () => {
  const tracked = trackedTop();

  it('the README and every --help example write only to untracked paths', async () => {
    const texts = [{ where: 'README.md', text: readFileSync(join(REPO, 'README.md'), 'utf8') }];
    for (const p of HELP_PATHS) texts.push({ where: `eptfuzz ${p.join(' ')} --help`, text: (await cli([...p, '--help'])).stdout });
    const bad: string[] = [];
    let checked = 0;
    for (const { where, text } of texts) {
      for (const tokens of commandsIn(text)) {
        for (const target of writeTargets(tokens)) {
          checked++;
          const top = target.replace(/^\.\//, '').split('/')[0];
          if (tracked.has(top)) bad.push(`${where}: 'eptfuzz ${tokens.join(' ')}' writes into tracked ${target}`);
        }
      }
    }
    expect(bad).toEqual([]);
    expect(checked).toBeGreaterThan(15); // the parser did find the commands
  });

  it(`fuzz without --crashes writes to ./${CRASHES_DIR_DEFAULT}, never ./crashes`, async () => {
    expect(tracked.has(CRASHES_DIR_DEFAULT)).toBe(false);
    const dir = tempDir('defaults');
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const r = await cli(['fuzz', '--seed', 'defaults', '--runs', '200', '--bug', 'canary', '--workers', '0']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toContain(CRASHES_DIR_DEFAULT);
    } finally {
      process.chdir(cwd);
    }
    expect(existsSync(join(dir, CRASHES_DIR_DEFAULT))).toBe(true);
    expect(existsSync(join(dir, 'crashes'))).toBe(false);
  });

  it('the top-level help example does not replay the committed crashes', async () => {
    const help = (await cli(['--help'])).stdout;
    expect(help).not.toMatch(/replay crashes\//);
  });
});
