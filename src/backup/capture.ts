/**
 * Taking a backup: copies files and directory trees and records their metadata in the manifest.
 * Each target is reached through fds from its pinned managed root (src/fs-safe): a file is
 * copied from an fd opened O_NOFOLLOW and checked to be the inode lstat saw; a file with several
 * hard links is not copied (refused as a target, recorded as skipped inside a directory: another
 * link may be a file outside the roots); symlinks are recorded, never followed. Copies go into
 * the trusted backup store, 0600, fsynced; a manifest-only backup hashes the files instead.
 */
import type { Stats } from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import {
  DirCursor,
  closeTarget,
  copyFd,
  identityOf,
  isSwapped,
  kindOf,
  openTarget,
  walkTree,
  withFile,
  type DirHandle,
  type Location,
  type OpenFile,
  type Target,
  type TreeEntry,
} from '../fs-safe';
import type { BackupMode, ChildEntry, EntryMeta, ManifestEntry } from './manifest';

function metaOf(st: Stats): EntryMeta {
  return { kind: kindOf(st), size: st.size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino, birthtimeMs: st.birthtimeMs };
}

/**
 * Copies an open file into the (trusted) backup store, 0600, fsynced before it is closed; with
 * `dest` null only measures and hashes it (a manifest-only backup). Records what was read.
 */
async function copyInto(f: OpenFile, dest: string | null, meta: EntryMeta): Promise<void> {
  Object.assign(meta, metaOf(f.stat)); // the inode actually copied
  if (dest === null) {
    const { bytes, sha256 } = await copyFd(f.fh, null, { hash: true });
    Object.assign(meta, { size: bytes, sha256 });
    return;
  }
  const out = await fsp.open(dest, 'wx', 0o600); // the backup may hold secrets; only the daemon reads it
  try {
    const { bytes, sha256 } = await copyFd(f.fh, out, { hash: true });
    meta.size = bytes;
    meta.sha256 = sha256;
    await out.sync(); // on disk before the action that changes the original runs
  } finally {
    await out.close();
  }
}

/** lstat of a target: its root's own stat for a root, undefined when missing. */
async function statTarget(t: Target): Promise<Stats | undefined> {
  if (t.name === undefined) return t.loc.root.dir?.fstat();
  return t.parent?.lstat(t.name);
}

/** How one target is captured. */
export interface CaptureOptions {
  /** Record only mode/owner/mtime (e.g. fix_permissions). */
  metadataOnly: boolean;
  /** `manifest`: names, sizes and sha256, no copies. @default 'content' */
  mode?: BackupMode;
  signal?: AbortSignal;
}

/**
 * Records (and in `content` mode, copies) one located target into `<dir>/data/<index>`.
 */
export async function captureEntry(dir: string, index: number, loc: Location, opts: CaptureOptions): Promise<ManifestEntry> {
  const { metadataOnly } = opts;
  const copies = opts.mode !== 'manifest';
  const t = await openTarget(loc);
  try {
    const st = await statTarget(t);
    const absent: ManifestEntry = { path: loc.path, root: loc.root.real, kind: 'absent', metadataOnly };
    if (!st) return absent;
    const entry: ManifestEntry = { path: loc.path, root: loc.root.real, metadataOnly, ...metaOf(st) };
    if (entry.kind === 'symlink') entry.linkTarget = await t.parent!.readlink(t.name!);
    if (metadataOnly || (entry.kind !== 'file' && entry.kind !== 'dir')) return entry;
    const stored = path.join('data', String(index));
    const dest = copies ? path.join(dir, stored) : null;
    if (copies) entry.stored = stored;
    if (entry.kind === 'file') {
      const copied = await withFile(t.parent!, t.name!, { expect: identityOf(st), singleLinkFor: 'back it up' }, async (f) => f && (await copyInto(f, dest, entry), true));
      return copied ? entry : absent; // removed since lstat: absent is the state to restore
    }
    const top = t.parent ? await t.parent.openDir(t.name!, identityOf(st)) : await loc.root.dir!.dup();
    try {
      await captureTree(top, dest, entry, opts.signal);
    } finally {
      await top.close();
    }
    return entry;
  } finally {
    await closeTarget(t);
  }
}

/** Copies the tree below a pinned directory into `dest`, recording every child. */
async function captureTree(top: DirHandle, dest: string | null, entry: ManifestEntry, signal?: AbortSignal): Promise<void> {
  if (dest !== null) await fsp.mkdir(dest, { mode: 0o700 });
  const tree = await walkTree(top, { signal });
  const cursor = new DirCursor(top, tree.dirs);
  entry.children = [];
  try {
    for (const e of tree.entries) {
      signal?.throwIfAborted();
      const child = await captureChild(cursor, e, dest === null ? null : path.join(dest, ...e.rel.split('/')));
      if (child) entry.children.push(child);
    }
  } finally {
    await cursor.close();
  }
}

/** One walked entry; undefined when it was removed or swapped since the walk. */
async function captureChild(cursor: DirCursor, e: TreeEntry, to: string | null): Promise<ChildEntry | undefined> {
  const child: ChildEntry = { rel: e.rel, ...metaOf(e.stat) };
  if (e.kind === 'dir') {
    if (to !== null) await fsp.mkdir(to, { mode: 0o700 });
    return child;
  }
  if (e.kind !== 'file' && e.kind !== 'symlink') return child;
  if (e.kind === 'file' && e.stat.nlink > 1) return { ...child, skipped: `has ${e.stat.nlink} hard links; not copied (another link may be outside the roots)` };
  try {
    const dir = await cursor.open(e.parent);
    if (e.kind === 'symlink') return { ...child, linkTarget: await dir.readlink(e.name) };
    const copied = await withFile(dir, e.name, { expect: identityOf(e.stat), singleLinkFor: 'back it up' }, async (f) => f && (await copyInto(f, to, child), true));
    return copied ? child : undefined;
  } catch (err) {
    if (isSwapped(err) || (err as { type?: string }).type === 'RefusedError') return undefined; // not the state walked
    throw err;
  }
}
