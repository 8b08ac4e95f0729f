/**
 * A hub campaign's crash store, for commands that read crash stores (`crashes list --hub`,
 * `report --hub`): pulled (hub-pull.ts, the code of `crashes pull`) into a temporary directory that
 * the command reads as it reads a local store, then removed.
 * Contract: the temporary store is private to this process (mkdtemp under the system's temporary
 * directory) and removed by `remove()` whatever happened; paths inside it are shown to the user as
 * `hub:NAME/<signature-hash>` (`show`), since the directory is gone when the command ends.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CrashRow } from '../fuzz/crash-list.js';
import type { Hub } from './hub-connection.js';
import type { CampaignKeys } from './hub-keys.js';
import { pullCrashes, type PullSummary } from './hub-pull.js';

export interface PulledStore {
  /** The temporary crash store. */
  dir: string;
  /** What the store is called in output: `hub:NAME`. */
  label: string;
  summary: PullSummary;
  /** `text` with the temporary directory replaced by the label. */
  show(text: string): string;
  remove(): void;
}

export async function pullToTemp(hub: Hub, keys: CampaignKeys): Promise<PulledStore> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eptfuzz-hub-view-'));
  const remove = (): void => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const summary = await pullCrashes(hub, keys, dir);
    const label = `hub:${keys.name}`;
    return { dir, label, summary, show: (text) => text.split(dir).join(label), remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/** The rows with the pulled stores' directories shown by their labels. */
export function showRows(rows: CrashRow[], stores: readonly PulledStore[]): CrashRow[] {
  const show = (s: string): string => stores.reduce((t, p) => p.show(t), s);
  return rows.map((r) => ({ ...r, dir: show(r.dir), dirs: r.dirs.map(show) }));
}
