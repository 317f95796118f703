/**
 * Walking and emptying directory trees without following symlinks (lstat only) and without
 * crossing into another mounted file system. A symlink found inside a managed directory is
 * itself inside the roots, so it may be removed — its target never is.
 */
import type { Stats } from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode } from './errors';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

/** One entry below a walked directory. */
export interface WalkEntry {
  path: string;
  /** Path relative to the walked directory, with "/" separators. */
  rel: string;
  kind: EntryKind;
  stat: Stats;
}

/** The kind of an lstat result. */
export function kindOf(st: Stats): EntryKind {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return 'other';
}

export interface WalkOptions {
  signal?: AbortSignal;
  /** Stop with an error past this many entries (protects memory on a runaway tree). @default 200000 */
  maxEntries?: number;
}

/**
 * Lists every entry below `dir` (a resolved directory), parents before children. Symlinks are
 * listed, never followed; directories on another device are listed in `otherMounts`, not entered.
 *
 * @example const { entries } = await walkTree('/srv/app/cache');
 */
export async function walkTree(dir: string, opts: WalkOptions = {}): Promise<{ entries: WalkEntry[]; otherMounts: string[] }> {
  const max = opts.maxEntries ?? 200_000;
  const rootStat = await fsp.lstat(dir);
  const entries: WalkEntry[] = [];
  const otherMounts: string[] = [];
  const visit = async (abs: string, rel: string): Promise<void> => {
    opts.signal?.throwIfAborted();
    let names: string[];
    try {
      names = await fsp.readdir(abs);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return; // removed while walking
      throw e;
    }
    names.sort();
    for (const name of names) {
      const p = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      let st: Stats;
      try {
        st = await fsp.lstat(p);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue;
        throw e;
      }
      const kind = kindOf(st);
      if (kind === 'dir' && st.dev !== rootStat.dev) {
        otherMounts.push(p);
        continue;
      }
      entries.push({ path: p, rel: r, kind, stat: st });
      if (entries.length > max) throw new Error(`more than ${max} entries below "${dir}"; refusing to walk further`);
      if (kind === 'dir') await visit(p, r);
    }
  };
  await visit(dir, '');
  return { entries, otherMounts };
}

/**
 * True when `p`'s parent directory still resolves to itself, i.e. nobody swapped a directory on
 * the walked path for a symlink since the walk (which would redirect an unlink elsewhere).
 */
async function parentUnchanged(p: string): Promise<boolean> {
  const parent = path.dirname(p);
  try {
    return (await fsp.realpath(parent)) === parent;
  } catch {
    return false;
  }
}

/**
 * Removes one walked entry: unlinks a file or symlink (never its target), removes a directory
 * only when empty. Idempotent: an entry already gone counts as removed. Returns false when it was
 * left in place (non-empty directory, or its parent changed under us).
 */
export async function removeEntry(entry: Pick<WalkEntry, 'path' | 'kind'>): Promise<boolean> {
  if (!(await parentUnchanged(entry.path))) return false;
  try {
    if (entry.kind === 'dir') await fsp.rmdir(entry.path);
    else await fsp.unlink(entry.path);
    return true;
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') return true;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EBUSY') return false;
    throw e;
  }
}

/**
 * Removes everything below `dir` (not `dir` itself): files and symlinks first, then directories
 * deepest first. Returns what was removed and what was left (mounts, changed parents).
 */
export async function emptyDirectory(dir: string, opts: WalkOptions = {}): Promise<{ removed: string[]; kept: string[] }> {
  const { entries, otherMounts } = await walkTree(dir, opts);
  const removed: string[] = [];
  const kept: string[] = [...otherMounts];
  for (const e of entries.filter((x) => x.kind !== 'dir')) {
    opts.signal?.throwIfAborted();
    ((await removeEntry(e)) ? removed : kept).push(e.path);
  }
  for (const e of entries.filter((x) => x.kind === 'dir').reverse()) {
    ((await removeEntry(e)) ? removed : kept).push(e.path);
  }
  return { removed, kept };
}

/**
 * Files and symlinks below the given resolved directories whose own mtime (lstat) is older than
 * `cutoffMs`. Directories are never selected. Missing directories are reported, not an error.
 */
export async function findOldFiles(
  dirs: readonly string[],
  cutoffMs: number,
  opts: WalkOptions = {},
): Promise<{ files: WalkEntry[]; missingDirs: string[]; otherMounts: string[] }> {
  const files: WalkEntry[] = [];
  const missingDirs: string[] = [];
  const otherMounts: string[] = [];
  for (const d of dirs) {
    let st: Stats;
    try {
      st = await fsp.lstat(d);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') {
        missingDirs.push(d);
        continue;
      }
      throw e;
    }
    if (!st.isDirectory()) {
      missingDirs.push(d);
      continue;
    }
    const walked = await walkTree(d, opts);
    otherMounts.push(...walked.otherMounts);
    for (const e of walked.entries) {
      if ((e.kind === 'file' || e.kind === 'symlink') && e.stat.mtimeMs < cutoffMs) files.push(e);
    }
  }
  return { files, missingDirs, otherMounts };
}
