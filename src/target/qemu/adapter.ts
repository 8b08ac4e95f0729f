#!/usr/bin/env node
/**
 * The QEMU adapter: an out-of-process target command (docs/targets.md). `adapter BATCH` boots
 * QEMU (TCG) on the guest agent with BATCH on its disk and prints the agent's result lines on
 * stdout; `adapter --profile` prints the target profile (QEMU_PROFILE) as JSON.
 * Contract: as the Bochs adapter's (src/target/agent-adapter.ts does the work for both): stdout
 * carries only the agent's protocol lines; exit status 0 when the agent's `D` line came, 1
 * otherwise. EPTFUZZ_QEMU names the QEMU binary (default `qemu-system-x86_64` on PATH).
 * Test hook: EPTFUZZ_QEMU_CORRUPT=pf flips bit 0 of every #PF error code QEMU's run reports.
 */
import { adapterMain, runAgentBatch } from '../agent-adapter.js';
import { bootQemu } from './boot.js';
import { QEMU_PROFILE } from './profile.js';

process.exitCode = await adapterMain(process.argv.slice(2), QEMU_PROFILE,
  (batchFile) => runAgentBatch(batchFile, (disk, onLine) => bootQemu(disk, onLine), 'qemu', 'EPTFUZZ_QEMU_CORRUPT'));
