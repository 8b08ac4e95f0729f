/**
 * Opening an `eptfuzz report` page in headless Debian chromium (playwright-core) for e2e tests.
 * Contract: `chromiumOrSkip` skips the test with a visible message when chromium is missing, and
 * throws under CI (.ci/run installs it); `openReport` loads a page with every non-file request
 * blocked and recorded, waits until its four charts are drawn, runs `use`, and closes the browser;
 * `chartColours` says, per chart, whether its canvas is drawn and holds each given series colour.
 */
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';

export const CHROMIUM = process.env.EPTFUZZ_CHROMIUM ?? '/usr/bin/chromium';

/** True when chromium is here; otherwise skips the test (`what` names the part that needs it). */
export function chromiumOrSkip(ctx: { skip(): void }, what: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI !== undefined) throw new Error(`${CHROMIUM} missing: .ci/run installs chromium`);
  console.warn(`SKIPPED: ${what} needs ${CHROMIUM} (apt-get install chromium), not installed here`);
  ctx.skip();
  return false;
}

/** What the page said while it loaded: console errors and warnings, and requests it tried to make. */
export interface PageLog {
  errors: string[];
  requests: string[];
}

export async function openReport<T>(file: string, use: (tab: Page, log: PageLog) => Promise<T>): Promise<T> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const log: PageLog = { errors: [], requests: [] };
    tab.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.errors.push(`${m.type()}: ${m.text()}`); });
    tab.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
    await tab.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file://')) return route.continue();
      log.requests.push(url);
      return route.abort();
    });
    await tab.goto(`file://${file}`);
    await tab.waitForSelector('body[data-charts-drawn="4"]', { timeout: 10_000 });
    return await use(tab, log);
  } finally {
    await browser.close();
  }
}

/** Per chart: its id, whether it is a drawn canvas (not a stub), and whether each RGB colour is on it. */
export function chartColours(tab: Page, rgbs: number[][]): Promise<Array<{ id: string; canvas: boolean; colours: boolean[] }>> {
  return tab.evaluate((want) => [...document.querySelectorAll('.chart')].map((chart) => {
    const canvas = chart.querySelector('canvas');
    if (canvas === null) return { id: chart.id, canvas: false, colours: [] as boolean[] };
    const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = want.map(([r, g, b]) => {
      for (let i = 0; i < px.length; i += 4) {
        if (Math.abs(px[i] - r) < 8 && Math.abs(px[i + 1] - g) < 8 && Math.abs(px[i + 2] - b) < 8 && px[i + 3] > 200) return true;
      }
      return false;
    });
    return { id: chart.id, canvas: canvas.width > 100 && canvas.height > 100, colours };
  }), rgbs);
}
