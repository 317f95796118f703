/**
 * Path and name validation. Configured paths are absolute and normalized; a name handed to a
 * directory fd is one component, so it can never climb out of that directory.
 */
import path from 'node:path';
import { unsafePath } from './errors';

/**
 * The components of an absolute, normalized path. Throws `UnsafePathError` for a relative path,
 * a NUL byte, or a "." / ".." component (configured paths are normalized at load, so a ".." can
 * only come from somewhere it should not).
 *
 * @example splitAbsolute('/srv/app/logs') // ['srv', 'app', 'logs']
 */
export function splitAbsolute(p: string): string[] {
  if (typeof p !== 'string' || p.length === 0) throw unsafePath('empty path; expected an absolute path');
  if (p.includes('\0')) throw unsafePath(`path ${JSON.stringify(p)} contains a NUL byte`);
  if (!path.isAbsolute(p)) throw unsafePath(`path "${p}" is relative; expected an absolute path`);
  const parts = p.split('/').filter((s) => s.length > 0);
  if (parts.some((s) => s === '..' || s === '.')) {
    throw unsafePath(`path "${p}" contains a "." or ".." component; expected a normalized absolute path`);
  }
  return parts;
}

/** Throws unless `name` is a single path component (what a directory fd may be asked for). */
export function assertName(name: string): void {
  if (name.length === 0 || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw unsafePath(`${JSON.stringify(name)} is not a single file name`);
  }
}

/** Joins components under `/`. */
export function joinAbsolute(parts: readonly string[]): string {
  return '/' + parts.join('/');
}

/**
 * True when `child` is `parent` or lies below it, component-wise (both absolute, normalized).
 *
 * @example isInside('/a/b', '/a') // true; isInside('/ab', '/a') // false
 */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  // "..foo" is a name inside parent; only ".." itself or "../…" leaves it.
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
