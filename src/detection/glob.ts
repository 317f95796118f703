/**
 * Expanding the watched logs' and JSON files' globs on disk, for detection (which reads; file
 * actions expand through fds: src/fs-safe/glob.ts). The rules are those of every path list
 * (src/util/glob-rules.ts): wildcards skip dot names, `**` does not enter dot directories nor
 * symlinked directories, and a symlink a wildcard matches is not followed — the same files the
 * file actions would act on. An explicit (non-glob) path is returned as is: opening it follows
 * symlinks only where root or the worker put them (src/fs-safe/read.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { hasGlob, pathMatches, segmentMatcher } from '../util/glob-rules';

/** True when the path contains a glob wildcard. */
export const isGlob = hasGlob;

/**
 * Expands an absolute glob to the regular files it matches, sorted. Unreadable directories are
 * skipped (a glob matching nothing is not an error).
 *
 * @example expandGlob('/var/log/app/**\/*.log') // ['/var/log/app/a.log', '/var/log/app/x/b.log']
 */
export function expandGlob(pattern: string): string[] {
  const abs = path.resolve(pattern);
  const segs = abs.split('/').filter((s) => s !== '');
  const out = new Set<string>();
  const list = (dir: string): fs.Dirent[] => {
    try {
      return fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return [];
    }
  };
  const walk = (dir: string, i: number, wild: boolean): void => {
    if (i === segs.length) {
      // A name a wildcard matched counts only as itself, never through a symlink.
      const st = lstatOrStat(dir, wild);
      if (st?.isFile()) out.add(dir);
      return;
    }
    const seg = segs[i] as string;
    if (seg === '**') {
      walk(dir, i + 1, true);
      for (const e of list(dir)) if (e.isDirectory() && !e.name.startsWith('.')) walk(path.join(dir, e.name), i, true);
      return;
    }
    if (!hasGlob(seg)) {
      const next = path.join(dir, seg);
      // Below a wildcard a symlink is never followed, whatever the segment (as in fs-safe's walk).
      if (!(wild && lstatOrStat(next, true)?.isSymbolicLink())) walk(next, i + 1, wild);
      return;
    }
    const match = segmentMatcher(seg);
    for (const e of list(dir)) {
      if (!match(e.name) || e.isSymbolicLink()) continue;
      if (i === segs.length - 1 || e.isDirectory()) walk(path.join(dir, e.name), i + 1, true);
    }
  };
  walk('/', 0, false);
  return [...out].sort();
}

/**
 * The files one watched path names: a glob's matches (expandGlob), an explicit path as is (it may
 * not exist yet). Every reader of `watch.logs` and `watch.json_files` lists them through here, so
 * the detector, the watcher and log_analysis read the same files.
 */
export function filesOf(spec: string): string[] {
  return isGlob(spec) ? expandGlob(spec) : [path.resolve(spec)];
}

/** lstat when a wildcard chose the name (a symlink is not the file), stat for an explicit path. */
function lstatOrStat(p: string, wild: boolean): fs.Stats | undefined {
  try {
    return wild ? fs.lstatSync(p) : fs.statSync(p);
  } catch {
    return undefined;
  }
}

/**
 * True when `file` is one of the paths `spec` names: the same path, or a match of the glob under
 * the one set of rules (src/util/glob-rules.ts). Tells whether a remembered cursor still names a
 * watched path, without listing directories.
 *
 * @example globMatches('/var/log/app/**\/*.log', '/var/log/app/x/b.log') // true
 */
export function globMatches(spec: string, file: string): boolean {
  return pathMatches(path.resolve(file), path.resolve(spec));
}
