/**
 * Whether a backup keeps content copies or only a manifest. An action whose purpose is freeing
 * space (log_rotate, temp/old_file_cleanup) must not defeat itself: copying what it removes onto
 * the full file system it is freeing fails with ENOSPC or fills it further. Its backup keeps
 * copies only when they fit and do not push the store's file system to the disk threshold;
 * otherwise it records names, sizes and sha256 and says why.
 */
import { promises as fsp, type Stats } from 'node:fs';
import { closeTarget, openTarget, walkTree, type Location } from '../fs-safe';
import type { BackupMode } from './manifest';

/** Headroom kept free on the store's file system when copying (its own writes need some). */
const MARGIN_BYTES = 1024 * 1024;

/** The decision and, for `manifest`, the reason in words (shown in the incident). */
export interface SpaceDecision {
  mode: BackupMode;
  reason?: string;
  /** Bytes the copies would take. */
  bytes: number;
}

/** Bytes and device of what a content backup of `loc` would copy (0 for absent paths). */
async function measure(loc: Location, signal?: AbortSignal): Promise<{ bytes: number; dev?: number }> {
  const t = await openTarget(loc);
  try {
    const st: Stats | undefined = t.name === undefined ? await loc.root.dir?.fstat() : await t.parent?.lstat(t.name);
    if (!st) return { bytes: 0, dev: t.parent?.stat.dev };
    if (st.isFile()) return { bytes: st.nlink > 1 ? 0 : st.size, dev: st.dev };
    if (!st.isDirectory()) return { bytes: 0, dev: st.dev };
    const top = t.parent ? await t.parent.openDir(t.name!) : await loc.root.dir!.dup();
    try {
      const tree = await walkTree(top, { signal });
      return { bytes: tree.entries.reduce((n, e) => n + (e.kind === 'file' && e.stat.nlink === 1 ? e.stat.size : 0), 0), dev: st.dev };
    } finally {
      await top.close();
    }
  } finally {
    await closeTarget(t);
  }
}

const pct = (n: number) => `${Math.round(n * 10) / 10}%`;

/**
 * Chooses content or manifest for a space-freeing action's backup in `store` (which exists).
 *
 * @example await chooseBackupMode('/var/lib/autofix/backups', [loc], 90) // { mode: 'manifest', reason: '…same file system…', bytes }
 */
export async function chooseBackupMode(store: string, targets: readonly Location[], thresholdPercent: number, signal?: AbortSignal): Promise<SpaceDecision> {
  let bytes = 0;
  const devs = new Set<number>();
  for (const loc of targets) {
    const m = await measure(loc, signal);
    bytes += m.bytes;
    if (m.dev !== undefined) devs.add(m.dev);
  }
  const storeDev = (await fsp.stat(store)).dev;
  const fs = await fsp.statfs(store);
  const avail = fs.bavail * fs.bsize;
  const used = (fs.blocks - fs.bfree) * fs.bsize;
  const usable = used + avail;
  if (devs.has(storeDev)) {
    const after = usable > 0 ? ((used + bytes) / usable) * 100 : 100;
    if (after >= thresholdPercent) {
      return {
        mode: 'manifest',
        bytes,
        reason: `the backup store ${store} is on the file system being freed, ${pct((used / usable) * 100)} used (${pct(after)} with the copies; threshold ${thresholdPercent}%): set backups.dir on another file system to keep content`,
      };
    }
  }
  if (bytes + MARGIN_BYTES > avail) {
    return { mode: 'manifest', bytes, reason: `the content (${bytes} bytes) would not fit in the backup store ${store} (${avail} bytes free)` };
  }
  return { mode: 'content', bytes };
}
