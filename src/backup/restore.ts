/**
 * Putting a backup back: every file byte for byte (verified by sha256) with its mode, owner and
 * mtime; deleted entries of backed-up directories recreated; paths that were absent removed
 * (directories only when empty). Idempotent: restoring twice gives the same state.
 *
 * A restore only writes inside the managed roots: each path is reached again from the fd of the
 * root it was backed up from, one O_NOFOLLOW component at a time (src/fs-safe). A file is written
 * to an O_EXCL temp file in its pinned directory (owner, mode, mtime set through the fd, fsynced)
 * and renamed over the name, so a symlink planted there is replaced, never followed; metadata is
 * set through an O_PATH fd of the very inode, never on a hard-linked file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DirCursor,
  MetaHandle,
  Roots,
  closeTarget,
  identityOf,
  openBelow,
  openTarget,
  raced,
  replaceFileAt,
  sameIdentity,
  sha256Of,
  withFile,
  writeInto,
  type DirHandle,
  type Identity,
  type Location,
} from '../fs-safe';
import { errnoCode, unsafePath } from '../safety/errors';
import type { ChildEntry, EntryMeta, ManifestEntry } from './manifest';

/** Applies owner (best effort when not privileged), mode and mtime through a pinned inode. */
async function applyMeta(meta: MetaHandle, want: EntryMeta, notes: string[]): Promise<void> {
  const st = meta.stat;
  if (want.uid !== undefined && want.gid !== undefined && (st.uid !== want.uid || st.gid !== want.gid)) {
    try {
      await meta.chown(want.uid, want.gid);
    } catch (e) {
      if (errnoCode(e) !== 'EPERM') throw e;
      notes.push(`${meta.path}: could not restore owner ${want.uid}:${want.gid} (not privileged)`);
    }
  }
  if (want.mode !== undefined && (st.mode & 0o7777) !== want.mode) await meta.chmod(want.mode);
  // Seconds as a float keep sub-millisecond precision, unlike a Date.
  if (want.mtimeMs !== undefined && Math.abs(st.mtimeMs - want.mtimeMs) >= 0.001) await meta.utimes(st.atimeMs / 1000, want.mtimeMs / 1000);
}

/**
 * Pins `name` in `dir` — the inode `expect` — and applies the recorded metadata (a hard-linked
 * file is refused). False when the name is gone.
 */
async function applyMetaAt(dir: DirHandle, name: string, expect: Identity, want: EntryMeta, notes: string[]): Promise<boolean> {
  const meta = await MetaHandle.open(dir, name, { expect, singleLinkFor: 'restore its mode and owner' });
  if (!meta) return false;
  try {
    await applyMeta(meta, want, notes);
    return true;
  } finally {
    await meta.close();
  }
}

/** Streams the stored copy into `out`, checking its sha256 against the manifest. */
async function fillFromStore(stored: string, want: EntryMeta, out: import('node:fs/promises').FileHandle): Promise<void> {
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(stored), tap, writeInto(out));
  const got = hash.digest('hex');
  if (got !== want.sha256) throw new Error(`the backup copy ${stored} has sha256 ${got}, expected ${want.sha256}; it was damaged, not restoring it`);
}

/** Restores one file in its pinned directory unless it already has the right content. */
async function restoreFileAt(dir: DirHandle, name: string, stored: string, want: EntryMeta, notes: string[]): Promise<void> {
  const st = await dir.lstat(name);
  if (st?.isDirectory()) throw new Error(`cannot restore file "${dir.child(name)}": a directory is there now`);
  const same =
    st?.isFile() === true &&
    st.nlink === 1 &&
    st.size === want.size &&
    (await withFile(dir, name, { expect: identityOf(st) }, async (f) => (f ? (await sha256Of(f.fh)) === want.sha256 : false)).catch(() => false));
  if (same) {
    await applyMetaAt(dir, name, identityOf(st), want, notes); // the very inode just verified
    return;
  }
  const written = await replaceFileAt(dir, name, (out) => fillFromStore(stored, want, out), { mode: want.mode ?? 0o600, uid: want.uid, gid: want.gid, mtimeMs: want.mtimeMs });
  if (!written.ownerSet) notes.push(`${dir.child(name)}: could not restore owner ${want.uid}:${want.gid} (not privileged)`);
}

