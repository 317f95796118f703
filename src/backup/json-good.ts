/**
 * Last-known-good copies of the watched JSON files. Each detection loop that checks JSON files
 * copies every watched file that parses and changed since it was last seen into
 * `<data_dir>/json-good/<key>/` (0700 store, 0600 copies, fsynced), keeping the newest
 * `backups.json_versions`. `backup_and_fix_json` restores the newest one byte for byte.
 *
 * The files are reached like every file action reaches them (src/fs-safe): from a pinned managed
 * root, O_NOFOLLOW, the inode checked, a hard-linked file refused — a watched path the app user
 * turned into a symlink or a hard link to a secret is never copied, so it can never be
 * "restored" into the app's directory. A watched file outside the roots gets no copies.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema';
import { closeTarget, ensureTrustedStore, expandGlob, hasGlob, openTarget, withFile, withRoots, type Location, type Roots } from '../fs-safe';
import { errnoCode } from '../safety/errors';
import { syncDir, writeDurably } from './durable';

/** Files larger than this are neither parsed each loop nor copied (JSON.parse needs them whole). */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** One kept version. */
export interface GoodVersion {
  /** File name inside the file's folder. */
  name: string;
  sha256: string;
  size: number;
  /** When it was copied (epoch ms). */
  savedMs: number;
}

/** The per-file index. */
interface GoodIndex {
  path: string;
  /** What the file was when last looked at: an unchanged file is not read again. */
  seen?: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number };
  versions: GoodVersion[];
}

type Cfg = Pick<Config, 'daemon' | 'backups' | 'managed' | 'watch'>;

/** `<data_dir>/json-good`. */
export function jsonGoodStore(cfg: Pick<Config, 'daemon'>): string {
  return path.join(cfg.daemon.data_dir, 'json-good');
}

/** The folder of one watched path (a hash of it: paths may be long or hold odd characters). */
function folderOf(cfg: Pick<Config, 'daemon'>, file: string): string {
  return path.join(jsonGoodStore(cfg), createHash('sha256').update(file).digest('hex').slice(0, 24));
}

/** True when `data` parses as JSON (a UTF-8 BOM allowed, as the detection allows it). */
export function parsesAsJson(data: Buffer): boolean {
  let text = data.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

async function readIndex(dir: string, file: string): Promise<GoodIndex> {
  try {
    const raw = JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8')) as GoodIndex;
    if (raw.path === file && Array.isArray(raw.versions)) return raw;
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT' && !(e instanceof SyntaxError)) throw e;
  }
  return { path: file, versions: [] };
}

async function writeIndex(dir: string, index: GoodIndex): Promise<void> {
  const tmp = path.join(dir, `.index.${randomBytes(4).toString('hex')}.tmp`);
  await writeDurably(tmp, JSON.stringify(index, null, 2) + '\n', 0o600);
  await fsp.rename(tmp, path.join(dir, 'index.json'));
  await syncDir(dir);
}

/** Copies one located file when it changed and parses; returns true when a new version was kept. */
async function snapshotOne(cfg: Cfg, loc: Location): Promise<boolean> {
  const dir = folderOf(cfg, loc.path);
  const t = await openTarget(loc);
  try {
    if (!t.parent || t.name === undefined) return false;
    return await withFile(t.parent, t.name, { singleLinkFor: 'keep a copy of it' }, async (f) => {
      if (!f) return false;
      const st = f.stat;
      const index = await readIndex(dir, loc.path);
      const seen = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
      if (index.seen && JSON.stringify(index.seen) === JSON.stringify(seen)) return false;
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      index.seen = seen;
      const data = st.size <= MAX_JSON_BYTES ? await f.fh.readFile() : undefined;
      const sha = data && parsesAsJson(data) ? createHash('sha256').update(data).digest('hex') : undefined;
      if (!data || !sha || index.versions[0]?.sha256 === sha) {
        await writeIndex(dir, index);
        return false;
      }
      const savedMs = Date.now();
      const name = `${savedMs}-${sha.slice(0, 12)}.json`;
      await writeDurably(path.join(dir, name), data, 0o600);
      index.versions.unshift({ name, sha256: sha, size: data.length, savedMs });
      const dropped = index.versions.splice(cfg.backups.json_versions);
      await writeIndex(dir, index);
      for (const v of dropped) await fsp.rm(path.join(dir, v.name), { force: true });
      return true;
    });
  } finally {
    await closeTarget(t);
  }
}

/** The watched JSON files (globs expanded) inside the roots, located. */
async function watchedJson(roots: Roots, patterns: readonly string[]): Promise<Location[]> {
  const out = new Map<string, Location>();
  for (const p of patterns) {
    try {
      if (hasGlob(p)) {
        for (const m of (await expandGlob(roots, p)).matches) if (m.stat.isFile()) out.set(m.loc.path, m.loc);
      } else {
        const loc = await roots.locate(p);
        out.set(loc.path, loc);
      }
    } catch (e) {
      const type = (e as { type?: string }).type;
      if (type !== 'UnsafePathError' && type !== 'RefusedError' && errnoCode(e) !== 'ENOENT') throw e;
      // outside the roots, or a symlink: no copies (see the module comment)
    }
  }
  return [...out.values()];
}

/**
 * Keeps a copy of every watched JSON file that parses and changed since the last look. Returns
 * the paths of which a new version was kept. A file that cannot be copied safely is skipped.
 *
 * @example await snapshotGoodJson(cfg) // ['/srv/app/data/settings.json']
 */
export async function snapshotGoodJson(cfg: Cfg): Promise<string[]> {
  if (cfg.watch.json_files.length === 0 || cfg.managed.roots.length === 0) return [];
  await ensureTrustedStore(jsonGoodStore(cfg));
  return withRoots(cfg.managed.roots, async (roots) => {
    const saved: string[] = [];
    for (const loc of await watchedJson(roots, cfg.watch.json_files)) {
      try {
        if (await snapshotOne(cfg, loc)) saved.push(loc.path);
      } catch (e) {
        const type = (e as { type?: string }).type;
        if (type !== 'UnsafePathError' && type !== 'RefusedError') throw e;
      }
    }
    return saved;
  });
}

/** A kept version ready to be restored: its bytes, verified against the recorded sha256. */
export interface GoodCopy extends GoodVersion {
  file: string;
  data: Buffer;
}

/**
 * The newest kept version of `file` whose bytes still match their sha256 and parse; undefined
 * when there is none.
 */
export async function lastGoodJson(cfg: Pick<Config, 'daemon'>, file: string): Promise<GoodCopy | undefined> {
  const dir = folderOf(cfg, file);
  const index = await readIndex(dir, file);
  for (const v of index.versions) {
    const stored = path.join(dir, path.basename(v.name));
    const data = await fsp.readFile(stored).catch(() => undefined);
    if (!data || createHash('sha256').update(data).digest('hex') !== v.sha256 || !parsesAsJson(data)) continue;
    return { ...v, file: stored, data };
  }
  return undefined;
}

/** Every kept version of `file`, newest first (for operators and tests). */
export async function goodVersionsOf(cfg: Pick<Config, 'daemon'>, file: string): Promise<GoodVersion[]> {
  return (await readIndex(folderOf(cfg, file), file)).versions;
}

