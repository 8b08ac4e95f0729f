/**
 * The campaign's stats registry: one set of counters feeding the status line, the key/value stats
 * file, the append-only plot CSV and the resume state.
 * Contract: the only place in the fuzz engine that reads the clock for reporting; nothing it
 * computes reaches a crash file or a trace (time belongs to stats files only). Counters marked
 * `persist` continue across a resumed campaign (state.ts saves and restores them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { appendLine, writeFileAtomic } from './atomic.js';
import { EPTFUZZ_VERSION } from '../gen/generate.js';

/** `45s`, `3m05s`, `2h10m`, `3d04h`: a duration for people, to the second below an hour. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

/** What the status line shows besides the counters, and the room it has. */
export interface StatusOptions {
  /** Time left by the campaign's budget (runs or duration), ms; null when open-ended or unknown. */
  leftMs?: number | null;
  /** Terminal width: parts are dropped, least useful first, so the line never wraps. */
  columns?: number;
}

/**
 * Status-line parts in the order they are dropped when the terminal is too narrow: the counts a
 * user watches (execs, crashes, time left) stay longest.
 */
const STATUS_DROP_ORDER = ['stability', 'last-find', 'ops', 'corpus', 'minimizing', 'cov'] as const;

export interface StatDef {
  name: string;
  doc: string;
  /** Carried over when a campaign resumes from the same --out (else recomputed at start). */
  persist: boolean;
}

/** Every stat, declared once with its meaning (syzkaller's stat.New). */
export const STAT_DEFS: readonly StatDef[] = [
  { name: 'runs', doc: 'traces executed (execs), all sessions', persist: true },
  { name: 'ops', doc: 'ops executed with all checks on, all sessions', persist: true },
  { name: 'generated', doc: 'traces generated from scratch', persist: true },
  { name: 'mutated', doc: 'traces mutated from the corpus', persist: true },
  { name: 'coverage', doc: 'distinct semantic coverage features reached', persist: false },
  { name: 'corpus', doc: 'traces in the in-memory corpus', persist: false },
  { name: 'crashes_unique', doc: 'distinct failure signatures this campaign found, all sessions', persist: true },
  { name: 'crashes_total', doc: 'failing runs, all signatures, all sessions', persist: true },
  { name: 'shrink_steps', doc: 'minimizer predicate evaluations', persist: true },
  { name: 'minimize_pending', doc: 'new signatures waiting for background minimization', persist: false },
  { name: 'stability_checked', doc: 'traces re-executed by the determinism self-check', persist: true },
  { name: 'stability_mismatches', doc: 're-executions whose outcomes differed (harness.nondeterminism)', persist: true },
  { name: 'last_find_run', doc: 'run index of the last new coverage or new signature (-1: none)', persist: true },
];

export const PLOT_COLUMNS = ['elapsed_s', 'runs', 'ops', 'ops_per_s', 'coverage', 'corpus', 'crashes_unique', 'crashes_total', 'stability_pct'];

export class Stats {
  readonly values = new Map<string, number>(STAT_DEFS.map((d) => [d.name, 0]));
  readonly startMs: number;
  /** Elapsed time of earlier sessions (resume). */
  elapsedBeforeMs = 0;
  /** Ops and runs when this session started (for this session's rates). */
  private opsAtStart = 0;
  private runsAtStart = 0;
  /** Session time of the last find, or null. */
  private lastFindMs: number | null = null;
  /** Free-form labels shown in the stats file (workers, shard, seed). */
  readonly labels = new Map<string, string>();
  private readonly cpuAtStart: NodeJS.CpuUsage;

  constructor(private readonly now: () => number = Date.now) {
    this.startMs = now();
    this.cpuAtStart = process.cpuUsage();
    this.values.set('last_find_run', -1);
  }

  /** CPU time of this process (every thread) during this session. */
  cpuMs(): number {
    const u = process.cpuUsage(this.cpuAtStart);
    return (u.user + u.system) / 1000;
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

  /** Continues from a saved state: persisted counters and earlier elapsed time. */
  restore(counters: Readonly<Record<string, number>>, elapsedMs: number): void {
    for (const d of STAT_DEFS) {
      const v = counters[d.name];
      if (d.persist && typeof v === 'number' && Number.isFinite(v)) this.values.set(d.name, v);
    }
    this.elapsedBeforeMs = Math.max(0, elapsedMs);
    this.opsAtStart = this.get('ops');
    this.runsAtStart = this.get('runs');
  }

  /** The persisted counters. */
  persisted(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const d of STAT_DEFS) if (d.persist) out[d.name] = this.get(d.name);
    return out;
  }

  /** A find (new coverage or new signature) at `run`. */
  found(run: number): void {
    this.set('last_find_run', run);
    this.lastFindMs = this.elapsedMs();
  }

  /** This session's elapsed time. */
  elapsedMs(): number {
    return this.now() - this.startMs;
  }

  totalElapsedMs(): number {
    return this.elapsedBeforeMs + this.elapsedMs();
  }

  sessionOps(): number {
    return this.get('ops') - this.opsAtStart;
  }

  sessionRuns(): number {
    return this.get('runs') - this.runsAtStart;
  }

