/**
 * Target names for `--target`: `machine` (the built-in machine, the default: it runs in-process
 * through the ordinary runner), `bochs` (Bochs through the guest agent), `qemu` (QEMU's TCG
 * through the guest agent in direct mode), and `exec:CMD` (any adapter command that speaks
 * docs/targets.md; its profile comes from `CMD --profile`).
 * Contract: `resolveExternal` returns null for the built-in machine and throws a one-line
 * TargetSetupError for a name it does not know or a command whose profile cannot be read.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeConfig } from '../hw/config.js';
import { BOCHS_PROFILE } from './bochs/profile.js';
import type { ExternalTarget } from './external.js';
import { QEMU_PROFILE } from './qemu/profile.js';
import type { TargetProfile } from './profile.js';

export class TargetSetupError extends Error {}

export const TARGET_CHOICES = ['machine', 'bochs', 'qemu', 'exec:CMD'] as const;

/** The node command that runs a module of this package (compiled, or through tsx from src/). */
function nodeModuleCommand(rel: string): string[] {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  const file = path.join(path.dirname(here), rel + ext);
  return ext === '.ts' ? [process.execPath, '--import', 'tsx', file] : [process.execPath, file];
}

export function bochsTarget(): ExternalTarget {
  return { profile: BOCHS_PROFILE, command: nodeModuleCommand('bochs/adapter') };
}

export function qemuTarget(): ExternalTarget {
  return { profile: QEMU_PROFILE, command: nodeModuleCommand('qemu/adapter') };
}

function readProfile(command: string[]): TargetProfile {
  let text: string;
  try {
    text = execFileSync(command[0], [...command.slice(1), '--profile'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new TargetSetupError(`${command.join(' ')} --profile failed: ${(e as Error).message.split('\n')[0]}`);
  }
  let raw: Partial<TargetProfile>;
  try {
    raw = JSON.parse(text) as Partial<TargetProfile>;
  } catch {
    throw new TargetSetupError(`${command.join(' ')} --profile did not print JSON`);
  }
  if (typeof raw.name !== 'string' || typeof raw.config !== 'object' || raw.config === null || !Array.isArray(raw.accessSizes) || typeof raw.reserved !== 'object') {
    throw new TargetSetupError(`${command.join(' ')} --profile: missing name, config, accessSizes or reserved`);
  }
  return {
    name: raw.name,
    description: String(raw.description ?? ''),
    config: normalizeConfig(raw.config),
    accessSizes: raw.accessSizes,
    unsupportedOps: raw.unsupportedOps ?? [],
    cr0MustSet: raw.cr0MustSet ?? 0,
    cr4MaySet: raw.cr4MaySet ?? 0xffffffff,
    reserved: { hpa: raw.reserved?.hpa ?? [], gpa: raw.reserved?.gpa ?? [], la: raw.reserved?.la ?? [] },
    ...(raw.agentMode === 'direct' ? { agentMode: 'direct' as const } : {}),
    ...(typeof raw.batchTimeout?.baseMs === 'number' && typeof raw.batchTimeout.perOpMs === 'number' ? { batchTimeout: { baseMs: raw.batchTimeout.baseMs, perOpMs: raw.batchTimeout.perOpMs } } : {}),
  };
}

/** The external target a `--target` value names, or null for the built-in machine. */
export function resolveExternal(name: string): ExternalTarget | null {
  if (name === 'machine') return null;
  if (name === 'bochs') return bochsTarget();
  if (name === 'qemu') return qemuTarget();
  if (name.startsWith('exec:')) {
    const command = name.slice(5).trim().split(/\s+/).filter((s) => s.length > 0);
    if (command.length === 0) throw new TargetSetupError('--target exec: needs a command, e.g. exec:./my-adapter');
    return { profile: readProfile(command), command };
  }
  throw new TargetSetupError(`--target: expected machine, bochs, qemu or exec:CMD, got '${name}'`);
}
