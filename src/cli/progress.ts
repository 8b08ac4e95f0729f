/**
 * Progress of long commands (minimize, corpus minimize and merge, replay of many files, report):
 * one line on stderr, rewritten in place: `label  done/total (pct%)  rate/s  time left`.
 * Contract: shown only when stderr is a terminal (scripts and CI logs get nothing), no more often
 * than REDRAW_MS_MIN, never before SHOW_AFTER_MS (a command that ends at once prints nothing),
 * fitted to the terminal's width, and cleared before any other output: `io()` returns an Io
 * whose writes clear the line first, so results never land in the middle of it. `end()` clears
 * it for good. The clock is injectable (tests).
 */
import { formatSeconds } from '../fuzz/stats.js';
import { columnsOf, type Io } from './io.js';

/** Below this a command is quick enough that a progress line is only flicker. */
export const SHOW_AFTER_MS = 500;
/** Redraws at most this often: a terminal write per step would cost more than the step. */
export const REDRAW_MS_MIN = 100;

export class Progress {
  private done = 0;
  private shown = false;
  private ended = false;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private readonly start: number;

  constructor(private readonly target: Io, private readonly label: string, private total: number, private readonly unit = '', private readonly now: () => number = Date.now) {
    this.start = now();
  }

  /** The Io to write results through while this progress line may be on screen. */
  io(): Io {
    return {
      out: (t) => { this.clear(); this.target.out(t); },
      err: (t) => { this.clear(); this.target.err(t); },
      errIsTTY: this.target.errIsTTY,
      ...(this.target.errColumns === undefined ? {} : { errColumns: this.target.errColumns }),
    };
  }

  /** `n` more units done (of `total`, which may be revised). */
  tick(n = 1, total?: number): void {
    this.done += n;
    if (total !== undefined) this.total = total;
    this.maybeDraw();
  }

  /** Sets the count done outright (a budget's steps, say). */
  set(done: number, total?: number): void {
    this.done = done;
    if (total !== undefined) this.total = total;
    this.maybeDraw();
  }

  /** The line as it would be drawn now (without the escape codes). */
  line(): string {
    const ms = Math.max(1, this.now() - this.start);
    const rate = (this.done * 1000) / ms;
    const pct = this.total > 0 ? ` (${Math.floor((100 * Math.min(this.done, this.total)) / this.total)}%)` : '';
    const left = rate > 0 && this.total > this.done ? `, ${formatSeconds((this.total - this.done) / rate)} left` : '';
    const rateText = rate >= 10 ? String(Math.round(rate)) : rate.toFixed(1);
    const full = `${this.label} ${this.done}/${this.total}${this.unit === '' ? '' : ` ${this.unit}`}${pct}, ${rateText}/s${left}`;
    const room = Math.max(10, columnsOf(this.target) - 1);
    return full.length <= room ? full : full.slice(0, room);
  }

  private maybeDraw(): void {
    if (!this.target.errIsTTY || this.ended) return;
    const t = this.now();
    if (t - this.start < SHOW_AFTER_MS || t - this.lastDraw < REDRAW_MS_MIN) return;
    this.lastDraw = t;
    this.target.err(`\r\x1b[K${this.line()}`);
    this.shown = true;
  }

  private clear(): void {
    if (!this.shown) return;
    this.target.err('\r\x1b[K');
    this.shown = false; // drawn again below the new output at the next tick past REDRAW_MS_MIN
  }

  /** Clears the line; later ticks draw nothing. */
  end(): void {
    this.clear();
    this.ended = true;
  }
}
