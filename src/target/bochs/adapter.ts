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
 * The work is src/target/agent-adapter.ts's, shared with the QEMU adapter.
 */
import { adapterMain, runAgentBatch } from '../agent-adapter.js';
import { bootBochs } from './boot.js';
import { BOCHS_PROFILE } from './profile.js';

process.exitCode = await adapterMain(process.argv.slice(2), BOCHS_PROFILE,
  (batchFile) => runAgentBatch(batchFile, (disk, onLine) => bootBochs(disk, onLine), 'bochs', 'EPTFUZZ_BOCHS_CORRUPT'));
