/**
 * `error_patterns[].files`: the log files a pattern applies to, as globs (picomatch syntax:
 * `*`, `**`, `?`, `[...]`, `{a,b}`). A glob without `/` matches the file name (`*access*`), one
 * with `/` the absolute path (made absolute against the config file's directory at load). A
 * glob starting with `!` excludes. A file is in scope when it matches some non-`!` glob (or
 * there is none) and no `!` glob. No `files` = every watched log.
 */
import picomatch from 'picomatch';

/** One glob as a test: a name glob (no "/") matches the base name, a path glob the whole path. */
function globTest(glob: string): (file: string) => boolean {
  return picomatch(glob, { dot: true, basename: !glob.includes('/') });
}

/** True when any of `globs` matches. */
function anyOf(globs: string[]): (file: string) => boolean {
  const tests = globs.map(globTest);
  return (file) => tests.some((t) => t(file));
}

/**
 * The scope test of a pattern's `files` (see the module comment).
 *
 * @example fileScope(['*access*'])('/var/log/nginx/access.log') // true
 * @example fileScope(['!*access*'])('/var/log/nginx/access.log') // false
 */
export function fileScope(globs: readonly string[] | undefined): (file: string) => boolean {
  if (!globs || globs.length === 0) return () => true;
  const include = globs.filter((g) => !g.startsWith('!'));
  const isIncluded = include.length > 0 ? anyOf(include) : () => true;
  const isExcluded = anyOf(globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1)));
  return (file) => isIncluded(file) && !isExcluded(file);
}
