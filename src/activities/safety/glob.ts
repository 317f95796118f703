/**
 * Safe glob expansion for configured log paths (`*`, `?`, `**`). The directory before the first
 * wildcard must resolve inside `managed.roots`; the walk below it uses lstat only, so it never
 * follows a symlink (a matched symlink is reported, not returned) and never leaves that directory.
 */
import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { resolveInsideRoots } from './paths';
import { errnoCode } from './errors';

const MAGIC = /[*?[]/;

/** True when the path has a wildcard. */
export function hasGlob(p: string): boolean {
  return MAGIC.test(p);
}

/** Compiles one path segment (`*.log`, `app-?.log`) to an anchored regex; `[` is literal. */
function segmentRegex(seg: string): RegExp {
  let src = '';
  for (const ch of seg) {
    if (ch === '*') src += '[^/]*';
    else if (ch === '?') src += '[^/]';
    else src += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  // Like a shell, a wildcard does not match a leading dot unless the pattern has one.
  return new RegExp(seg.startsWith('.') ? `^${src}$` : `^(?!\\.)${src}$`);
}

/**
 * Expands a glob into the regular files it matches (sorted), plus the symlinks it skipped.
 * A path without wildcards is returned as is (resolved and checked).
 *
 * @example await expandGlob('/srv/app/logs/**\/*.log', config.managed.roots)
 */
export async function expandGlob(pattern: string, roots: readonly string[]): Promise<{ files: string[]; skippedSymlinks: string[] }> {
  if (!hasGlob(pattern)) return { files: [await resolveInsideRoots(pattern, roots)], skippedSymlinks: [] };
  const segs = pattern.split('/').filter((s) => s.length > 0);
  const first = segs.findIndex((s) => hasGlob(s));
  const base = await resolveInsideRoots('/' + segs.slice(0, first).join('/'), roots);
  const rest = segs.slice(first);
  const files = new Set<string>();
  const skippedSymlinks: string[] = [];
  const lstat = async (p: string): Promise<Stats | undefined> => {
    try {
      return await fsp.lstat(p);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
  };
  const list = async (dir: string): Promise<string[]> => {
    try {
      return (await fsp.readdir(dir)).sort();
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return [];
      throw e;
    }
  };
  const visit = async (dir: string, i: number, depth: number): Promise<void> => {
    if (depth > 32) return;
    const seg = rest[i];
    if (seg === undefined) return;
    const last = i === rest.length - 1;
    if (seg === '**') {
      await visit(dir, i + 1, depth); // zero directories
      for (const name of await list(dir)) {
        if (name.startsWith('.')) continue;
        const st = await lstat(path.join(dir, name));
        if (st?.isDirectory()) await visit(path.join(dir, name), i, depth + 1);
      }
      return;
    }
    const names = hasGlob(seg) ? (await list(dir)).filter((n) => segmentRegex(seg).test(n)) : [seg];
    for (const name of names) {
      const p = path.join(dir, name);
      const st = await lstat(p);
      if (!st) continue;
      if (st.isSymbolicLink()) skippedSymlinks.push(p);
      else if (last && st.isFile()) files.add(p);
      else if (!last && st.isDirectory()) await visit(p, i + 1, depth + 1);
    }
  };
  await visit(base, 0, 0);
  return { files: [...files].sort(), skippedSymlinks };
}
