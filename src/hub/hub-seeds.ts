/**
 * The seed corpus of a hub campaign (`fuzz --hub ... --corpus DIR`): read once by the machine that
 * creates the campaign, stored on the hub with its metadata (hub-campaign.ts), and the start of
 * every machine's merged state, whatever corpus directory (or none) the others are given.
 * Contract: the seeds are what a local campaign with `--corpus DIR` starts from, the same way: the
 * traces of DIR of the campaign's mode in name order (fuzz/corpus.ts `Corpus.load`), each run once
 * on the built-in machine for the coverage it reaches (none on an external target, which a local
 * campaign does not run seeds on either). `seedsTag` names them in the campaign's spec
 * (`<count>:<16 hex of the SHA-256 of their content addresses in order>`), so a machine bringing
 * other seeds is refused and one bringing none takes the campaign's.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { runWith, type Target } from '../check/runner.js';
import { Corpus } from '../fuzz/corpus.js';
import { Coverage } from '../fuzz/coverage.js';
import { configMode, type MachineConfig } from '../hw/config.js';
import { HubError } from './hub-error.js';
import type { SeedCorpus } from './hub-messages.js';

export interface LoadedSeeds {
  seeds: SeedCorpus;
  /** Files that did not decode, and traces of the other mode left out (as a local campaign says). */
  skipped: number;
  ignored: number;
}

export function seedsTag(seeds: SeedCorpus): string {
  const h = createHash('sha256');
  for (const e of seeds.entries) h.update(e.hash).update('\n');
  return `${seeds.entries.length}:${h.digest('hex').slice(0, 16)}`;
}

/** Reads DIR as a local campaign with `--corpus DIR` would (its config's mode; `external`: no seed is run). */
export function loadSeeds(dir: string, config: MachineConfig, target: Target, external: boolean): LoadedSeeds {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new HubError(`--corpus: ${dir} is not a directory (with --hub it holds the seed traces the campaign starts from)`);
  const mode = configMode(config);
  const corpus = new Corpus(dir);
  corpus.load((t) => configMode(t.machine) === mode);
  const coverage = new Coverage();
  if (!external) {
    for (const e of corpus.entries) {
      coverage.beginRun();
      runWith(e.trace, target, { observer: coverage });
    }
  }
  return { seeds: { entries: corpus.entries.slice(), features: coverage.features() }, skipped: corpus.skipped, ignored: corpus.ignored };
}
