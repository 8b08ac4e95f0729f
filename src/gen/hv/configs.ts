/**
 * Machine configurations a hv campaign varies per epoch (as src/gen/configs.ts does for bare
 * mode): the pKVM source profile, the memory-fault flags, the memory caches, huge pages, the VTL flag encodings and
 * non-RAM status, the RWX attribute extension, the XO design, the number of VTLs and of vCPUs,
 * so that paths behind any of them are reachable from the default command line.
 * Contract: `hvEpochConfig(base, root, epoch)` is a pure function of its arguments (its own
 * streams `<root>/hvconfigs` and `<root>/hvconfig<epoch>`). Epoch 0 is `base` itself. Planted
 * bugs, framesMax and the pool are kept; an option `base` sets explicitly to a non-default value is kept.
 */
import { hostEptFrames, normalizeConfig, type MachineConfig } from '../../hw/config.js';
import { Rng } from '../rng.js';

/** VTL counts tried (2 is the TLFS's implemented number; 3 and 4 reach the "nearest higher VTL" paths). */
export const HV_VTL_CHOICES: readonly number[] = [2, 2, 3, 4];
/** vCPU counts tried (the generator's workload needs at least 2). */
export const HV_VCPU_CHOICES: readonly number[] = [2, 2, 3, 4];

/**
 * The profile alternates every epoch (phase drawn once per campaign), so a short campaign meets
 * both; every other option is drawn per epoch, leaning to the default.
 */
export function hvEpochConfig(base: MachineConfig, root: string, epoch: number): MachineConfig {
  if (epoch <= 0 || base.hv === undefined) return base;
  const phase = new Rng(`${root}/hvconfigs`).int(2);
  const rng = new Rng(`${root}/hvconfig${epoch}`);
  const hv = base.hv;
  const arm64 = (epoch + phase) % 2 === 0;
  const kvmXo = base.kvmXo && !rng.chance(0.25);
  return normalizeConfig({
    ...base,
    vcpus: rng.pick(HV_VCPU_CHOICES),
    kvmXo,
    bugs: [...base.bugs],
    hv: {
      ...hv,
      pkvm: hv.pkvm ?? (arm64 ? 'arm64' : 'x86-rfc'),
      memFaultFlags: hv.memFaultFlags ?? (rng.chance(0.3) ? 'upstream' : 'vsm'),
      // Without huge pages the host EPT needs a page table per 2 MiB: only when the pool has room.
      hugePages: hv.hugePages && !(rng.chance(0.25) && hv.poolFrames >= hostEptFrames(base.framesMax - hv.poolFrames, false) + 8),
      vtlExecBits: hv.vtlExecBits !== 'hv_map_gpa' ? hv.vtlExecBits : rng.chance(0.3) ? 'vsm_mask' : 'hv_map_gpa',
      vtlNonRam: hv.vtlNonRam !== 'tlfs' ? hv.vtlNonRam : rng.chance(0.3) ? 'openhcl' : 'tlfs',
      memattrRwx: hv.memattrRwx && !rng.chance(0.2),
      vtls: hv.vtls !== 2 ? hv.vtls : rng.pick(HV_VTL_CHOICES),
      // Per-VM memory caches need a page-granular host EPT: only when the pool has room (drawn
      // last, so the earlier draws of an epoch stay as they were).
      memcache: hv.memcache ?? (rng.chance(0.35) && hv.poolFrames >= hostEptFrames(base.framesMax - hv.poolFrames, false) + 8 ? 'vm' : undefined),
    },
  });
}
