#!/usr/bin/env node
/**
 * The Bochs adapter: an out-of-process target command (docs/targets.md). `adapter BATCH` boots
 * Bochs on the guest agent with BATCH on its disk and prints the agent's result lines on stdout;
 * `adapter --profile` prints the target profile as JSON.
 * Contract: stdout carries only lines the agent wrote (Bochs's own output goes to its log file);
 * the exit status is 0 when the agent's `D` line came, 1 otherwise (eptfuzz judges by the lines).
 * EPTFUZZ_BOCHS names the Bochs binary (default `bochs` on PATH; src/target/bochs/boot.ts).
 * Test hook: EPTFUZZ_BOCHS_CORRUPT=pf flips bit 0 of every #PF error code Bochs's run reports (a
 * deliberately wrong result, to prove the comparison catches one on real output).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bigintJson } from '../profile-json.js';
import { agentImagePath, diskImage } from './image.js';
import { bootBochs } from './boot.js';
import { BOCHS_PROFILE } from './profile.js';

async function runBochs(batchFile: string): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eptfuzz-disk-'));
  try {
    const disk = path.join(dir, 'disk.img');
    fs.writeFileSync(disk, diskImage(fs.readFileSync(agentImagePath()), fs.readFileSync(batchFile)).bytes);
    let done = false;
    const corruptPf = process.env.EPTFUZZ_BOCHS_CORRUPT === 'pf';
    const { code, log } = await bootBochs(disk, (line) => {
      if (!/^[HBTSMED]( |$)/.test(line)) return;
      const m = corruptPf ? /^(S [0-9a-f]+ pf )([0-9a-f]+)( .*)$/.exec(line) : null;
      process.stdout.write((m === null ? line : m[1] + (Number.parseInt(m[2], 16) ^ 1).toString(16) + m[3]) + '\n');
      if (line === 'D') done = true;
    });
    if (!done) {
      process.stderr.write(`bochs exited with ${code} before the agent finished${log === '' ? '' : `: ${log}`}\n`);
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
