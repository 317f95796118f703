/**
 * Backups taken before an action changes anything, and their restore (the saga's compensation).
 *
 * Layout: `<store>/<incidentId>/<runId>/<label>/manifest.json` plus `data/<n>` copies. Each saga
 * RUN has its own folder: two runs of the same incident id (a retry, the same pattern in the same
 * cooldown bucket) never share a backup, so one run's compensation can never write another run's
 * older bytes over newer data. Within a run the folder is deterministic, so a retried activity
 * finds its own complete backup and reuses it instead of taking a second one (which could capture
 * the half-fixed state). A backup is built in a temp folder, every copy, the manifest and every
 * folder fsynced, then renamed into place: a folder with a manifest is complete and on disk
 * before the action runs.
 *
 * The store must be trusted all the way from "/" (src/fs-safe/store.ts), so paths inside it are
 * used as they are. The backed-up files are reached and restored only through fds from their
 * pinned managed roots (capture.ts, restore.ts): a backup never reads, and a restore never
 * writes, anything outside the roots, whatever the app user swaps meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema';
import { ensureTrustedStore, isInside, isTrustedStore, withRoots, type Location } from '../fs-safe';
import type { BackupTarget } from '../actions/types';
import { captureEntry } from './capture';
import { makeDirsDurably, syncDir, syncTree, writeDurably } from './durable';
import { MANIFEST_NAME, readManifest, safeComponent, type BackupMode, type Manifest, type ManifestEntry } from './manifest';
import { restoreEntries } from './restore';
import { restoreRedisDump } from './redis';
import { chooseBackupMode } from './space';
import { errnoCode } from '../safety/errors';

export type { BackupMode, Manifest, ManifestEntry } from './manifest';

/** A taken backup. Plain JSON: it travels through Temporal to the compensation. */
export interface BackupRef {
  dir: string;
  manifestPath: string;
  entries: number;
  /** The store it lives in (absent in refs recorded before stores were named). */
  store?: string;
  /** `manifest`: names, sizes and sha256 only; `reason` says why. @default 'content' */
  mode?: BackupMode;
  reason?: string;
  /** Compensation leaves what the action removed in place (space-freeing actions). */
  keepsDeletions?: boolean;
  /**
   * A manifest-only backup that could not be written (the store's file system is full too): its
   * entries (at most INLINE_ENTRIES) travel in this result, so the incident's history keeps them.
   */
  inline?: Array<{ path: string; size?: number; sha256?: string }>;
}

/** At most this many entries of an unwritable manifest are kept in the result. */
const INLINE_ENTRIES = 200;

export interface BackupOptions {
  /** The store: usually `backupRootFor(config)`. */
  backupRoot: string;
  incidentId: string;
  /** The saga run (workflow run id): each run has its own folder. */
  runId: string;
  /** Names the step, e.g. `02-log_rotate`; the same label in the same run reuses the same backup. */
  label: string;
  /** `managed.roots`: every target must lie inside one; it is reached from that root's fd. */
  roots: readonly string[];
  /**
   * The action frees space: keep copies only when they fit and do not fill the file system
   * (`thresholdPercent`, the disk check's), and never put back its deletions.
   */
  freesSpace?: { thresholdPercent: number };
  /** cache_clear with Redis: the action will DUMP the keys under this prefix into the backup. */
  redisPrefix?: string;
  signal?: AbortSignal;
}

/** Name of the Redis dump a cache_clear writes into its backup folder. */
export const REDIS_DUMP_NAME = 'redis.jsonl';

/**
 * Where backups live: `backups.dir`, else `<daemon.data_dir>/backups`.
 *
 * @example backupRootFor(config) // '/var/lib/autofix/backups'
 */
export function backupRootFor(config: Pick<Config, 'daemon' | 'backups'>): string {
  return config.backups?.dir ?? path.join(config.daemon.data_dir, 'backups');
}

/** The folder of one run's backups (deterministic). */
export function runDirFor(opts: Pick<BackupOptions, 'backupRoot' | 'incidentId' | 'runId'>): string {
  return path.join(opts.backupRoot, safeComponent(opts.incidentId, 'incident id'), safeComponent(opts.runId, 'run id'));
}

