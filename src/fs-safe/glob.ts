/**
 * Glob expansion for configured log paths (the rules of src/util/glob-rules.ts) through fds: the directory before the
 * first wildcard must lie inside a managed root and is reached from the root's fd; below it each
 * directory is opened relative to its parent with O_NOFOLLOW. A symlink that a pattern matches is
 * reported, never followed; a path without wildcards that is a symlink is refused.
 */
import type { Stats } from 'node:fs';
import { hasGlob, segmentMatcher } from '../util/glob-rules';
import type { DirHandle } from './dir';
import { openBelow } from './cursor';
import { symlinkRefused } from './errors';
import { identityOf, type Identity } from './identity';
import { splitAbsolute } from './names';
import type { Location, Roots } from './roots';
import { isSwapped } from './walk';

const MAX_DEPTH = 32;

export { hasGlob };

/** One matched name: where it lies and what lstat saw (identity, size, mode). */
export interface GlobMatch {
  loc: Location;
  stat: Stats;
}

export interface GlobResult {
  matches: GlobMatch[];
  /** Symlinks a wildcard matched (display paths): not followed. */
  skippedSymlinks: string[];
  /** Identity of every directory walked, by "/"-joined path relative to its root. */
  dirs: Map<string, Identity>;
}

/**
 * Expands a pattern into the entries it matches (any kind; the caller picks regular files),
 * sorted by path. A path without wildcards that does not exist matches nothing.
 *
 * @example const { matches } = await expandGlob(roots, '/srv/app/logs/**\/*.log');
 */
export async function expandGlob(roots: Roots, pattern: string): Promise<GlobResult> {
  const segs = splitAbsolute(pattern);
  const first = hasGlob(pattern) ? segs.findIndex((s) => hasGlob(s)) : segs.length - 1;
  const base = await roots.locate('/' + segs.slice(0, first).join('/'));
  const result: GlobResult = { matches: [], skippedSymlinks: [], dirs: new Map() };
  if (!base.root.dir) return result;
  const below = await openBelow(base.root.dir, base.rel);
  try {
    if (below.rest.length > 0) return result;
    const walker = new GlobWalk(base, segs.slice(first), result, !hasGlob(pattern));
    await walker.visit(below.dir, base.rel, 0, 0);
  } finally {
    await below.dir.close();
  }
  result.matches.sort((a, b) => (a.loc.path < b.loc.path ? -1 : a.loc.path > b.loc.path ? 1 : 0));
  return result;
}

class GlobWalk {
  private seen = new Set<string>();

  constructor(
    private readonly base: Location,
    private readonly rest: string[],
    private readonly result: GlobResult,
    /** A literal path: a symlink there is an error, not a skipped match. */
    private readonly literal: boolean,
  ) {}

  /** Matches segment `i` of the pattern in `dir` (at `rel` below the root). */
  async visit(dir: DirHandle, rel: string[], i: number, depth: number): Promise<void> {
    const seg = this.rest[i];
    if (seg === undefined || depth > MAX_DEPTH) return;
    this.result.dirs.set(rel.join('/'), dir.id);
    const last = i === this.rest.length - 1;
    if (seg === '**') {
      await this.visit(dir, rel, i + 1, depth); // zero directories
      for (const name of (await dir.list()).filter((n) => !n.startsWith('.'))) {
        const st = await dir.lstat(name);
        if (st?.isDirectory()) await this.descend(dir, name, st, rel, i, depth);
      }
      return;
    }
    const match = segmentMatcher(seg);
    const names = hasGlob(seg) ? (await dir.list()).filter((n) => match(n)) : [seg];
    for (const name of names) {
      const st = await dir.lstat(name);
      if (!st) continue;
      if (st.isSymbolicLink()) {
        if (this.literal) throw symlinkRefused(dir.child(name));
        this.result.skippedSymlinks.push(dir.child(name));
      } else if (last) this.add(dir, name, st, rel);
      else if (st.isDirectory()) await this.descend(dir, name, st, rel, i + 1, depth);
    }
  }

  private add(dir: DirHandle, name: string, stat: Stats, rel: string[]): void {
    const path = dir.child(name);
    if (this.seen.has(path)) return;
    this.seen.add(path);
    const root = this.base.root;
    this.result.matches.push({ loc: { root, rel: [...rel, name], path }, stat });
  }

  private async descend(dir: DirHandle, name: string, st: Stats, rel: string[], i: number, depth: number): Promise<void> {
    let child: DirHandle;
    try {
      child = await dir.openDir(name, identityOf(st));
    } catch (e) {
      if (isSwapped(e)) return; // swapped since lstat: not followed
      throw e;
    }
    try {
      await this.visit(child, [...rel, name], i, depth + 1);
    } finally {
      await child.close();
    }
  }
}