  /** This session's ops per second. */
  opsPerSecond(): number {
    const s = this.elapsedMs() / 1000;
    return s > 0 ? this.sessionOps() / s : 0;
  }

  runsPerSecond(): number {
    const s = this.elapsedMs() / 1000;
    return s > 0 ? this.sessionRuns() / s : 0;
  }

  /** Share of re-executed traces whose outcomes matched, in percent (100 when none checked yet). */
  stabilityPct(): number {
    const checked = this.get('stability_checked');
    return checked === 0 ? 100 : (100 * (checked - this.get('stability_mismatches'))) / checked;
  }

  private lastFindText(): string {
    if (this.lastFindMs === null) return this.get('last_find_run') >= 0 ? `run ${this.get('last_find_run')}` : 'none';
    return `${Math.round((this.elapsedMs() - this.lastFindMs) / 1000)}s ago`;
  }

  /**
   * One line for the terminal: `[elapsed, left] execs ... | corpus cov | crashes | last find |
   * stability | minimizing`. With `columns`, parts are dropped (STATUS_DROP_ORDER) until the line
   * fits in columns - 1 (the last column would wrap on some terminals), then it is cut.
   */
  statusLine(opts: StatusOptions = {}): string {
    const s = Math.floor(this.elapsedMs() / 1000);
    const left = opts.leftMs == null ? '' : `, ${formatSeconds(opts.leftMs / 1000)} left`;
    const head = `[${s}s${left}]`;
    const groups: Array<Array<[string, string]>> = [
      [['execs', `execs ${this.get('runs')} (${Math.round(this.runsPerSecond())}/s)`], ['ops', `ops ${this.get('ops')} (${Math.round(this.opsPerSecond())}/s)`]],
      [['corpus', `corpus ${this.get('corpus')}`], ['cov', `cov ${this.get('coverage')}`]],
      [['crashes', `crashes ${this.get('crashes_unique')} unique / ${this.get('crashes_total')}`]],
      [['last-find', `last find ${this.lastFindText()}`]],
      [['stability', `stability ${this.stabilityPct().toFixed(1)}%`]],
    ];
    if (this.get('minimize_pending') > 0) groups.push([['minimizing', `minimizing ${this.get('minimize_pending')}`]]);
    const render = (): string => `${head} ${groups.filter((g) => g.length > 0).map((g) => g.map(([, t]) => t).join(' ')).join(' | ')}`;
    const room = opts.columns === undefined ? Number.POSITIVE_INFINITY : Math.max(10, opts.columns - 1);
    let line = render();
    for (const drop of STATUS_DROP_ORDER) {
      if (line.length <= room) break;
      for (const g of groups) {
        const i = g.findIndex(([k]) => k === drop);
        if (i >= 0) g.splice(i, 1);
      }
      line = render();
    }
    return line.length <= room ? line : line.slice(0, room);
  }

  /**
   * `name: value` lines (AFL's fuzzer_stats): rates and counters, then when and by whom (start and
   * last update in UTC, the writing process, the eptfuzz version), then the labels.
   */
  keyValue(): string {
    const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const lines = [
      `start_time: ${iso(this.startMs)}`,
      `last_update: ${iso(this.now())}`,
      `pid: ${process.pid}`,
      `eptfuzz_version: ${EPTFUZZ_VERSION}`,
      `elapsed_s: ${(this.totalElapsedMs() / 1000).toFixed(1)}`,
      `session_elapsed_s: ${(this.elapsedMs() / 1000).toFixed(1)}`,
      `ops_per_s: ${Math.round(this.opsPerSecond())}`,
      `cpu_s: ${(this.cpuMs() / 1000).toFixed(1)}`,
      `ops_per_cpu_s: ${Math.round(this.sessionOps() / Math.max(this.cpuMs() / 1000, 1e-3))}`,
      `execs_per_s: ${Math.round(this.runsPerSecond())}`,
      `stability_pct: ${this.stabilityPct().toFixed(2)}`,
      `last_find_s_ago: ${this.lastFindMs === null ? -1 : Math.round((this.elapsedMs() - this.lastFindMs) / 1000)}`,
    ];
    for (const d of STAT_DEFS) lines.push(`${d.name}: ${this.get(d.name)}`);
    for (const [k, v] of this.labels) lines.push(`${k}: ${v}`);
    return lines.join('\n') + '\n';
  }

  plotRow(): string {
    return [
      (this.totalElapsedMs() / 1000).toFixed(1), this.get('runs'), this.get('ops'), Math.round(this.opsPerSecond()),
      this.get('coverage'), this.get('corpus'), this.get('crashes_unique'), this.get('crashes_total'), this.stabilityPct().toFixed(2),
    ].join(',');
  }

  /** Writes `<dir>/stats` (atomic) and appends a row to `<dir>/plot.csv` (header when new). */
  writeFiles(dir: string): void {
    writeFileAtomic(path.join(dir, 'stats'), this.keyValue(), { durable: false });
    const plot = path.join(dir, 'plot.csv');
    if (!fs.existsSync(plot)) appendLine(plot, PLOT_COLUMNS.join(','));
    appendLine(plot, this.plotRow());
  }
}
