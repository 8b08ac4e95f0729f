/**
 * The part every guest-agent adapter shares (Bochs, QEMU; docs/targets.md): the batch goes on a
 * disk image after the agent with its results to disk (agent/PROTOCOL.md "Results on disk"), an
 * emulator boots it, and the result stream is read back from the image once the emulator exits.
 * Contract: `runAgentBatch` prints on stdout only protocol lines (`^[HBTSMED]( |$)`) of the stream,
 * then a batch-level `S 0 skip` line the agent wrote to its port, then `D` if the stream lacks it;
 * it returns 0 when the agent's `D` came, 1 otherwise (with one line on stderr naming the
 * emulator). `adapterMain` is the command line: `--profile` prints the profile as JSON,
 * `BATCH_FILE` runs the batch (an error, such as a missing agent image or an unreadable batch, is
 * one line on stderr and exit 1), anything else is a usage error (exit 2).
 * Test hook: the environment variable `corruptEnv` = pf flips bit 0 of every #PF error code the
 * run reports (a deliberately wrong result, to prove the comparison catches one on real output).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bigintJson } from './profile-json.js';
import type { TargetProfile } from './profile.js';
import { AGENT_SECTORS, agentImagePath, writeDiskImage } from './bochs/image.js';
import { decodeBatch } from './bochs/batch-decode.js';

/** Boots a disk image; `onLine` gets every line the agent writes to its port (0xE9). */
export type BootAgent = (disk: string, onLine: (line: string) => void) => Promise<{ code: number; log: string }>;

/** Batch flag: results go to disk sectors (agent/PROTOCOL.md "Results on disk"). */
const FLAG_RESULTS_TO_DISK = 2;
const SECTOR = 512;
const RESULT_BYTES_PER_OP = 256;
const RESULT_BYTES_PER_TRACE = 4096;

/**
 * The batch as the agent gets it from an adapter: results to disk (Bochs writes each byte to
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

/** `length` bytes of `file` from `offset` (fewer where the file ends). */
function readRegion(file: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const fd = fs.openSync(file, 'r');
  try {
    let got = 0;
    while (got < length) {
      const n = fs.readSync(fd, out, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return out.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs one batch file on the emulator `boot` starts (`name` in messages); returns the exit status. */
export async function runAgentBatch(batchFile: string, boot: BootAgent, name: string, corruptEnv: string): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eptfuzz-disk-'));
  try {
    const disk = path.join(dir, 'disk.img');
    const { batch, lba, sectors } = withDiskResults(fs.readFileSync(batchFile));
    writeDiskImage(disk, fs.readFileSync(agentImagePath()), batch, sectors * SECTOR);
    let done = false;
    let stopped = '';
    const { code, log } = await boot(disk, (line) => {
      if (line === 'D') done = true;
      if (line.startsWith('S 0 skip')) stopped = line;
    });
    // The result stream is on the disk image the emulator wrote: up to the first NUL byte.
    const region = readRegion(disk, lba * SECTOR, sectors * SECTOR);
    const end = region.indexOf(0);
    const text = Buffer.from(region.subarray(0, end < 0 ? region.length : end)).toString('latin1');
    const corruptPf = process.env[corruptEnv] === 'pf';
    for (const line of text.split('\n')) {
      if (!/^[HBTSMED]( |$)/.test(line)) continue;
      const m = corruptPf ? /^(S [0-9a-f]+ pf )([0-9a-f]+)( .*)$/.exec(line) : null;
      process.stdout.write((m === null ? line : m[1] + (Number.parseInt(m[2], 16) ^ 1).toString(16) + m[3]) + '\n');
    }
    if (stopped !== '') process.stdout.write(stopped + '\n');
    if (!done) {
      process.stderr.write(`${name} exited with ${code} before the agent finished${log === '' ? '' : `: ${log}`}\n`);
      return 1;
    }
    if (!/\nD\n?$/.test(text) && !text.endsWith('D')) process.stdout.write('D\n');
    return 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The adapter command line (docs/targets.md "The out-of-process form"); returns the exit status. */
export async function adapterMain(argv: readonly string[], profile: TargetProfile, run: (batchFile: string) => Promise<number>): Promise<number> {
  if (argv[0] === '--profile') {
    process.stdout.write(JSON.stringify(profile, bigintJson) + '\n');
    return 0;
  }
  if (argv.length !== 1) {
    process.stderr.write('usage: adapter BATCH_FILE | adapter --profile\n');
    return 2;
  }
  const stopWatching = dieWithParent();
  try {
    return await run(argv[0]);
  } catch (e) {
    // One line, no stack: eptfuzz shows the adapter's last stderr line with the target fault.
    process.stderr.write(`${profile.name} adapter: ${(e as Error).message.split('\n')[0]}\n`);
    return 1;
  } finally {
    stopWatching();
  }
}

/** How often the adapter checks that eptfuzz is still there. */
const PARENT_POLL_MS = 500;

/**
 * An adapter whose eptfuzz went away (killed, or stopped before it could kill its targets) takes
 * its emulator with it: a hung QEMU or Bochs must not outlive the campaign. eptfuzz starts each
 * adapter as the leader of its own process group (exec.ts), and the emulator runs in that group.
 */
function dieWithParent(): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    try { process.kill(-process.pid, 'SIGKILL'); } catch { /* not a group leader (run by hand) */ }
    process.exit(1);
  }, PARENT_POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
