/**
 * Durability inside the (trusted) backup store: a backup must be on disk before the action it
 * protects runs, or a power cut right after the action could leave neither the old bytes nor the
 * copy. Files are fsynced before they are closed, directories after their entries changed, and
 * a rename into place is followed by an fsync of the directory that holds the new name.
 *
 * Paths are used as they are: the store is trusted all the way from "/" (src/fs-safe/store.ts).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../safety/errors';

/**
 * fsyncs a directory. Some file systems refuse fsync on a directory (EINVAL): then there is
 * nothing more we can do, and the rename's own ordering is what we get.
 *
 * @example await syncDir('/var/lib/autofix/backups/incident-x');
 */
export async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } catch (e) {
    if (errnoCode(e) !== 'EINVAL') throw e;
  } finally {
    await fh.close();
  }
}

/** fsyncs every directory from `dir` down (after a tree of copies was written into it). */
export async function syncTree(dir: string): Promise<void> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) await syncTree(path.join(dir, e.name));
  }
  await syncDir(dir);
}

/**
 * Writes a new file (`wx`: it must not exist), fsyncs it and closes it.
 *
 * @example await writeDurably('/var/lib/autofix/backups/x/manifest.json', json, 0o600);
 */
export async function writeDurably(file: string, data: string | Buffer, mode: number): Promise<void> {
  const fh = await fsp.open(file, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Creates `dir` and its missing parents below `base` (0700), fsyncing each parent whose entries
 * changed, so the new folders survive a power cut as well as what is written into them.
 */
export async function makeDirsDurably(base: string, rel: readonly string[]): Promise<string> {
  let cur = base;
  for (const name of rel) {
    const next = path.join(cur, name);
    try {
      await fsp.mkdir(next, { mode: 0o700 });
      await syncDir(cur);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
    cur = next;
  }
  return cur;
}
