/**
 * The plotting library inlined into every report: uPlot (MIT, pinned in package.json), read from
 * its installed package so that the page needs no network when it is viewed.
 * Contract: returns the minified script (licence banner included) and its stylesheet; a missing
 * or damaged install is an Error naming the file (an internal error: `npm ci` provides it).
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';

export interface PlotLibrary {
  name: string;
  version: string;
  script: string;
  css: string;
}

export function plotLibrary(): PlotLibrary {
  const require = createRequire(import.meta.url);
  const scriptFile = require.resolve('uplot/dist/uPlot.iife.min.js');
  const cssFile = require.resolve('uplot/dist/uPlot.min.css');
  const pkg = JSON.parse(fs.readFileSync(require.resolve('uplot/package.json'), 'utf8')) as { version?: unknown };
  const script = fs.readFileSync(scriptFile, 'utf8');
  if (!script.includes('uPlot')) throw new Error(`${scriptFile}: not the uPlot library`);
  return { name: 'uPlot', version: typeof pkg.version === 'string' ? pkg.version : '?', script, css: fs.readFileSync(cssFile, 'utf8') };
}
