/**
 * Booting a disk image (the agent and its batch) in Bochs and reading the agent's lines.
 * Contract: `bootBochs(image, onLine)` writes a bochsrc for the image in a temporary directory
 * (removed afterwards), runs Bochs headless, and calls `onLine` for every line on Bochs's stdout
 * (Bochs's own messages go to its log); it resolves with Bochs's exit status and, when the run
 * looks abnormal, the panic or error line Bochs logged last. `timeoutMs` kills a hung Bochs.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bochsrc } from './image.js';

export const BOCHS_BINARY = (): string => process.env.EPTFUZZ_BOCHS ?? 'bochs';
const CYLINDER_BYTES = 16 * 63 * 512;

/** The panic or error line Bochs logged last (its reason for stopping), or ''. */
function whyInLog(file: string): string {
  if (!fs.existsSync(file)) return '';
  const lines = fs.readFileSync(file, 'latin1').trim().split('\n');
  const worst = lines.filter((l) => /^\d+[pe]\[/.test(l)).pop() ?? lines.pop() ?? '';
  return worst.replace(/\s+/g, ' ').slice(0, 300);
}

export async function bootBochs(image: string, onLine: (line: string) => void, timeoutMs = 0): Promise<{ code: number; log: string }> {
  const size = fs.statSync(image).size;
  if (size % CYLINDER_BYTES !== 0) throw new Error(`${image}: ${size} bytes is not a whole number of 16x63-sector cylinders`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eptfuzz-bochs-'));
  try {
    const log = path.join(dir, 'bochs.log');
    fs.writeFileSync(path.join(dir, 'bochsrc'), bochsrc(path.resolve(image), size / CYLINDER_BYTES, log));
    fs.writeFileSync(path.join(dir, 'cmds'), 'c\n');
    const child = spawn(BOCHS_BINARY(), ['-q', '-f', path.join(dir, 'bochsrc'), '-rc', path.join(dir, 'cmds')], {
      cwd: dir, stdio: ['ignore', 'pipe', 'ignore'],
    });
    const timer = timeoutMs > 0 ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : null;
    let pending = '';
    child.stdout.on('data', (b: Buffer) => {
      pending += b.toString('latin1');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line.replace(/\r$/, ''));
    });
    const code = await new Promise<number>((resolve) => {
      child.on('error', (e) => { onLine(`cannot run ${BOCHS_BINARY()}: ${e.message}`); resolve(127); });
      child.on('close', (c) => resolve(c ?? 137));
    });
    if (timer !== null) clearTimeout(timer);
    if (pending !== '') onLine(pending);
    return { code, log: whyInLog(log) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
