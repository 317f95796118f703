/**
 * Reaching directories below a pinned one: one O_NOFOLLOW component at a time from its fd, so a
 * symlink below a root is never followed and every step is the inode the previous one holds.
 */
import type { DirHandle } from './dir';
import { refused, symlinkRefused } from './errors';
import { identityOf, type Identity } from './identity';
import type { Location } from './roots';

/** The deepest directory reached below a base, and the components that did not exist. */
export interface Below {
  /** Its own handle (the caller closes it), the base itself when `rel` is empty. */
  dir: DirHandle;
  /** Missing components, from the first one that does not exist; empty when all exist. */
  rest: string[];
}

/**
 * Opens `rel` below `base`. Throws `UnsafePathError` for a symlink on the way and `RefusedError`
 * for a file where a directory should be.
 *
 * @example const { dir, rest } = await openBelow(root.dir, ['logs', 'archive']);
 */
export async function openBelow(base: DirHandle, rel: readonly string[]): Promise<Below> {
  let cur = await base.dup();
  try {
    for (let i = 0; i < rel.length; i++) {
      const name = rel[i]!;
      const st = await cur.lstat(name);
      if (!st) return { dir: cur, rest: rel.slice(i) };
      if (st.isSymbolicLink()) throw symlinkRefused(cur.child(name));
      if (!st.isDirectory()) throw refused(`"${cur.child(name)}" is not a directory`);
      const next = await cur.openDir(name, identityOf(st));
      await cur.close();
      cur = next;
    }
    return { dir: cur, rest: [] };
  } catch (e) {
    await cur.close();
    throw e;
  }
}

/** A located path opened for use: its parent directory and its name (none for a root itself). */
export interface Target {
  loc: Location;
  /** The pinned parent directory (the caller closes it); undefined when it does not exist. */
  parent?: DirHandle;
  /** The last component; undefined when the path is a root itself. */
  name?: string;
}

/**
 * Opens the parent directory of a located path. A root itself has no parent inside the roots:
 * its `parent` is undefined and `name` too (use the root's own handle). A missing root or a
 * missing parent leaves `parent` undefined.
 */
export async function openTarget(loc: Location): Promise<Target> {
  const rootDir = loc.root.dir;
  if (!rootDir || loc.rel.length === 0) return { loc };
  const below = await openBelow(rootDir, loc.rel.slice(0, -1));
  if (below.rest.length > 0) {
    await below.dir.close();
    return { loc, name: loc.rel[loc.rel.length - 1] };
  }
  return { loc, parent: below.dir, name: loc.rel[loc.rel.length - 1] };
}

/** Releases a target's parent. */
export async function closeTarget(t: Target): Promise<void> {
  await t.parent?.close();
}

/**
 * Opens directories by path relative to a base, keeping the current branch open (entries are
 * visited parents first, grouped by directory, so each directory is opened once), and checking
 * every step against the identity a plan recorded for it.
 */
export class DirCursor {
  private stack: Array<{ name: string; dir: DirHandle }> = [];

  /** `expected`: planned identities by "/"-joined relative path. */
  constructor(
    private readonly base: DirHandle,
    private readonly expected?: ReadonlyMap<string, Identity>,
  ) {}

  /** The directory `rel` below the base (the base for []); valid until the next open or close. */
  async open(rel: readonly string[]): Promise<DirHandle> {
    let i = 0;
    while (i < this.stack.length && i < rel.length && this.stack[i]!.name === rel[i]) i++;
    while (this.stack.length > i) await this.stack.pop()!.dir.close();
    for (; i < rel.length; i++) {
      const parent = i === 0 ? this.base : this.stack[i - 1]!.dir;
      const name = rel[i]!;
      this.stack.push({ name, dir: await parent.openDir(name, this.expected?.get(rel.slice(0, i + 1).join('/'))) });
    }
    return rel.length === 0 ? this.base : this.stack[rel.length - 1]!.dir;
  }

  /** Releases every directory it opened (not the base). */
  async close(): Promise<void> {
    while (this.stack.length > 0) await this.stack.pop()!.dir.close();
  }
}
