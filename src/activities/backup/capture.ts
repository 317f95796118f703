/**
 * Taking a backup: copies files and directory trees (kernel copy, no buffering) and records
 * their metadata in the manifest. Symlinks are recorded, never followed.
 */
import type { Stats } from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../safety/errors';
import { sha256File } from '../safety/file-ops';
import { kindOf, walkTree } from '../safety/walk';
import type { ChildEntry, EntryMeta, ManifestEntry } from './manifest';

function metaOf(st: Stats): EntryMeta {
  return { kind: kindOf(st), size: st.size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs };
}

/** Copies one file into the backup and fills in the size and sha256 of the copy. */
async function copyInto(src: string, dest: string, meta: EntryMeta): Promise<void> {
  await fsp.copyFile(src, dest);
  await fsp.chmod(dest, 0o600); // the backup may hold secrets; only the daemon reads it
  meta.size = (await fsp.stat(dest)).size;
  meta.sha256 = await sha256File(dest);
}

/**
 * Records (and unless `metadataOnly`, copies) one target into `<dir>/data/<index>`.
 */
export async function captureEntry(dir: string, index: number, target: string, metadataOnly: boolean, signal?: AbortSignal): Promise<ManifestEntry> {
  let st: Stats;
  try {
    st = await fsp.lstat(target);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { path: target, kind: 'absent', metadataOnly };
    throw e;
  }
  const entry: ManifestEntry = { path: target, metadataOnly, ...metaOf(st) };
  if (entry.kind === 'symlink') entry.linkTarget = await fsp.readlink(target);
  if (metadataOnly || (entry.kind !== 'file' && entry.kind !== 'dir')) return entry;
  const stored = path.join('data', String(index));
  entry.stored = stored;
  const dest = path.join(dir, stored);
  if (entry.kind === 'file') {
    await copyInto(target, dest, entry);
    return entry;
  }
  await fsp.mkdir(dest, { mode: 0o700 });
  const { entries } = await walkTree(target, { signal });
  entry.children = [];
  for (const e of entries) {
    signal?.throwIfAborted();
    const child: ChildEntry = { rel: e.rel, ...metaOf(e.stat) };
    const to = path.join(dest, ...e.rel.split('/'));
    if (e.kind === 'dir') await fsp.mkdir(to, { mode: 0o700 });
    else if (e.kind === 'symlink') child.linkTarget = await fsp.readlink(e.path);
    else if (e.kind === 'file') {
      try {
        await copyInto(e.path, to, child);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        continue; // deleted since the walk: it is not part of the state we restore
      }
    }
    entry.children.push(child);
  }
  return entry;
}
