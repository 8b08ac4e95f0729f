/**
 * `eptfuzz export TRACE --image OUT [--run]`: writes a bootable disk image that runs the trace
 * with the guest agent and prints, per step, the outcomes the model allows next to the actual one,
 * then PASS or FAIL (src/target/bochs/export.ts). `--target bochs` (default: the agent as a VMM,
 * for machines with VMX) or `qemu` (direct mode, for any x86-64 machine or emulator) chooses the
 * agent's mode and the configuration the expectations follow; `--run` boots the image in that
 * emulator at once and shows the report. Contract: the trace must be runnable on the target's
 * profile (one line and exit 2 otherwise); the image is written atomically; exit 0, or with
 * `--run` 1 when the image reports FAIL.
 */
import { Command } from 'commander';
import * as fs from 'node:fs';
import { writeFileAtomic } from '../../fuzz/atomic.js';
import { loadTrace } from '../../trace/load.js';
import { onTarget, runnableOn } from '../../target/domain.js';
import { BOCHS_PROFILE } from '../../target/bochs/profile.js';
import { QEMU_PROFILE } from '../../target/qemu/profile.js';
import { agentImagePath } from '../../target/bochs/image.js';
import { exportImage, stepMap } from '../../target/bochs/export.js';
import { bootBochs } from '../../target/bochs/boot.js';
import { bootQemu } from '../../target/qemu/boot.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import type { Io } from '../io.js';

interface ExportFlags { image: string; run: boolean; target: string }

const EXPORT_TARGETS = { bochs: { profile: BOCHS_PROFILE, boot: bootBochs }, qemu: { profile: QEMU_PROFILE, boot: bootQemu } } as const;

/** Lines of the agent's report worth showing (its expectation lines and the verdict). */
const REPORT = /^(step |PASS|FAIL|agent:)/;

export function exportCommand(io: Io, setExit: (code: ExitCode) => void): Command {
  return new Command('export')
    .description('write a bootable image that runs a trace on any machine or emulator with VMX and prints expected vs actual outcomes and PASS/FAIL')
    .argument('<trace>', 'trace file (msgpack, text or JSON)')
    .requiredOption('--image <file>', 'where to write the disk image (raw, BIOS-bootable)')
    .option('--target <name>', 'bochs: the agent as a VMM (needs VMX); qemu: direct mode, guest paging only (any x86-64)', 'bochs')
    .option('--run', 'boot the image in that emulator now and print its report', false)
    .addHelpText('after', [
      '', 'Examples:',
      '  $ eptfuzz export bochs-crashes/<hash>/repro.msgpack --image repro.img --run',
      '  $ qemu-system-x86_64 -accel kvm -cpu host,+vmx -m 512 -drive file=repro.img,format=raw -serial stdio -display none',
      '  $ eptfuzz export qemu-crashes/<hash>/repro.msgpack --target qemu --image q.img --run',
      '', 'The report goes to port 0xE9 (Bochs, QEMU -debugcon) and to COM1 (QEMU -serial, a serial console on bare metal).', '',
    ].join('\n'))
    .action(async (file: string, flags: ExportFlags) => {
      const chosen = EXPORT_TARGETS[flags.target as keyof typeof EXPORT_TARGETS];
      if (chosen === undefined) throw new UsageError(`--target: expected bochs or qemu, got '${flags.target}'`);
      const profile = chosen.profile;
      const { trace, changes } = onTarget(loadTrace(file), profile);
      const why = runnableOn(trace, profile);
      if (why !== null) throw new UsageError(`${file}: ${why}`);
      if (changes.length > 0) io.err(`note: ${file} is exported under the agent's configuration (${changes.join(', ')})\n`);
      let agent: Uint8Array;
      try {
        agent = fs.readFileSync(agentImagePath());
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const image = exportImage(trace, agent, profile);
      writeFileAtomic(flags.image, image);
      writeFileAtomic(`${flags.image}.steps.txt`, stepMap(trace, profile));
      io.out(`wrote ${flags.image} (${image.length} bytes): the agent and ${trace.ops.length} ops with the model's expected outcomes; its step numbers: ${flags.image}.steps.txt\n`);
      if (!flags.run) { setExit(EXIT.ok); return; }
      let verdict: 'PASS' | 'FAIL' | null = null;
      const { code, log } = await chosen.boot(flags.image, (line) => {
        if (!REPORT.test(line)) return;
        io.out(line + '\n');
        if (line.startsWith('PASS')) verdict = 'PASS';
        if (line.startsWith('FAIL')) verdict = 'FAIL';
      }, 120_000);
      if (verdict === null) throw new UsageError(`the image did not report PASS or FAIL under ${flags.target} (exit ${code}${log === '' ? '' : `: ${log}`})`);
      setExit(verdict === 'FAIL' ? EXIT.failure : EXIT.ok);
    });
}