/** The folder of one backup (deterministic). */
export function backupDirFor(opts: Pick<BackupOptions, 'backupRoot' | 'incidentId' | 'runId' | 'label'>): string {
  return path.join(runDirFor(opts), safeComponent(opts.label, 'label'));
}

function refOf(dir: string, store: string, m: Manifest): BackupRef {
  return {
    dir,
    manifestPath: path.join(dir, MANIFEST_NAME),
    entries: m.entries.length,
    store,
    mode: m.mode ?? 'content',
    ...(m.reason ? { reason: m.reason } : {}),
    ...(m.keepsDeletions ? { keepsDeletions: true } : {}),
  };
}

/**
 * Copies files and directory trees (and records absent paths) into
 * `<backupRoot>/<incidentId>/<runId>/<label>/`. Idempotent within a run: a complete backup
 * with that label is reused.
 *
 * @example
 *   const ref = await backupTargets(plan.targets, { backupRoot: backupRootFor(cfg), roots: cfg.managed.roots, incidentId, runId, label: '02-log_rotate' });
 */
export async function backupTargets(targets: readonly BackupTarget[], opts: BackupOptions): Promise<BackupRef> {
  const dir = backupDirFor(opts);
  await ensureTrustedStore(opts.backupRoot);
  const existing = await readManifest(dir);
  if (existing) return refOf(dir, opts.backupRoot, existing);
  return withRoots(opts.roots, async (roots) => {
    const seen = new Map<string, { loc: Location; metadataOnly: boolean }>();
    for (const t of targets) {
      assertNoOverlap(path.resolve(t.path), opts.backupRoot);
      const loc = await roots.locate(t.path);
      assertNoOverlap(loc.path, opts.backupRoot);
      const prev = seen.get(loc.path);
      seen.set(loc.path, { loc, metadataOnly: (prev?.metadataOnly ?? true) && (t.metadataOnly ?? false) });
    }
    const content = [...seen.values()].filter((t) => !t.metadataOnly).map((t) => t.loc);
    const space: { mode: BackupMode; reason?: string } = opts.freesSpace ? await chooseBackupMode(opts.backupRoot, content, opts.freesSpace.thresholdPercent, opts.signal) : { mode: 'content' as const };
    const head: Omit<Manifest, 'entries' | 'createdAt'> = {
      version: 1,
      incidentId: opts.incidentId,
      runId: opts.runId,
      label: opts.label,
      mode: space.mode,
      ...(space.reason ? { reason: space.reason } : {}),
      ...(opts.freesSpace ? { keepsDeletions: true } : {}),
      ...(opts.redisPrefix !== undefined ? { redis: { prefix: opts.redisPrefix, file: REDIS_DUMP_NAME } } : {}),
    };
    const captureAll = async (tmp: string): Promise<ManifestEntry[]> => {
      const entries: ManifestEntry[] = [];
      let i = 0;
      for (const t of seen.values()) entries.push(await captureEntry(tmp, i++, t.loc, { metadataOnly: t.metadataOnly, mode: space.mode, signal: opts.signal }));
      return entries;
    };
    try {
      return await writeBackup(dir, opts, head, captureAll);
    } catch (e) {
      // A space-freeing action must not be stopped by a full store: its manifest goes in the result.
      if (!opts.freesSpace || space.mode !== 'manifest' || !isNoSpace(e)) throw e;
      const captured = await captureAll(''); // a manifest-only capture writes nothing
      return {
        dir,
        manifestPath: path.join(dir, MANIFEST_NAME),
        entries: captured.length,
        store: opts.backupRoot,
        mode: 'manifest',
        reason: `${space.reason ?? ''}; the store is full too, so the manifest is kept in this result only`,
        keepsDeletions: true,
        inline: captured.slice(0, INLINE_ENTRIES).map((c) => ({ path: c.path, ...(c.size !== undefined ? { size: c.size } : {}), ...(c.sha256 ? { sha256: c.sha256 } : {}) })),
      };
    }
  });
}

function isNoSpace(e: unknown): boolean {
  return errnoCode(e) === 'ENOSPC' || errnoCode(e) === 'EDQUOT';
}

function assertNoOverlap(p: string, backupRoot: string): void {
  if (isInside(p, backupRoot) || isInside(backupRoot, p)) throw new Error(`cannot back up "${p}": it overlaps the backup folder ${backupRoot}`);
}

