/**
 * Gathers what `eptfuzz report` shows: the campaigns' stats directories (and campaigns read
 * elsewhere, a hub's: `moreCampaigns`), their crash stores, the crash list across them, the merged
 * rule coverage and each crash's decoded replay.
 * Contract: every input is read and validated before anything is written (ReportInputError: one
 * line). The decoded replay comes from `explain` (the CLI passes `eptfuzz replay --verbose`, so
 * the report shows exactly what that command prints); repros longer than EXPLAIN_OPS_MAX ops or
 * texts longer than EXPLAIN_CHARS_MAX are linked, not embedded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listCrashes } from '../fuzz/crash-list.js';
import { notACrashStore } from '../fuzz/store-kind.js';
import { crashStoreOf, readCampaign, type CampaignFiles } from './campaign-files.js';
import { ReportInputError } from './input-error.js';
import type { CrashExplanation, ReportInput } from './html.js';
import { plotLibrary } from './plot-library.js';
import { mergeRuleCoverage } from './rule-coverage-file.js';

/** Repros up to this many ops are replayed into the page (a minimized repro has a few dozen). */
export const EXPLAIN_OPS_MAX = 2000;
/** Per crash: a verbose replay beyond this is cut (the command line prints the whole of it). */
export const EXPLAIN_CHARS_MAX = 200_000;

export interface ReportOptions {
  outDirs: readonly string[];
  /** Crash stores given on the command line; empty: each campaign's own (crashStoreOf). */
  crashDirs: readonly string[];
  generatedAt: string;
  eptfuzzVersion: string;
  /** `eptfuzz replay --verbose FILE`: its output. */
  explain: (file: string) => Promise<string>;
  /** Called after each crash is explained (progress). */
  onCrash?: (done: number, total: number) => void;
  /** Campaigns read elsewhere (a hub campaign: hub-campaign-files.ts), shown after the local ones. */
  moreCampaigns?: readonly CampaignFiles[];
  /** Crash stores of those campaigns (a hub campaign's, pulled into a temporary directory). */
  moreStores?: readonly string[];
  /** How a path inside `moreStores` is shown on the page (the temporary directory is gone after). */
  show?: (text: string) => string;
}

function storesFor(campaigns: readonly CampaignFiles[], given: readonly string[]): string[] {
  if (given.length > 0) {
    for (const d of given) {
      const why = notACrashStore(d);
      if (why !== null) throw new ReportInputError(`--crashes ${why}`);
    }
    return [...new Set(given)];
  }
  const found = campaigns.map(crashStoreOf).filter((d): d is string => d !== null && notACrashStore(d) === null);
  return [...new Set(found.map((d) => path.resolve(d)))];
}

export async function buildReport(o: ReportOptions): Promise<ReportInput> {
  const local = o.outDirs.map(readCampaign);
  const campaigns = [...local, ...(o.moreCampaigns ?? [])];
  const stores = [...storesFor(local, o.crashDirs), ...(o.moreStores ?? [])];
  const { rows } = listCrashes(stores);
  const withCoverage = campaigns.filter((c) => c.ruleCoverage !== null);
  const explanations = new Map<string, CrashExplanation>();
  for (const [i, row] of rows.entries()) {
    const file = path.join(row.dir, 'repro.msgpack');
    if (!fs.existsSync(file)) explanations.set(row.hash, { file, text: null, why: 'no repro.msgpack' });
    else if (row.reproOps === null) explanations.set(row.hash, { file, text: null, why: 'the repro does not decode' });
    else if (row.reproOps > EXPLAIN_OPS_MAX) explanations.set(row.hash, { file, text: null, why: `the repro has ${row.reproOps} ops (more than ${EXPLAIN_OPS_MAX} are not embedded)` });
    else {
      const text = await o.explain(file);
      explanations.set(row.hash, { file, text: text.length <= EXPLAIN_CHARS_MAX ? text : `${text.slice(0, EXPLAIN_CHARS_MAX)}\n... (cut at ${EXPLAIN_CHARS_MAX} characters)` });
    }
    o.onCrash?.(i + 1, rows.length);
  }
  const show = o.show ?? ((t: string): string => t);
  for (const [hash, e] of explanations) explanations.set(hash, { ...e, file: show(e.file), text: e.text === null ? null : show(e.text) });
  return {
    generatedAt: o.generatedAt,
    eptfuzzVersion: o.eptfuzzVersion,
    campaigns,
    ruleCoverage: mergeRuleCoverage(withCoverage.map((c) => c.ruleCoverage!)),
    ruleCoverageMissing: withCoverage.length === 0 ? [] : campaigns.filter((c) => c.ruleCoverage === null).map((c) => c.dir),
    crashStores: stores.map(show),
    crashes: rows.map((r) => ({ ...r, dir: show(r.dir), dirs: r.dirs.map(show) })),
    explanations,
    library: plotLibrary(),
  };
}
