/** Minimal file globbing for `watch.logs`: `*`, `?` within a path segment, `**` across segments. */
import fs from 'node:fs';
import path from 'node:path';

/** True when the path contains a glob wildcard. */
export function isGlob(p: string): boolean {
  return /[*?]/.test(p);
}

function segmentRegex(seg: string): RegExp {
  const body = seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/**
 * Expands an absolute glob to the regular files it matches, sorted. Unreadable directories are
 * skipped (a glob matching nothing is not an error). Symlinked directories are not followed by
 * `**`, so a link loop cannot hang the scan.
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
  const isFile = (p: string): boolean => {
    try {
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  const walk = (dir: string, i: number): void => {
    if (i === segs.length) {
      if (isFile(dir)) out.add(dir);
      return;
    }
    const seg = segs[i] as string;
    if (seg === '**') {
      walk(dir, i + 1);
      for (const e of list(dir)) if (e.isDirectory()) walk(path.join(dir, e.name), i);
      return;
    }
    if (!isGlob(seg)) {
      walk(path.join(dir, seg), i + 1);
      return;
    }
    const re = segmentRegex(seg);
    for (const e of list(dir)) if (re.test(e.name) && !(e.name.startsWith('.') && !seg.startsWith('.'))) walk(path.join(dir, e.name), i + 1);
  };
  walk('/', 0);
  return [...out].sort();
}
