import { describe, expect, it } from 'vitest';
import { Progress, REDRAW_MS_MIN, SHOW_AFTER_MS } from '../../../src/cli/progress.js';
import type { Io } from '../../../src/cli/io.js';

function term(tty: boolean, columns = 120): Io & { text: () => string } {
  let text = '';
  return { out: (t) => { text += `<out>${t}`; }, err: (t) => { text += t; }, errIsTTY: tty, errColumns: () => columns, text: () => text };
}

describe('Progress', () => {
  it('on a terminal: nothing at first, then done/total, percent, rate and time left, throttled', () => {
    let now = 0;
    const io = term(true);
    const p = new Progress(io, 'replay', 1000, 'files', () => now);
    p.tick(10);
    expect(io.text()).toBe(''); // before SHOW_AFTER_MS: a quick command prints nothing
    now = SHOW_AFTER_MS + 500; // 1 s in
    p.tick(90);
    expect(io.text()).toBe('\r\x1b[Kreplay 100/1000 files (10%), 100/s, 9s left');
    now += REDRAW_MS_MIN - 1;
    p.tick(1);
    expect(io.text().split('\r\x1b[K')).toHaveLength(2); // throttled
    now += 1;
    p.tick(1);
    expect(io.text().endsWith('replay 102/1000 files (10%), 93/s, 10s left')).toBe(true);
  });

  it('output written through io() clears the line first; end() clears it and later ticks draw nothing', () => {
    let now = 10_000;
    const io = term(true);
    const p = new Progress(io, 'minimize', 50, 'steps', () => now);
    now += 1000;
    p.tick(5);
    p.io().out('PASS a\n');
    expect(io.text()).toBe('\r\x1b[Kminimize 5/50 steps (10%), 5.0/s, 9s left\r\x1b[K<out>PASS a\n');
    p.io().out('PASS b\n'); // nothing on screen to clear
    expect(io.text().endsWith('<out>PASS a\n<out>PASS b\n')).toBe(true);
    now += 1000;
    p.tick();
    p.end();
    expect(io.text().endsWith('\r\x1b[K')).toBe(true);
    const before = io.text();
    now += 5000;
    p.tick();
    expect(io.text()).toBe(before);
  });

  it('stays silent when stderr is not a terminal, and fits a narrow one', () => {
    let now = 0;
    const quiet = term(false);
    const p = new Progress(quiet, 'corpus minimize: measuring', 10, 'traces', () => now);
    now = 5000;
    p.tick(3);
    p.io().out('x\n');
    p.end();
    expect(quiet.text()).toBe('<out>x\n');
    const narrow = term(true, 30);
    const q = new Progress(narrow, 'corpus minimize: measuring', 100_000, 'traces', () => now);
    now += 2000;
    q.tick(12_345);
    expect(q.line().length).toBeLessThan(30);
    expect(narrow.text()).toBe(`\r\x1b[K${q.line()}`);
  });
});
