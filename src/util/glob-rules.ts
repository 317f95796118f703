/**
 * The one set of glob rules for every path list of the config (watched logs and JSON files,
 * rotation files, pattern `files`, the watched-file check of the activities), on picomatch:
 * `*` and `?` within one path segment, `**` across directories, `[…]` classes, and — as in a
 * shell — no wildcard matches a name that starts with "." unless the pattern's segment does.
 *
 * The walkers that expand a glob on disk stay two, because they walk differently: detection reads
 * (src/detection/glob.ts) and file actions change (src/fs-safe/glob.ts, through pinned directory
 * fds). Both match names with `segmentMatcher`, skip dot directories under `**`, and never follow
 * a symlink a wildcard matched; so the daemon never scans a file that rotation would not touch.
 */
import picomatch from 'picomatch';

/**
 * True when `p` has a wildcard.
 *
 * @example hasGlob('/var/log/app/*.log') // true
 */
export function hasGlob(p: string): boolean {
  return picomatch.scan(p).isGlob;
}

const segmentCache = new Map<string, (name: string) => boolean>();

/**
 * A matcher of one path segment (`*.log`, `app-?.log`, `[ab]*`) against a directory entry's name.
 *
 * @example segmentMatcher('*.log')('app.log') // true; ('.hidden.log') // false
 */
export function segmentMatcher(seg: string): (name: string) => boolean {
  let m = segmentCache.get(seg);
  if (!m) {
    const pm = picomatch(seg, { dot: seg.startsWith('.') });
    // One argument only: picomatch's second one asks for a result object (truthy), which
    // Array.filter's index would pass by accident.
    segmentCache.set(seg, (m = (name: string) => pm(name)));
  }
  return m;
}

/**
 * True when the absolute `file` matches the absolute `glob` (or equals it).
 *
 * @example pathMatches('/srv/app/logs/2026/app.log', '/srv/app/logs/**\/*.log') // true
 */
export function pathMatches(file: string, glob: string): boolean {
  return pathMatcher(glob)(file);
}

const pathCache = new Map<string, (file: string) => boolean>();

/**
 * `pathMatches` for one glob, compiled once (for matching many paths, e.g. on every inotify event).
 *
 * @example pathMatcher('/srv/app/logs/*.log')('/srv/app/logs/app.log') // true
 */
export function pathMatcher(glob: string): (file: string) => boolean {
  let m = pathCache.get(glob);
  if (!m) {
    const pm = picomatch(glob);
    pathCache.set(glob, (m = (file: string) => file === glob || pm(file)));
  }
  return m;
}
