/**
 * Machine configurations a bare-mode campaign varies per epoch: the KVM XO design on or off,
 * MAXPHYADDR, capability toggles and the PK divergence choice, so that bugs which only exist under
 * one configuration (the XO #PF, reserved-bit boundaries, the absence of A/D or 1 GiB pages) are
 * reachable from the default command line.
 * Contract: `epochConfig(base, root, epoch)` is a pure function of its arguments (its own stream
 * `<root>/config<epoch>`): the same seed gives the same configurations. Epoch 0 is `base` itself
 * (so every campaign starts on the configuration it was given, like the balanced weights). The
 * planted bugs, vcpus and framesMax of `base` are kept; hv-mode bases vary their hypervisor
 * options instead (src/gen/hv/configs.ts).
 */
import { configMode, type MachineConfig } from '../hw/config.js';
import { Rng } from './rng.js';
import { hvEpochConfig } from './hv/configs.js';

/** MAXPHYADDR values tried: the minimum, a common small one, the default, the maximum. */
export const MAXPHYADDR_CHOICES: readonly number[] = [36, 39, 46, 52];
/** Probability that an epoch switches one toggled capability off. */
export const CAP_OFF_PROBABILITY = 0.2;
/** Capabilities an epoch may switch off (the others stay as the base has them). */
export const VARIED_CAPS = ['eptExecOnly', 'mbec', 'eptAD', 'page1G', 'advExitInfo'] as const;

/**
 * Every second epoch runs the KVM XO design and MAXPHYADDR cycles through MAXPHYADDR_CHOICES
 * (phases drawn once per campaign), so a short campaign meets each; the capability toggles and
 * the PK choice are drawn per epoch.
 */
export function epochConfig(base: MachineConfig, root: string, epoch: number): MachineConfig {
  if (configMode(base) === 'hv') return hvEpochConfig(base, root, epoch);
  if (epoch <= 0) return base;
  const phases = new Rng(`${root}/configs`);
  const xoPhase = phases.int(2);
  const phyPhase = phases.int(MAXPHYADDR_CHOICES.length);
  const rng = new Rng(`${root}/config${epoch}`);
  const kvmXo = base.kvmXo || (epoch + xoPhase) % 2 === 0;
  const caps = { ...base.caps, invvpidTypes: [...base.caps.invvpidTypes] as MachineConfig['caps']['invvpidTypes'] };
  for (const cap of VARIED_CAPS) {
    const off = rng.chance(CAP_OFF_PROBABILITY);
    if (off && !(cap === 'eptExecOnly' && kvmXo)) caps[cap] = false; // kvmXo needs execute-only EPT
  }
  return {
    ...base,
    maxPhyAddr: MAXPHYADDR_CHOICES[(epoch + phyPhase) % MAXPHYADDR_CHOICES.length],
    caps,
    kvmXo: kvmXo && caps.eptExecOnly,
    choices: { ...base.choices, pkOnUserToSupervisor: rng.chance(0.3) ? 'qemu' : base.choices.pkOnUserToSupervisor },
    bugs: [...base.bugs],
  };
}

/**
 * The campaign epoch of a run stream named `<root>/run<r>` (protocol.ts: run r draws from that
 * stream), with the epoch length `epochRuns`; null for any other stream (tests, hand-made rngs).
 */
export function runStreamEpoch(seed: string, epochRuns: number): { root: string; epoch: number } | null {
  const m = /^(.*)\/run(\d+)$/.exec(seed);
  if (m === null) return null;
  return { root: m[1], epoch: Math.floor(Number(m[2]) / epochRuns) };
}
