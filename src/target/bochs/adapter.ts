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
import { AGENT_SECTORS, agentImagePath, diskImage } from './image.js';
import { decodeBatch } from './batch-decode.js';
import { bootBochs } from './boot.js';
import { BOCHS_PROFILE } from './profile.js';

/** Batch flag: results go to disk sectors (agent/PROTOCOL.md "Results on disk"). */
const FLAG_RESULTS_TO_DISK = 2;
const SECTOR = 512;
const RESULT_BYTES_PER_OP = 256;
const RESULT_BYTES_PER_TRACE = 4096;

/**
 * The batch as the agent gets it from this adapter: results to disk (Bochs writes each byte to
 * port 0xE9 with its own flush, which cost more than the rest of a trace), with a result region
 * sized for the batch after it. Returns the new batch and the region.
 */
function withDiskResults(batch: Uint8Array): { batch: Uint8Array; lba: number; sectors: number } {
  const decoded = decodeBatch(batch);
  const ops = decoded.traces.reduce((n, t) => n + t.ops.length, 0);
  const out = new Uint8Array(batch.length + 8);
  out.set(batch.subarray(0, 40), 0);
  out.set(batch.subarray(40), 48);
  const v = new DataView(out.buffer);
  v.setUint32(36, v.getUint32(36, true) | FLAG_RESULTS_TO_DISK, true);
  v.setBigUint64(16, BigInt(out.length), true);
  const lba = AGENT_SECTORS + Math.ceil(out.length / SECTOR);
  const sectors = Math.ceil((ops * RESULT_BYTES_PER_OP + decoded.traces.length * RESULT_BYTES_PER_TRACE + 65536) / SECTOR);
  v.setUint32(40, lba, true);
  v.setUint32(44, sectors, true);
  return { batch: out, lba, sectors };
}

async function runBochs(batchFile: string): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eptfuzz-disk-'));
  try {
    const disk = path.join(dir, 'disk.img');
    const { batch, lba, sectors } = withDiskResults(fs.readFileSync(batchFile));
    const { bytes } = diskImage(fs.readFileSync(agentImagePath()), batch, sectors * SECTOR);
    fs.writeFileSync(disk, bytes);
    let done = false;
    let stopped = '';
    const { code, log } = await bootBochs(disk, (line) => {
      if (line === 'D') done = true;
      if (line.startsWith('S 0 skip')) stopped = line;
    });
    // The result stream is on the disk image Bochs wrote: up to the first NUL byte.
    const image = fs.readFileSync(disk);
    const region = image.subarray(lba * SECTOR, (lba + sectors) * SECTOR);
    const end = region.indexOf(0);
    const text = Buffer.from(region.subarray(0, end < 0 ? region.length : end)).toString('latin1');
    const corruptPf = process.env.EPTFUZZ_BOCHS_CORRUPT === 'pf';
    for (const line of text.split('\n')) {
      if (!/^[HBTSMED]( |$)/.test(line)) continue;
      const m = corruptPf ? /^(S [0-9a-f]+ pf )([0-9a-f]+)( .*)$/.exec(line) : null;
      process.stdout.write((m === null ? line : m[1] + (Number.parseInt(m[2], 16) ^ 1).toString(16) + m[3]) + '\n');
    }
    if (stopped !== '') process.stdout.write(stopped + '\n');
    if (!done) {
      process.stderr.write(`bochs exited with ${code} before the agent finished${log === '' ? '' : `: ${log}`}\n`);
      return 1;
    }
    if (!/\nD\n?$/.test(text) && !text.endsWith('D')) process.stdout.write('D\n');
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
