/**
 * The managed roots, pinned. Every file action opens them once (their ancestors must be trusted,
 * see trust.ts) and reaches everything it touches from these fds, one O_NOFOLLOW component at a
 * time: nothing below a root is ever resolved by name twice, and no symlink below a root is ever
 * followed. A path is "inside the roots" when it lies below one of them, lexically (by the root's
 * configured or real path) or through symlinks in trusted directories that lead into one.
 */
import path from 'node:path';
import { DirHandle } from './dir';
import { configError, refused, unsafePath } from './errors';
import { sameIdentity } from './identity';
import { isInside, joinAbsolute, splitAbsolute } from './names';
import { walkTrusted } from './resolve';

/** One managed root. `dir` is undefined when it does not exist (yet). */
export interface Root {
  /** As configured (normalized). */
  configured: string;
  /** Its real path (symlinks in its trusted ancestors resolved). */
  real: string;
  dir?: DirHandle;
}

/** Where a path lies: a root and the components below it. */
export interface Location {
  root: Root;
  /** Components below the root; empty for the root itself. */
  rel: string[];
  /** root.real joined with rel: the path reported in results and messages. */
  path: string;
}

/** The pinned managed roots of one action. Close them when done (see withRoots). */
export class Roots {
  private constructor(readonly list: Root[]) {}

  /**
   * Pins every configured root. Throws `UnsafePathError` for an empty list or a root below an
   * untrusted directory, `ConfigError` for "/" or a root that is not a directory.
   *
   * @example const roots = await Roots.open(config.managed.roots);
   */
  static async open(configured: readonly string[]): Promise<Roots> {
    if (configured.length === 0) {
      throw unsafePath('managed.roots is empty: autofix touches no file until managed.roots names the directories it may change');
    }
    const list: Root[] = [];
    try {
      for (const r of configured) list.push(await openRoot(r));
    } catch (e) {
      for (const r of list) await r.dir?.close();
      throw e;
    }
    return new Roots(list);
  }

  /**
   * Finds the root `p` lies in. Throws `UnsafePathError` when it lies in none.
   *
   * @example roots.locate('/srv/app/logs/app.log') // { root, rel: ['logs', 'app.log'], path }
   */
  async locate(p: string): Promise<Location> {
    const parts = splitAbsolute(p);
    const norm = joinAbsolute(parts);
    let best: { root: Root; base: string } | undefined;
    for (const root of this.list) {
      for (const base of [root.real, root.configured]) {
        if (isInside(norm, base) && (!best || base.length > best.base.length)) best = { root, base };
      }
    }
    if (best) {
      const rel = path.relative(best.base, norm).split('/').filter((s) => s.length > 0);
      return { root: best.root, rel, path: joinAbsolute([...splitAbsolute(best.root.real), ...rel]) };
    }
    return this.locateThroughLinks(p);
  }

  /** A path that reaches a root through symlinks in trusted directories (e.g. /var/log/app → /data/app). */
  private async locateThroughLinks(p: string): Promise<Location> {
    let found: Root | undefined;
    const stopAt = (d: DirHandle) => (found = this.list.find((r) => r.dir && sameIdentity(r.dir.id, d.id))) !== undefined;
    try {
      const walk = await walkTrusted(p, { what: `path "${p}"`, stopAt });
      await walk.dir.close();
      if (walk.stopped === 'stop' && found) {
        return { root: found, rel: walk.rest, path: joinAbsolute([...splitAbsolute(found.real), ...walk.rest]) };
      }
    } catch {
      // An untrusted directory on the way: not a way into the roots either.
    }
    throw unsafePath(`path "${p}" is outside managed.roots [${this.list.map((r) => r.real).join(', ')}]; expected a path inside one of them`);
  }

  /**
   * Creates a root that does not exist yet (mode `mode`) in its parent, which must exist and be
   * trusted, and pins it. Only the root itself is created: its ancestors lie outside the roots.
   * Returns false when it exists already (someone else made it; it is pinned all the same).
   */
  async createRoot(root: Root, mode: number): Promise<boolean> {
    if (root.dir) return false;
    const what = `managed.roots entry "${root.configured}"`;
    const walk = await walkTrusted(root.real, { what });
    try {
      if (walk.stopped !== 'missing' || walk.rest.length !== 1) {
        throw refused(`${what}: "${root.real}" does not exist and neither does its parent; autofix creates a missing root only inside an existing directory`);
      }
      const name = walk.rest[0]!;
      const created = await walk.dir.mkdir(name, mode);
      root.dir = await walk.dir.openDir(name);
      return created;
    } finally {
      await walk.dir.close();
    }
  }

  /** Releases every root's fd. */
  async close(): Promise<void> {
    for (const r of this.list) await r.dir?.close();
  }
}

async function openRoot(configured: string): Promise<Root> {
  const norm = joinAbsolute(splitAbsolute(configured));
  const walk = await walkTrusted(norm, { what: `managed.roots entry "${configured}"` });
  const real = joinAbsolute([...splitAbsolute(walk.dir.path), ...walk.rest]);
  if (walk.stopped === 'not-dir') {
    await walk.dir.close();
    throw configError(`managed.roots entry "${configured}" (${real}) exists but is not a directory`);
  }
  if (walk.stopped === 'missing') {
    await walk.dir.close();
    return { configured: norm, real };
  }
  if (real === '/') {
    await walk.dir.close();
    throw configError(`managed.roots entry "${configured}" resolves to "/"; a root must not be the file-system root`);
  }
  return { configured: norm, real, dir: walk.dir };
}

/**
 * Pins the roots, runs `use`, and always releases them.
 *
 * @example await withRoots(cfg.managed.roots, async (roots) => { ... });
 */
export async function withRoots<T>(configured: readonly string[], use: (roots: Roots) => Promise<T>): Promise<T> {
  const roots = await Roots.open(configured);
  try {
    return await use(roots);
  } finally {
    await roots.close();
  }
}
