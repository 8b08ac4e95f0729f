/**
 * The Bochs boot disk and configuration for one batch (agent/PROTOCOL.md "Disk image").
 * Contract: `diskImage` = the agent image (AGENT_SECTORS sectors) + the batch, padded to whole
 * cylinders of the geometry `bochsrc` declares (`writeDiskImage` writes the same image to a file,
 * leaving the zero tail as a hole: nothing writes it, and it reads as zeros); `agentImagePath` is EPTFUZZ_AGENT_IMAGE when set,
 * else a freshly built image (agent/build/agent.img), else the committed one
 * (agent/prebuilt/agent.img).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../root.js';

export const AGENT_SECTORS = 512;
const SECTOR = 512;
const HEADS = 16;
const SPT = 63;
const CYLINDER_BYTES = HEADS * SPT * SECTOR;

export function agentImagePath(): string {
  const given = process.env.EPTFUZZ_AGENT_IMAGE;
  if (given !== undefined && given !== '') return given;
  const root = packageRoot();
  for (const rel of ['agent/build/agent.img', 'agent/prebuilt/agent.img']) {
    const p = path.join(root, rel);
    if (fs.existsSync(p)) return p;
  }
  throw new Error('no guest agent image: build it with `npm run build:agent` (needs gcc) or restore agent/prebuilt/agent.img');
}

function cylindersFor(agent: Uint8Array, batch: Uint8Array, resultBytes: number): number {
  if (agent.length !== AGENT_SECTORS * SECTOR) throw new Error(`the agent image must be ${AGENT_SECTORS * SECTOR} bytes, got ${agent.length}`);
  const used = agent.length + Math.ceil(batch.length / SECTOR) * SECTOR + resultBytes;
  return Math.max(1, Math.ceil(used / CYLINDER_BYTES));
}

export function diskImage(agent: Uint8Array, batch: Uint8Array, resultBytes = 0): { bytes: Uint8Array; cylinders: number } {
  const cylinders = cylindersFor(agent, batch, resultBytes);
  const bytes = new Uint8Array(cylinders * CYLINDER_BYTES);
  bytes.set(agent, 0);
  bytes.set(batch, agent.length);
  return { bytes, cylinders };
}

/**
 * `diskImage` written to `file` (created or replaced): the agent and the batch, then the file
 * extended to its whole cylinders without writing the zeros (megabytes of result region per
 * batch, which the emulator then reads as zeros). Returns the cylinders.
 */
export function writeDiskImage(file: string, agent: Uint8Array, batch: Uint8Array, resultBytes = 0): number {
  const cylinders = cylindersFor(agent, batch, resultBytes);
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, agent, 0, agent.length, 0);
    fs.writeSync(fd, batch, 0, batch.length, agent.length);
    fs.ftruncateSync(fd, cylinders * CYLINDER_BYTES);
  } finally {
    fs.closeSync(fd);
  }
  return cylinders;
}

export const BOCHS_BIOS = '/usr/share/bochs/BIOS-bochs-latest';
export const BOCHS_VGA_BIOS = '/usr/share/bochs/VGABIOS-lgpl-latest';

export function bochsrc(disk: string, cylinders: number, log: string): string {
  return [
    'megs: 256',
    `romimage: file=${BOCHS_BIOS}`,
    `vgaromimage: file=${BOCHS_VGA_BIOS}`,
    // ips: emulated time runs 4x faster than the default, so the BIOS's timed waits at boot cost
    // fewer instructions (boot 17 M -> 8 M instructions); the agent uses no timer.
    'cpu: model=tigerlake, ips=1000000',
    // Debian's bochs has no nogui display: rfb that waits for no client (bochs-term's `term` also works).
    `display_library: ${process.env.BOCHS_DISPLAY ?? 'rfb, options="timeout=0"'}`,
    'speaker: enabled=0',
    // Without a dummy sound driver Bochs aborts in ALSA on machines without sound hardware.
    'sound: driver=dummy',
    'port_e9_hack: enabled=1',
    `ata0-master: type=disk, path=${disk}, mode=flat, cylinders=${cylinders}, heads=${HEADS}, spt=${SPT}`,
    'boot: disk',
    `log: ${log}`,
    'panic: action=fatal',
    '',
  ].join('\n');
}
