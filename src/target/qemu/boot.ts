/**
 * Booting a disk image (the agent and its batch) in QEMU with TCG and reading the agent's lines.
 * Contract: `bootQemu(image, onLine)` runs QEMU headless on the raw image (IDE primary master, the
 * disk src/target/bochs/image.ts `diskImage` builds) and calls `onLine` for every line the agent
 * writes to port 0xE9 (QEMU's debugcon, on QEMU's stdout); it resolves with QEMU's exit status
 * and the last lines QEMU wrote to stderr (its reason for stopping: an error, or `Triple fault`),
 * or '' when there were none. The agent powers QEMU off after its `D` line (ACPI PM1a_CNT, port
 * 0x604); with -no-reboot a triple fault ends QEMU too, with status 0 like a power-off, so QEMU
 * logs resets (`-d cpu_reset`; the register dumps of that log are left out of `log`).
 * `timeoutMs` kills a hung QEMU (SIGKILL).
 * EPTFUZZ_QEMU names the binary (default `qemu-system-x86_64` on PATH).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export const QEMU_BINARY = (): string => process.env.EPTFUZZ_QEMU ?? 'qemu-system-x86_64';
const LOG_CHARS = 300;
const STDERR_KEEP = 16384;
/** Lines of `-d cpu_reset`'s register dumps (`CPU Reset (CPU 0)`, `EAX=...`, `ES =0000 ...`). */
const DUMP_LINE = /^(CPU Reset \(|[A-Z][A-Z0-9]* *=)/;

/** QEMU's arguments for one boot of `image` (RAM 256 MiB as the agent's memory map assumes). */
export function qemuArgs(image: string): string[] {
  // A comma in the path would end the -drive option's file= value: QEMU escapes it by doubling.
  const file = path.resolve(image).replace(/,/g, ',,');
  return [
    '-machine', 'pc', '-accel', 'tcg', '-cpu', 'max', '-m', '256',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-drive', `file=${file},format=raw,if=ide,index=0,media=disk`,
    '-debugcon', 'stdio', '-serial', 'none', '-monitor', 'none',
    '-d', 'cpu_reset',
  ];
}

export async function bootQemu(image: string, onLine: (line: string) => void, timeoutMs = 0): Promise<{ code: number; log: string }> {
  const child = spawn(QEMU_BINARY(), qemuArgs(image), { stdio: ['ignore', 'pipe', 'pipe'] });
  const timer = timeoutMs > 0 ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : null;
  let pending = '';
  let stderr = '';
  let cannotRun = '';
  child.stdout.on('data', (b: Buffer) => {
    pending += b.toString('latin1');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line.replace(/\r$/, ''));
  });
  child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString('utf8')).slice(-STDERR_KEEP); });
  const code = await new Promise<number>((resolve) => {
    child.on('error', (e) => { cannotRun = `cannot run ${QEMU_BINARY()}: ${e.message}`; resolve(127); });
    child.on('close', (c) => resolve(c ?? 137));
  });
  if (timer !== null) clearTimeout(timer);
  if (pending !== '') onLine(pending.replace(/\r$/, ''));
  const said = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !DUMP_LINE.test(l));
  const last = said.slice(-2).join(' ').replace(/\s+/g, ' ');
  return { code, log: (cannotRun !== '' ? cannotRun : last).slice(0, LOG_CHARS) };
}
