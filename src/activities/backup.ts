/**
 * Backups taken before an action changes anything, and their restore (the saga's compensation).
 *
 * Layout: `<backupRoot>/<incidentId>/<label>/manifest.json` plus `data/<n>` copies. The folder is
 * deterministic, so a retried activity finds its own complete backup and reuses it instead of
 * taking a second one (which could capture the half-fixed state). A backup is built in a temp
 * folder and renamed into place with its manifest, so a folder with a manifest is complete.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema';
import type { BackupTarget } from './actions/types';
import { captureEntry } from './backup/capture';
import { MANIFEST_NAME, readManifest, safeComponent, type Manifest, type ManifestEntry } from './backup/manifest';
import { restoreEntries } from './backup/restore';
import { errnoCode } from './safety/errors';
import { isInside, resolveInsideRoots } from './safety/paths';

export type { Manifest, ManifestEntry } from './backup/manifest';

/** A taken backup. Plain JSON: it travels through Temporal to the compensation. */
export interface BackupRef {
  dir: string;
  manifestPath: string;
  entries: number;
}

export interface BackupOptions {
  /** Usually `backupRootFor(config)`. */
  backupRoot: string;
  incidentId: string;
  /** Names the step, e.g. `02-log_rotate`; the same label reuses the same backup. */
  label: string;
  /** When given, every target must resolve inside these (defence in depth; plan() already checks). */
  roots?: readonly string[];
  signal?: AbortSignal;
}

/**
 * Where backups live: `<daemon.data_dir>/backups`.
 *
 * @example backupRootFor(config) // '/var/lib/autofix/backups'
 */
export function backupRootFor(config: Config): string {
  return path.join(config.daemon.data_dir, 'backups');
}

/** The folder of one backup (deterministic). */
export function backupDirFor(opts: Pick<BackupOptions, 'backupRoot' | 'incidentId' | 'label'>): string {
  return path.join(opts.backupRoot, safeComponent(opts.incidentId, 'incident id'), safeComponent(opts.label, 'label'));
}

function refOf(dir: string, m: Manifest): BackupRef {
  return { dir, manifestPath: path.join(dir, MANIFEST_NAME), entries: m.entries.length };
}

/**
 * Copies files and directory trees (and records absent paths) into
 * `<backupRoot>/<incidentId>/<label>/`. Idempotent: a complete backup with that label is reused.
 *
 * @example
 *   const ref = await backupTargets(plan.targets, { backupRoot: backupRootFor(cfg), incidentId, label: '02-log_rotate' });
 */
export async function backupTargets(targets: readonly BackupTarget[], opts: BackupOptions): Promise<BackupRef> {
  const dir = backupDirFor(opts);
  const existing = await readManifest(dir);
  if (existing) return refOf(dir, existing);

  const seen = new Map<string, BackupTarget>();
  for (const t of targets) {
    const p = opts.roots ? await resolveInsideRoots(t.path, opts.roots) : path.resolve(t.path);
    if (isInside(p, opts.backupRoot) || isInside(opts.backupRoot, p)) {
      throw new Error(`cannot back up "${p}": it overlaps the backup folder ${opts.backupRoot}`);
    }
    const prev = seen.get(p);
    seen.set(p, { path: p, metadataOnly: (prev?.metadataOnly ?? true) && (t.metadataOnly ?? false) });
  }

  await fsp.mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
  const tmp = `${dir}.partial-${randomBytes(6).toString('hex')}`;
  await fsp.mkdir(path.join(tmp, 'data'), { recursive: true, mode: 0o700 });
  try {
    const entries: ManifestEntry[] = [];
    let i = 0;
    for (const t of seen.values()) entries.push(await captureEntry(tmp, i++, t.path, t.metadataOnly ?? false, opts.signal));
    const manifest: Manifest = { version: 1, incidentId: opts.incidentId, label: opts.label, createdAt: new Date().toISOString(), entries };
    await fsp.writeFile(path.join(tmp, MANIFEST_NAME), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    try {
      await fsp.rename(tmp, dir);
    } catch (e) {
      // A concurrent attempt finished first: keep its backup (it captured the same state).
      if (errnoCode(e) !== 'ENOTEMPTY' && errnoCode(e) !== 'EEXIST') throw e;
      await fsp.rm(tmp, { recursive: true, force: true });
      const theirs = await readManifest(dir);
      if (!theirs) throw e;
      return refOf(dir, theirs);
    }
    return refOf(dir, manifest);
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Puts back everything a backup recorded: files byte for byte with mode/owner/mtime (sha256
 * verified), deleted entries of backed-up directories, and removes paths that were absent
 * (directories only when empty). Idempotent. Files added to a backed-up directory after the
 * backup are left alone: they are newer data, not the action's doing.
 *
 * @example const { restored } = await restoreBackup(ref);
 */
export async function restoreBackup(ref: BackupRef, opts: { roots?: readonly string[] } = {}): Promise<{ restored: string[]; notes: string[] }> {
  const manifest = await readManifest(ref.dir);
  if (!manifest) throw new Error(`no backup manifest at ${ref.manifestPath}; the backup is incomplete or was removed`);
  if (opts.roots) for (const e of manifest.entries) await resolveInsideRoots(e.path, opts.roots);
  return restoreEntries(ref.dir, manifest.entries);
}

/** An earlier backed-up copy of one file. */
export interface BackedUpCopy {
  /** The stored copy inside the backup folder. */
  file: string;
  /** mtime of the original when it was backed up. */
  mtimeMs: number;
  backupDir: string;
}

/**
 * Every stored copy of `original` in any backup under `backupRoot` (as a file target or inside
 * a backed-up directory), newest original mtime first. Used by backup_and_fix_json.
 */
export async function findBackedUpCopies(backupRoot: string, original: string): Promise<BackedUpCopy[]> {
  const out: BackedUpCopy[] = [];
  const list = async (d: string) => fsp.readdir(d).catch((e: unknown) => (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR' ? [] : Promise.reject(e)));
  for (const inc of await list(backupRoot)) {
    for (const label of await list(path.join(backupRoot, inc))) {
      const dir = path.join(backupRoot, inc, label);
      let m: Manifest | undefined;
      try {
        m = await readManifest(dir);
      } catch {
        continue; // a damaged manifest is no source of truth
      }
      for (const e of m?.entries ?? []) {
        if (!e.stored) continue;
        if (e.kind === 'file' && e.path === original) out.push({ file: path.join(dir, e.stored), mtimeMs: e.mtimeMs ?? 0, backupDir: dir });
        if (e.kind === 'dir' && isInside(original, e.path) && original !== e.path) {
          const rel = path.relative(e.path, original).split(path.sep).join('/');
          const c = e.children?.find((x) => x.rel === rel && x.kind === 'file');
          if (c) out.push({ file: path.join(dir, e.stored, ...rel.split('/')), mtimeMs: c.mtimeMs ?? 0, backupDir: dir });
        }
      }
    }
  }
  return out.sort((a, b) => b.mtimeMs - a.mtimeMs);
}