async function restoreSymlinkAt(dir: DirHandle, name: string, want: EntryMeta, notes: string[]): Promise<void> {
  const st = await dir.lstat(name);
  if (st?.isSymbolicLink() && (await dir.readlink(name)) === want.linkTarget) return;
  if (st?.isDirectory()) {
    notes.push(`${dir.child(name)}: not recreating symlink, a directory is there now`);
    return;
  }
  if (st) await dir.unlink(name);
  await dir.symlink(want.linkTarget ?? '', name);
}

/** The pinned parent of a located path, creating missing directories inside its root (0700). */
async function parentFor(loc: Location): Promise<DirHandle> {
  const rootDir = loc.root.dir;
  if (!rootDir) throw unsafePath(`cannot restore "${loc.path}": its managed root ${loc.root.real} does not exist`);
  const below = await openBelow(rootDir, loc.rel.slice(0, -1));
  let dir = below.dir;
  try {
    for (const name of below.rest) {
      await dir.mkdir(name, 0o777); // as mkdir -p would (the umask applies), owned by the worker
      const next = await dir.openDir(name);
      await dir.close();
      dir = next;
    }
    return dir;
  } catch (e) {
    await dir.close();
    throw e;
  }
}

/** The pinned directory of a directory entry, created (0700 until its mode is restored) when missing. */
async function openOrCreateDir(loc: Location): Promise<DirHandle> {
  if (loc.rel.length === 0) return loc.root.dir!.dup();
  const parent = await parentFor(loc);
  try {
    const name = loc.rel[loc.rel.length - 1]!;
    const st = await parent.lstat(name);
    if (st && !st.isDirectory()) throw new Error(`cannot restore directory "${loc.path}": a ${st.isSymbolicLink() ? 'symlink' : 'file'} is there now`);
    await parent.mkdir(name, 0o700);
    return await parent.openDir(name);
  } finally {
    await parent.close();
  }
}

async function restoreDir(entry: ManifestEntry, loc: Location, storedDir: string, notes: string[]): Promise<void> {
  const top = await openOrCreateDir(loc);
  const cursor = new DirCursor(top);
  try {
    const children: ChildEntry[] = entry.children ?? [];
    const dirs: Array<{ c: ChildEntry; id: Identity }> = [];
    for (const c of children) {
      const parts = c.rel.split('/');
      const dir = await cursor.open(parts.slice(0, -1));
      const name = parts[parts.length - 1]!;
      if (c.skipped) notes.push(`${dir.child(name)}: not restored (${c.skipped})`);
      else if (c.kind === 'dir') {
        const cst = await dir.lstat(name);
        if (cst && !cst.isDirectory()) await dir.unlink(name);
        await dir.mkdir(name, 0o700);
        const made = await dir.openDir(name);
        dirs.push({ c, id: made.id }); // its metadata goes to this inode only
        await made.close();
      } else if (c.kind === 'file') await restoreFileAt(dir, name, path.join(storedDir, ...parts), c, notes);
      else if (c.kind === 'symlink') await restoreSymlinkAt(dir, name, c, notes);
      else notes.push(`${dir.child(name)}: a ${c.kind} entry is not restored`);
    }
    // Deepest first: filling a directory changes its mtime, so directory times are set last.
    for (const { c, id } of dirs.reverse()) {
      const parts = c.rel.split('/');
      await applyMetaAt(await cursor.open(parts.slice(0, -1)), parts[parts.length - 1]!, id, c, notes);
    }
  } finally {
    await cursor.close();
  }
  try {
    const meta = await MetaHandle.ofDir(top);
    try {
      await applyMeta(meta, entry, notes);
    } finally {
      await meta.close();
    }
  } finally {
    await top.close();
  }
}

/** Removes a path that did not exist before the action: files always, directories only empty. */
async function removeAbsent(loc: Location, notes: string[]): Promise<boolean> {
  const t = await openTarget(loc);
  try {
    if (!t.parent || t.name === undefined) return true;
    const st = await t.parent.lstat(t.name);
    if (!st) return true;
    const r = st.isDirectory() ? await t.parent.rmdir(t.name) : await t.parent.unlink(t.name);
    if (r === 'kept') notes.push(`${loc.path}: did not exist before but is not empty now; left in place`);
    return r !== 'kept';
  } finally {
    await closeTarget(t);
  }
}