/** Bytes stored for the entries (copies only). */
function storedBytes(entries: readonly ManifestEntry[]): number {
  let n = 0;
  for (const e of entries) {
    if (!e.stored) continue;
    if (e.kind === 'file') n += e.size ?? 0;
    for (const c of e.children ?? []) if (c.kind === 'file' && !c.skipped) n += c.size ?? 0;
  }
  return n;
}

/**
 * Builds a backup in a temp folder of the (trusted) store, fsyncs it, and renames it into place.
 */
async function writeBackup(
  dir: string,
  opts: BackupOptions,
  head: Omit<Manifest, 'entries' | 'createdAt'>,
  capture: (tmp: string) => Promise<ManifestEntry[]>,
): Promise<BackupRef> {
  const parent = path.dirname(dir);
  await makeDirsDurably(opts.backupRoot, path.relative(opts.backupRoot, parent).split(path.sep));
  const tmp = `${dir}.partial-${randomBytes(6).toString('hex')}`;
  await fsp.mkdir(tmp, { mode: 0o700 });
  await fsp.mkdir(path.join(tmp, 'data'), { mode: 0o700 });
  try {
    const entries = await capture(tmp);
    const manifest: Manifest = { ...head, createdAt: new Date().toISOString(), bytes: storedBytes(entries), entries };
    await writeDurably(path.join(tmp, MANIFEST_NAME), JSON.stringify(manifest, null, 2) + '\n', 0o600);
    await syncTree(tmp);
    try {
      await fsp.rename(tmp, dir);
    } catch (e) {
      // A concurrent attempt finished first: keep its backup (it captured the same state).
      if (errnoCode(e) !== 'ENOTEMPTY' && errnoCode(e) !== 'EEXIST') throw e;
      await fsp.rm(tmp, { recursive: true, force: true });
      const theirs = await readManifest(dir);
      if (!theirs) throw e;
      return refOf(dir, opts.backupRoot, theirs);
    }
    await syncDir(parent);
    return refOf(dir, opts.backupRoot, manifest);
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** What a restore did: paths put back, notes, and Redis keys restored when the backup has a dump. */
export interface RestoreResult {
  restored: string[];
  notes: string[];
}

/**
 * Puts back everything a backup recorded: files byte for byte with mode/owner/mtime (sha256
 * verified), deleted entries of backed-up directories, and removes paths that were absent
 * (directories only when empty). Idempotent. Files added to a backed-up directory after the
 * backup are left alone: they are newer data, not the action's doing. Every path is reached from
 * the managed root it was backed up from (recorded in the manifest; `roots` serves backups taken
 * before roots were recorded). A space-freeing action's backup puts nothing back (see
 * `Manifest.keepsDeletions`).
 *
 * @example const { restored } = await restoreBackup(ref, { store: backupRootFor(cfg) });
 */
export async function restoreBackup(ref: BackupRef, opts: { roots?: readonly string[]; store?: string; redisUrl?: string } = {}): Promise<RestoreResult> {
  const store = opts.store ?? ref.store ?? path.dirname(path.dirname(path.dirname(ref.dir)));
  if (!isInside(ref.dir, store) || ref.dir === store) throw new Error(`backup ${ref.dir} is not inside the backup store ${store}`);
  if (!(await isTrustedStore(store))) throw new Error(`no backup store at ${store}; the backup was removed`);
  const manifest = await readManifest(ref.dir);
  if (!manifest) throw new Error(`no backup manifest at ${ref.manifestPath}; the backup is incomplete or was removed`);
  if (manifest.keepsDeletions) {
    return { restored: [], notes: [`${manifest.label}: a space-freeing action is not undone (what it removed stays removed; its ${manifest.mode ?? 'content'} backup is kept in ${ref.dir})`] };
  }
  const r = await restoreEntries(ref.dir, manifest.entries, opts.roots ?? []);
  if (manifest.redis) {
    if (!opts.redisUrl) r.notes.push(`${ref.dir}: Redis keys not restored (no Redis URL given)`);
    else {
      const keys = await restoreRedisDump(opts.redisUrl, path.join(ref.dir, manifest.redis.file), manifest.redis.prefix);
      r.restored.push(...(keys.restored > 0 ? [`redis: ${keys.restored} key(s) under ${JSON.stringify(manifest.redis.prefix)}`] : []));
      r.notes.push(...keys.notes);
    }
  }
  return r;
}
