/**
 * Putting a backup back: every file byte for byte (verified by sha256) with its mode, owner and
 * mtime; deleted entries of backed-up directories recreated; paths that were absent removed
 * (directories only when empty). Idempotent: restoring twice gives the same state.
 */
import type { Stats } from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../safety/errors';
import { copyFileAtomic, sha256File } from '../safety/file-ops';
import type { ChildEntry, EntryMeta, ManifestEntry } from './manifest';

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fsp.lstat(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Applies owner (best effort when not privileged) and mode; never follows a symlink. */
async function applyMeta(p: string, meta: EntryMeta, notes: string[]): Promise<void> {
  const st = await fsp.lstat(p);
  if (meta.uid !== undefined && meta.gid !== undefined && (st.uid !== meta.uid || st.gid !== meta.gid)) {
    try {
      await fsp.lchown(p, meta.uid, meta.gid);
    } catch (e) {
      if (errnoCode(e) !== 'EPERM') throw e;
      notes.push(`${p}: could not restore owner ${meta.uid}:${meta.gid} (not privileged)`);
    }
  }
  if (!st.isSymbolicLink() && meta.mode !== undefined && (st.mode & 0o7777) !== meta.mode) await fsp.chmod(p, meta.mode);
}

/** Sets the recorded mtime (seconds as a float keep sub-millisecond precision, unlike a Date). */
async function applyMtime(p: string, meta: EntryMeta): Promise<void> {
  if (meta.mtimeMs === undefined) return;
  const st = await fsp.lstat(p);
  if (Math.abs(st.mtimeMs - meta.mtimeMs) < 0.001) return;
  await fsp.utimes(p, st.atimeMs / 1000, meta.mtimeMs / 1000);
}

/** Restores one file from its stored copy unless it already has the right content. */
async function restoreFile(p: string, stored: string, meta: EntryMeta, notes: string[]): Promise<void> {
  const st = await lstatOrUndefined(p);
  if (st?.isDirectory()) throw new Error(`cannot restore file "${p}": a directory is there now`);
  const same = st?.isFile() && st.size === meta.size && (await sha256File(p)) === meta.sha256;
  if (!same) {
    await fsp.mkdir(path.dirname(p), { recursive: true });
    await copyFileAtomic(stored, p, meta.mode ?? 0o600);
  }
  await applyMtime(p, meta);
  await applyMeta(p, meta, notes);
  const got = await sha256File(p);
  if (got !== meta.sha256) throw new Error(`restored "${p}" but its sha256 is ${got}, expected ${meta.sha256} (changed while restoring?)`);
}

async function restoreSymlink(p: string, meta: EntryMeta, notes: string[]): Promise<void> {
  const st = await lstatOrUndefined(p);
  if (st?.isSymbolicLink() && (await fsp.readlink(p)) === meta.linkTarget) return;
  if (st?.isDirectory()) {
    notes.push(`${p}: not recreating symlink, a directory is there now`);
    return;
  }
  if (st) await fsp.unlink(p);
  await fsp.mkdir(path.dirname(p), { recursive: true });
  await fsp.symlink(meta.linkTarget ?? '', p);
}

async function restoreDir(entry: ManifestEntry, storedDir: string, notes: string[]): Promise<void> {
  const st = await lstatOrUndefined(entry.path);
  if (st && !st.isDirectory()) throw new Error(`cannot restore directory "${entry.path}": a ${st.isSymbolicLink() ? 'symlink' : 'file'} is there now`);
  // Owner-writable while filling it; the recorded modes are applied at the end, deepest first.
  await fsp.mkdir(entry.path, { recursive: true, mode: 0o700 });
  const children: ChildEntry[] = entry.children ?? [];
  const dirs: ChildEntry[] = [];
  for (const c of children) {
    const p = path.join(entry.path, ...c.rel.split('/'));
    if (c.kind === 'dir') {
      const cst = await lstatOrUndefined(p);
      if (cst && !cst.isDirectory()) await fsp.unlink(p);
      await fsp.mkdir(p, { recursive: true, mode: 0o700 });
      dirs.push(c);
    } else if (c.kind === 'file') await restoreFile(p, path.join(storedDir, ...c.rel.split('/')), c, notes);
    else if (c.kind === 'symlink') await restoreSymlink(p, c, notes);
    else notes.push(`${p}: a ${c.kind} entry is not restored`);
  }
  // Deepest first: filling a directory changes its mtime, so directory times are set last.
  for (const c of dirs.reverse()) {
    const p = path.join(entry.path, ...c.rel.split('/'));
    await applyMeta(p, c, notes);
    await applyMtime(p, c);
  }
  await applyMeta(entry.path, entry, notes);
  await applyMtime(entry.path, entry);
}

/** Removes a path that did not exist before the action: files always, directories only empty. */
async function removeAbsent(p: string, notes: string[]): Promise<boolean> {
  const st = await lstatOrUndefined(p);
  if (!st) return true;
  try {
    if (st.isDirectory()) await fsp.rmdir(p);
    else await fsp.unlink(p);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOTEMPTY' || errnoCode(e) === 'EEXIST') {
      notes.push(`${p}: did not exist before but is not empty now; left in place`);
      return false;
    }
    throw e;
  }
}

/**
 * Restores every entry of a manifest found in `dir`. Returns the paths put back and notes about
 * what could not be (owner without privilege, non-empty new directories).
 */
export async function restoreEntries(dir: string, entries: readonly ManifestEntry[]): Promise<{ restored: string[]; notes: string[] }> {
  const restored: string[] = [];
  const notes: string[] = [];
  for (const e of entries) {
    if (e.kind === 'absent') continue;
    if (e.metadataOnly) {
      if (await lstatOrUndefined(e.path)) {
        await applyMeta(e.path, e, notes);
        restored.push(e.path);
      } else notes.push(`${e.path}: gone; only its metadata was backed up`);
    } else if (e.kind === 'file' && e.stored) {
      await restoreFile(e.path, path.join(dir, e.stored), e, notes);
      restored.push(e.path);
    } else if (e.kind === 'dir' && e.stored) {
      await restoreDir(e, path.join(dir, e.stored), notes);
      restored.push(e.path);
    } else if (e.kind === 'symlink') {
      await restoreSymlink(e.path, e, notes);
      restored.push(e.path);
    } else notes.push(`${e.path}: a ${e.kind} entry is not restored`);
  }
  // Deepest first, so a created directory is emptied of created children before it is removed.
  const absent = entries.filter((e) => e.kind === 'absent').sort((a, b) => b.path.length - a.path.length);
  for (const e of absent) if (await removeAbsent(e.path, notes)) restored.push(e.path);
  return { restored, notes };
}
