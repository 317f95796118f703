/**
 * Path safety: every path an action touches is resolved (realpath) and must lie inside one of
 * `managed.roots`. Symlinks are resolved by the kernel's rules, so a link that points out of the
 * roots is refused; `..` components are refused outright (configured paths are normalized at
 * load, so a `..` can only come from somewhere it should not).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { configError, errnoCode, unsafePath } from './errors';

/**
 * Realpath of `p`, or — when it does not exist yet — the realpath of its deepest existing
 * ancestor joined with the missing rest. Throws for relative paths, NUL bytes and `..`/`.`.
 *
 * @example await realpathLoose('/srv/app/logs/new-dir') // '/data/app/logs/new-dir' via a link
 */
export async function realpathLoose(p: string): Promise<string> {
  if (typeof p !== 'string' || p.length === 0) throw unsafePath(`empty path; expected an absolute path`);
  if (p.includes('\0')) throw unsafePath(`path ${JSON.stringify(p)} contains a NUL byte`);
  if (!path.isAbsolute(p)) throw unsafePath(`path "${p}" is relative; expected an absolute path`);
  const parts = p.split(/[\\/]+/).filter((s) => s.length > 0);
  if (parts.some((s) => s === '..' || s === '.')) {
    throw unsafePath(`path "${p}" contains a "." or ".." component; expected a normalized absolute path`);
  }
  const missing: string[] = [];
  let cur = path.resolve(p);
  for (;;) {
    try {
      const real = await fsp.realpath(cur);
      return missing.length ? path.join(real, ...missing.reverse()) : real;
    } catch (e) {
      const code = errnoCode(e);
      // ENOENT: walk up. ENOTDIR: an ancestor is a file; the caller's operation will fail later.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      const parent = path.dirname(cur);
      if (parent === cur) throw e;
      missing.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** True when `child` is `parent` or lies below it (both absolute and resolved). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  // "..foo" is a name inside parent; only ".." itself or "../…" leaves it.
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * The realpaths of the configured roots. An empty list refuses everything; a root that resolves
 * to "/" is a config error (it would make every path "managed").
 */
export async function resolveRoots(roots: readonly string[]): Promise<string[]> {
  if (roots.length === 0) {
    throw unsafePath('managed.roots is empty: autofix touches no file until managed.roots names the directories it may change');
  }
  const out: string[] = [];
  for (const r of roots) {
    const real = await realpathLoose(r);
    if (real === path.parse(real).root) throw configError(`managed.roots entry "${r}" resolves to "${real}"; a root must not be the file-system root`);
    out.push(real);
  }
  return out;
}

/**
 * Resolves `p` (realpath; for a path that does not exist yet, the realpath of its deepest
 * existing ancestor plus the rest) and checks it lies inside one of `roots` (themselves
 * realpath'd). Throws a non-retryable `UnsafePathError` otherwise.
 *
 * @example const real = await resolveInsideRoots('/srv/app/logs/app.log', config.managed.roots);
 */
export async function resolveInsideRoots(p: string, roots: readonly string[]): Promise<string> {
  const realRoots = await resolveRoots(roots);
  const real = await realpathLoose(p);
  if (!realRoots.some((r) => isInside(real, r))) {
    const via = real === path.resolve(p) ? '' : ` (it resolves to "${real}", through a symlink)`;
    throw unsafePath(`path "${p}"${via} is outside managed.roots [${realRoots.join(', ')}]; expected a path inside one of them`);
  }
  return real;
}

/**
 * Resolves a list of configured paths, all or nothing: one unsafe path refuses the whole action,
 * before anything is touched.
 */
export async function resolveAllInsideRoots(paths: readonly string[], roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) out.push(await resolveInsideRoots(p, roots));
  return out;
}
