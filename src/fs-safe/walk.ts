/**
 * Walking a directory tree through fds: each subdirectory is opened relative to its parent's fd
 * (O_NOFOLLOW, and checked to be the inode lstat saw), symlinks are listed and never followed, and
 * directories on another device are listed as mounts, not entered.
 */
import type { Stats } from 'node:fs';
import { FS_CONCURRENCY, mapLimit } from './concurrency';
import type { DirHandle } from './dir';
import { errnoCode } from './errors';
import { identityOf, type Identity } from './identity';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

/** The kind of an lstat result. */
export function kindOf(st: Stats): EntryKind {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return 'other';
}

/** One entry below a walked directory. */
export interface TreeEntry {
  /** Path relative to the walked directory, "/"-separated. */
  rel: string;
  /** The components of its parent directory, relative to the walked directory. */
  parent: string[];
  name: string;
  kind: EntryKind;
  /** lstat when walked (identity, size, mode, owner, mtime). */
  stat: Stats;
  /** Display path. */
  path: string;
}

/** The result of a walk. */
export interface Tree {
  /** Every entry, parents before children, names sorted. */
  entries: TreeEntry[];
  /** The identity of every directory entered, by `rel` ("" for the walked one). */
  dirs: Map<string, Identity>;
  /** Directories on another device: listed, not entered. */
  otherMounts: string[];
}

export interface WalkOptions {
  signal?: AbortSignal;
  /** Stop with an error past this many entries (protects memory on a runaway tree). @default 200000 */
  maxEntries?: number;
}

/**
 * Lists every entry below `top`.
 *
 * @example const tree = await walkTree(cacheDir, { signal });
 */
export async function walkTree(top: DirHandle, opts: WalkOptions = {}): Promise<Tree> {
  const max = opts.maxEntries ?? 200_000;
  const tree: Tree = { entries: [], dirs: new Map([['', top.id]]), otherMounts: [] };
  const visit = async (dir: DirHandle, parent: string[]): Promise<void> => {
    opts.signal?.throwIfAborted();
    const names = await dir.list();
    const stats = await mapLimit(names, FS_CONCURRENCY, (n) => dir.lstat(n));
    for (const [i, name] of names.entries()) {
      const stat = stats[i];
      if (!stat) continue; // removed while walking
      const kind = kindOf(stat);
      const path = dir.child(name);
      if (kind === 'dir' && stat.dev !== top.stat.dev) {
        tree.otherMounts.push(path);
        continue;
      }
      const rel = [...parent, name].join('/');
      tree.entries.push({ rel, parent, name, kind, stat, path });
      if (tree.entries.length > max) throw new Error(`more than ${max} entries below "${top.path}"; refusing to walk further`);
      if (kind === 'dir') await visitChild(dir, name, stat, [...parent, name]);
    }
  };
  const visitChild = async (dir: DirHandle, name: string, stat: Stats, rel: string[]): Promise<void> => {
    let child: DirHandle;
    try {
      child = await dir.openDir(name, identityOf(stat));
    } catch (e) {
      // Swapped or removed since lstat: it stays listed as what was seen; acting on it will
      // re-check and leave it. Anything else (EACCES, EMFILE) is a real failure.
      if (isSwapped(e)) return;
      throw e;
    }
    try {
      tree.dirs.set(rel.join('/'), child.id);
      await visit(child, rel);
    } finally {
      await child.close();
    }
  };
  await visit(top, []);
  return tree;
}

/** True for the errors of a name that changed under us (gone, or no longer that directory). */
export function isSwapped(e: unknown): boolean {
  const code = errnoCode(e);
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return true;
  return (e as { type?: string } | null)?.type === 'UnsafePathError';
}
