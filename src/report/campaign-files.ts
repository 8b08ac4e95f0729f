/**
 * Reading a campaign's stats directory (`fuzz --out OUT`) for the report: `stats` (key: value
 * lines, stats.ts), `plot.csv` (PLOT_COLUMNS, append-only, one header per file) and, when present,
 * `rule-coverage.json` (rule-coverage-file.ts).
 * Contract: a directory that is missing, holds neither `stats` nor `plot.csv`, or holds a file
 * that does not parse is refused with a ReportInputError naming the file, the line and what is
 * wrong (one line; the CLI prints it and exits 2). Nothing is written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PLOT_COLUMNS } from '../fuzz/stats.js';
import { ReportInputError } from './input-error.js';
import { readRuleCoverage, type RuleCoverage } from './rule-coverage-file.js';

/** Rows past this are thinned (every k-th kept, the last always): a week at one row per 5 s is 120,960. */
export const PLOT_ROWS_MAX = 5000;
/** A stats or plot file larger than this is not a campaign's. */
const FILE_BYTES_MAX = 256 * 1024 * 1024;

export interface PlotRow {
  elapsed_s: number;
  runs: number;
  ops: number;
  ops_per_s: number;
  coverage: number;
  corpus: number;
  crashes_unique: number;
  crashes_total: number;
  stability_pct: number;
}

export interface CampaignFiles {
  dir: string;
  /** A short name for plots and tables: `seed S shard i/n`, or the directory's name. */
  label: string;
  /** `stats` as key/value pairs (empty when the file is absent). */
  stats: Map<string, string>;
  plot: PlotRow[];
  /** null when the campaign wrote no rule-coverage.json. */
  ruleCoverage: RuleCoverage | null;
}

function readText(file: string): string {
  const st = fs.statSync(file);
  if (!st.isFile()) throw new ReportInputError(`${file}: not a file`);
  if (st.size > FILE_BYTES_MAX) throw new ReportInputError(`${file}: ${st.size} bytes, more than a campaign writes (${FILE_BYTES_MAX})`);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ReportInputError(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** `stats`: `name: value` lines. */
export function parseStats(file: string, text: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^([a-z_][a-z0-9_]*): (.*)$/.exec(line);
    if (m === null) throw new ReportInputError(`${file}:${i + 1}: expected 'name: value', got '${line.slice(0, 60)}'`);
    out.set(m[1], m[2]);
  });
  return out;
}

/** `plot.csv`: the PLOT_COLUMNS header, then rows of numbers (a resumed campaign's rows follow on). */
export function parsePlot(file: string, text: string): PlotRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const header = lines[0].trim();
  if (header !== PLOT_COLUMNS.join(',')) throw new ReportInputError(`${file}:1: expected the header '${PLOT_COLUMNS.join(',')}', got '${header.slice(0, 80)}'`);
  const rows: PlotRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(',');
    if (cells.length !== PLOT_COLUMNS.length) throw new ReportInputError(`${file}:${i + 1}: expected ${PLOT_COLUMNS.length} columns, got ${cells.length}`);
    const row: Record<string, number> = {};
    PLOT_COLUMNS.forEach((c, k) => {
      const v = Number(cells[k]);
      if (cells[k].trim() === '' || !Number.isFinite(v)) throw new ReportInputError(`${file}:${i + 1}: column ${c} is not a number ('${cells[k].slice(0, 20)}')`);
      row[c] = v;
    });
    rows.push(row as unknown as PlotRow);
  }
  return thin(rows);
}

function thin(rows: PlotRow[]): PlotRow[] {
  if (rows.length <= PLOT_ROWS_MAX) return rows;
  const k = Math.ceil(rows.length / PLOT_ROWS_MAX);
  return rows.filter((_, i) => i % k === 0 || i === rows.length - 1);
}

function labelOf(dir: string, stats: Map<string, string>): string {
  const seed = stats.get('seed');
  if (seed === undefined) return path.basename(path.resolve(dir));
  const shard = stats.get('shard');
  return `seed ${seed}${shard === undefined ? '' : ` shard ${shard}`}`;
}

/** Reads one `--out` directory; throws ReportInputError on anything it cannot use. */
export function readCampaign(dir: string): CampaignFiles {
  if (!fs.existsSync(dir)) throw new ReportInputError(`${dir}: no such directory`);
  if (!fs.statSync(dir).isDirectory()) throw new ReportInputError(`${dir}: not a directory (give a campaign's --out directory)`);
  const statsFile = path.join(dir, 'stats');
  const plotFile = path.join(dir, 'plot.csv');
  const hasStats = fs.existsSync(statsFile);
  const hasPlot = fs.existsSync(plotFile);
  if (!hasStats && !hasPlot) throw new ReportInputError(`${dir}: no stats or plot.csv; not a campaign's --out directory`);
  const stats = hasStats ? parseStats(statsFile, readText(statsFile)) : new Map<string, string>();
  const plot = hasPlot ? parsePlot(plotFile, readText(plotFile)) : [];
  return { dir, label: labelOf(dir, stats), stats, plot, ruleCoverage: readRuleCoverage(dir) };
}

/**
 * The crash stores of a campaign: the one its stats name (`crashes_dir`) when it exists, else
 * `OUT/crashes` when it exists, else none.
 */
export function crashStoreOf(c: CampaignFiles): string | null {
  const named = c.stats.get('crashes_dir');
  if (named !== undefined && fs.existsSync(named) && fs.statSync(named).isDirectory()) return named;
  const inside = path.join(c.dir, 'crashes');
  return fs.existsSync(inside) && fs.statSync(inside).isDirectory() ? inside : null;
}
