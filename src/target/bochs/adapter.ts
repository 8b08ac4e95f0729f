#!/usr/bin/env node
/**
 * The Bochs adapter: an out-of-process target command (docs/targets.md). `adapter BATCH` boots
 * Bochs on the guest agent with BATCH on its disk and prints the agent's result lines on stdout;
 * `adapter --profile` prints the target profile as JSON.
 * Contract: stdout carries only lines the agent wrote (Bochs's own output goes to its log file);
 * the exit status is 0 when the agent's `D` line came, 1 otherwise (eptfuzz judges by the lines).
 * EPTFUZZ_BOCHS names the Bochs binary (default `bochs` on PATH).
 * Test hook: EPTFUZZ_BOCHS_CORRUPT=pf flips bit 0 of every #PF error code Bochs's run reports (a
 * deliberately wrong result, to prove the comparison catches one on real output).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bigintJson } from '../profile-json.js';
import { agentImagePath, bochsrc, diskImage } from './image.js';
import { BOCHS_PROFILE } from './profile.js';

export const BOCHS_BINARY = process.env.EPTFUZZ_BOCHS ?? 'bochs';

/** The panic or error line Bochs logged last (its reason for stopping), as ': LINE', or ''. */
function whyInLog(file: string): string {
  if (!fs.existsSync(file)) return '';
  const lines = fs.readFileSync(file, 'latin1').trim().split('\n');
  const worst = lines.filter((l) => /^\d+[pe]\[/.test(l)).pop() ?? lines.pop() ?? '';
  return worst === '' ? '' : `: ${worst.replace(/\s+/g, ' ').slice(0, 300)}`;
}

async function runBochs(batchFile: string): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eptfuzz-bochs-'));
  try {
    const { bytes, cylinders } = diskImage(fs.readFileSync(agentImagePath()), fs.readFileSync(batchFile));
    const disk = path.join(dir, 'disk.img');
    fs.writeFileSync(disk, bytes);
    fs.writeFileSync(path.join(dir, 'bochsrc'), bochsrc(disk, cylinders, path.join(dir, 'bochs.log')));
    fs.writeFileSync(path.join(dir, 'cmds'), 'c\n');
    const child = spawn(BOCHS_BINARY, ['-q', '-f', path.join(dir, 'bochsrc'), '-rc', path.join(dir, 'cmds')], {
      cwd: dir, stdio: ['ignore', 'pipe', 'ignore'],
    });
    let done = false;
    let pending = '';
    const corruptPf = process.env.EPTFUZZ_BOCHS_CORRUPT === 'pf';
    child.stdout.on('data', (b: Buffer) => {
      pending += b.toString('latin1');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const clean = line.replace(/\r$/, '');
        if (!/^[HBTSMED]( |$)/.test(clean)) continue;
        const m = corruptPf ? /^(S [0-9a-f]+ pf )([0-9a-f]+)( .*)$/.exec(clean) : null;
        process.stdout.write((m === null ? clean : m[1] + (Number.parseInt(m[2], 16) ^ 1).toString(16) + m[3]) + '\n');
        if (clean === 'D') done = true;
      }
    });
    const code = await new Promise<number>((resolve) => {
      child.on('error', (e) => { process.stderr.write(`cannot run ${BOCHS_BINARY}: ${e.message}\n`); resolve(127); });
      child.on('close', (c) => resolve(c ?? 1));
    });
    if (!done) {
      process.stderr.write(`bochs exited with ${code} before the agent finished${whyInLog(path.join(dir, 'bochs.log'))}\n`);
      return 1;
    }
    return 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === '--profile') {
    process.stdout.write(JSON.stringify(BOCHS_PROFILE, bigintJson) + '\n');
    return 0;
  }
  if (argv.length !== 1) {
    process.stderr.write('usage: adapter BATCH_FILE | adapter --profile\n');
    return 2;
  }
  return runBochs(argv[0]);
}

process.exitCode = await main(process.argv.slice(2));