async function restoreMetadataOnly(loc: Location, e: ManifestEntry, notes: string[]): Promise<boolean> {
  const t = await openTarget(loc);
  try {
    // Only the inode that was backed up gets its mode and owner back (see EntryMeta.ino).
    const expect = e.dev !== undefined && e.ino !== undefined ? { dev: e.dev, ino: e.ino } : undefined;
    if (!expect) {
      notes.push(`${loc.path}: the backup does not record which file it was (taken by an older autofix); mode and owner not restored`);
      return false;
    }
    let meta: MetaHandle | undefined;
    try {
      meta = t.name === undefined ? await MetaHandle.ofDir(loc.root.dir!) : t.parent && (await MetaHandle.open(t.parent, t.name, { expect, singleLinkFor: 'restore its mode and owner' }));
      if (meta && (!sameIdentity(identityOf(meta.stat), expect) || (e.birthtimeMs !== undefined && meta.stat.birthtimeMs !== e.birthtimeMs))) {
        throw raced(loc.path, 'it is another file than the one backed up (same inode number, born later)');
      }
    } catch (e) {
      const type = (e as { type?: string }).type;
      if (type !== 'RefusedError' && type !== 'UnsafePathError') throw e;
      await meta?.close();
      notes.push(`${loc.path}: ${(e as Error).message}; mode and owner not restored`);
      return false;
    }
    if (!meta) {
      notes.push(`${loc.path}: gone; only its metadata was backed up`);
      return false;
    }
    try {
      await applyMeta(meta, { ...e, mtimeMs: undefined }, notes);
      return true;
    } finally {
      await meta.close();
    }
  } finally {
    await closeTarget(t);
  }
}

async function restoreOne(dir: string, e: ManifestEntry, loc: Location, notes: string[]): Promise<boolean> {
  if (e.metadataOnly) return restoreMetadataOnly(loc, e, notes);
  if (e.kind === 'dir' && e.stored) {
    await restoreDir(e, loc, path.join(dir, e.stored), notes);
    return true;
  }
  if (loc.rel.length === 0) {
    notes.push(`${loc.path}: a managed root itself is only restored as a directory`);
    return false;
  }
  if ((e.kind === 'file' && e.stored) || e.kind === 'symlink') {
    const parent = await parentFor(loc);
    try {
      const name = loc.rel[loc.rel.length - 1]!;
      if (e.kind === 'file') await restoreFileAt(parent, name, path.join(dir, e.stored!), e, notes);
      else await restoreSymlinkAt(parent, name, e, notes);
    } finally {
      await parent.close();
    }
    return true;
  }
  notes.push(`${e.path}: ${e.skipped ? `not restored (${e.skipped})` : `a ${e.kind} entry is not restored`}`);
  return false;
}

/**
 * Restores every entry of a manifest found in `dir`, each from the managed root recorded with it
 * (`fallbackRoots` for entries recorded without one). Returns the paths put back and notes about
 * what could not be (owner without privilege, non-empty new directories).
 */
export async function restoreEntries(dir: string, entries: readonly ManifestEntry[], fallbackRoots: readonly string[] = []): Promise<{ restored: string[]; notes: string[] }> {
  if (entries.length === 0) return { restored: [], notes: [] }; // e.g. a backup of Redis keys only
  const missingRoot = entries.find((e) => e.root === undefined);
  if (missingRoot && fallbackRoots.length === 0) {
    throw unsafePath(`backup ${dir} does not record the managed root of "${missingRoot.path}" (taken by an older autofix); restore it by hand from ${dir}`);
  }
  const rootPaths = [...new Set([...entries.flatMap((e) => (e.root === undefined ? [] : [e.root])), ...fallbackRoots])];
  const roots = await Roots.open(rootPaths);
  const restored: string[] = [];
  const notes: string[] = [];
  try {
    const located = [];
    for (const e of entries) {
      const loc = await roots.locate(e.path);
      if (e.root !== undefined && loc.root.real !== e.root) throw unsafePath(`backup entry "${e.path}" was taken under ${e.root}, not ${loc.root.real}; not restoring it`);
      located.push({ e, loc });
    }
    for (const { e, loc } of located) if (e.kind !== 'absent' && (await restoreOne(dir, e, loc, notes))) restored.push(e.path);
    // Deepest first, so a created directory is emptied of created children before it is removed.
    const absent = located.filter(({ e }) => e.kind === 'absent').sort((a, b) => b.e.path.length - a.e.path.length);
    for (const { e, loc } of absent) if (await removeAbsent(loc, notes)) restored.push(e.path);
  } finally {
    await roots.close();
  }
  return { restored, notes };
}
