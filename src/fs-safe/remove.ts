/**
 * Removing what a walk found, through the fds of the directories it found them in: files and
 * symlinks are unlinked by name inside their pinned directory (a symlink is the link, never its
 * target), directories removed only when empty. Each name must still be the inode walked.
 */
import type { Stats } from 'node:fs';
import type { DirHandle } from './dir';
import { FS_CONCURRENCY, mapLimit } from './concurrency';
import { DirCursor } from './cursor';
import { identityOf, sameIdentity, type Identity } from './identity';
import { isSwapped, type EntryKind, type TreeEntry } from './walk';

export interface Removal {
  removed: string[];
  kept: string[];
}

/** What a plan decided to remove: where (relative to the walked directory) and which inode. */
export interface RemovalEntry {
  parent: string[];
  name: string;
  kind: EntryKind;
  id: Identity;
  /** Display path. */
  path: string;
}

/** The removal entry of a walked entry. */
export function removalOf(e: TreeEntry): RemovalEntry {
  return { parent: e.parent, name: e.name, kind: e.kind, id: identityOf(e.stat), path: e.path };
}

/**
 * True when a file has other hard links: removing this name frees nothing, and a backup does not
 * copy it (another link may be outside the roots), so cleanups leave it for a person to look at.
 */
export function isHardLinked(e: Pick<TreeEntry, 'kind' | 'stat'>): boolean {
  return e.kind === 'file' && e.stat.nlink > 1;
}

/**
 * Removes `entries` (planned below `top`, whose directories had the identities `dirs`):
 * non-directories first, then directories deepest first. `still` may veto a name as it is now
 * (e.g. no longer old enough). Something that is not what was planned any more is kept.
 */
export async function removeEntries(
  top: DirHandle,
  dirs: ReadonlyMap<string, Identity>,
  entries: readonly RemovalEntry[],
  opts: { signal?: AbortSignal; still?: (now: Stats) => boolean } = {},
): Promise<Removal> {
  const out: Removal = { removed: [], kept: [] };
  const cursor = new DirCursor(top, dirs);
  try {
    // Files and links, directory by directory (names in one pinned directory are independent).
    for (const group of byParent(entries.filter((x) => x.kind !== 'dir'))) {
      opts.signal?.throwIfAborted();
      const dir = await openParent(cursor, group[0]!);
      const done = dir ? await mapLimit(group, FS_CONCURRENCY, (e) => unlinkOne(dir, e, opts.still)) : group.map(() => false);
      group.forEach((e, i) => (done[i] ? out.removed : out.kept).push(e.path));
    }
    // Directories deepest first, once emptied.
    for (const e of entries.filter((x) => x.kind === 'dir').reverse()) {
      opts.signal?.throwIfAborted();
      const dir = await openParent(cursor, e);
      ((dir && (await dir.rmdir(e.name, e.id)) !== 'kept') ? out.removed : out.kept).push(e.path);
    }
  } finally {
    await cursor.close();
  }
  return out;
}

/** Entries grouped by parent directory, in first-seen order. */
function byParent(entries: readonly RemovalEntry[]): RemovalEntry[][] {
  const groups = new Map<string, RemovalEntry[]>();
  for (const e of entries) {
    const key = e.parent.join('/');
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  return [...groups.values()];
}

/** The entry's directory, reached again and checked; undefined when it is not the one walked. */
async function openParent(cursor: DirCursor, e: RemovalEntry): Promise<DirHandle | undefined> {
  try {
    return await cursor.open(e.parent);
  } catch (err) {
    if (isSwapped(err)) return undefined;
    throw err;
  }
}

async function unlinkOne(dir: DirHandle, e: RemovalEntry, still?: (now: Stats) => boolean): Promise<boolean> {
  const check = (now: Stats) => sameIdentity(identityOf(now), e.id) && !isHardLinked({ kind: e.kind, stat: now }) && (still?.(now) ?? true);
  return (await dir.unlink(e.name, check)) !== 'kept';
}
