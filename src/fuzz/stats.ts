/**
 * The campaign's stats registry: one set of counters feeding the status line, the key/value stats
 * file and the append-only plot CSV.
 * Contract: the only place in the fuzz engine that reads the clock for reporting; nothing it
 * computes reaches a crash file or a trace (time belongs to stats files only).
 */
import * as path from 'node:path';
import { appendLine, writeFileAtomic } from './atomic.js';
import * as fs from 'node:fs';

export interface StatDef {
  name: string;
  doc: string;
}

/** Every stat, declared once with its meaning (syzkaller's stat.New). */
export const STAT_DEFS: readonly StatDef[] = [
  { name: 'runs', doc: 'traces executed' },
  { name: 'ops', doc: 'ops executed (all checks on)' },
  { name: 'generated', doc: 'traces generated from scratch' },
  { name: 'mutated', doc: 'traces mutated from the corpus' },
  { name: 'coverage', doc: 'distinct semantic coverage features reached' },
  { name: 'corpus', doc: 'traces in the in-memory corpus' },
  { name: 'crashes_unique', doc: 'distinct failure signatures found' },
  { name: 'crashes_total', doc: 'failing runs, all signatures' },
  { name: 'shrink_steps', doc: 'minimizer predicate evaluations' },
];

export const PLOT_COLUMNS = ['elapsed_s', 'runs', 'ops', 'ops_per_s', 'coverage', 'corpus', 'crashes_unique', 'crashes_total'];

export class Stats {
  readonly values = new Map<string, number>(STAT_DEFS.map((d) => [d.name, 0]));
  readonly startMs: number;

  constructor(private readonly now: () => number = Date.now) {
    this.startMs = now();
  }

  add(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  set(name: string, value: number): void {
    this.values.set(name, value);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  elapsedMs(): number {
    return this.now() - this.startMs;
  }

  opsPerSecond(): number {
    const s = this.elapsedMs() / 1000;
    return s > 0 ? this.get('ops') / s : 0;
  }

  /** One line for the terminal. */
  statusLine(): string {
    const s = Math.floor(this.elapsedMs() / 1000);
    return `[${s}s] runs ${this.get('runs')} ops ${this.get('ops')} (${Math.round(this.opsPerSecond())}/s) `
      + `cov ${this.get('coverage')} corpus ${this.get('corpus')} crashes ${this.get('crashes_unique')} unique / ${this.get('crashes_total')} total`;
  }

  /** `name: value` lines (AFL's fuzzer_stats). */
  keyValue(): string {
    const lines = [`elapsed_s: ${(this.elapsedMs() / 1000).toFixed(1)}`, `ops_per_s: ${Math.round(this.opsPerSecond())}`];
    for (const d of STAT_DEFS) lines.push(`${d.name}: ${this.get(d.name)}`);
    return lines.join('\n') + '\n';
  }

  plotRow(): string {
    return [
      (this.elapsedMs() / 1000).toFixed(1), this.get('runs'), this.get('ops'), Math.round(this.opsPerSecond()),
      this.get('coverage'), this.get('corpus'), this.get('crashes_unique'), this.get('crashes_total'),
    ].join(',');
  }

  /** Writes `<dir>/stats` (atomic) and appends a row to `<dir>/plot.csv` (header when new). */
  writeFiles(dir: string): void {
    writeFileAtomic(path.join(dir, 'stats'), this.keyValue());
    const plot = path.join(dir, 'plot.csv');
    if (!fs.existsSync(plot)) appendLine(plot, PLOT_COLUMNS.join(','));
    appendLine(plot, this.plotRow());
  }
}
