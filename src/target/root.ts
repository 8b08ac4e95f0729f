/**
 * The package's root directory (where agent/ lives), found from this module's own location, so
 * it works from src/ (tsx, tests) and from dist/src/ (the built CLI) alike.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'agent'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the eptfuzz package root (agent/ next to package.json)');
}
