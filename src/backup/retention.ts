/**
 * What the backup store holds, and its retention: `backups.max_age_days` and
 * `backups.max_total_mb`, oldest first. The unit is one saga run's folder
 * (`<store>/<incident>/<run>/`: every backup of that run, the corrupt JSON it kept, the Redis keys
 * it dumped); folders of the older layout (`<store>/<incident>/<label>/`) count one per label.
 *
 * A run folder younger than `RECENT_MS` is never pruned, whatever the size limit says: its saga
 * may still need it for compensation. Folders left by a backup that crashed half-way
 * (`*.partial-*`) are removed once older than that too.
 */
import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import { isTrustedStore } from '../fs-safe';
import { errnoCode } from '../safety/errors';
import { MANIFEST_NAME, readManifest, type BackupMode, type Manifest } from './manifest';
import { hasPendingSpill } from '../rotation/spill';

/** A backup this young is kept even over the size limit (its saga may still compensate). */
export const RECENT_MS = 60 * 60 * 1000;

/** One backup of a run (a step's folder). */
export interface StepBackup {
  label: string;
  dir: string;
  mode: BackupMode;
  reason?: string;
  entries: number;
  keepsDeletions: boolean;
  /** Original paths recorded. */
  paths: string[];
}

/** One prunable unit: a run's folder (or a legacy label folder). */
export interface RunBackups {
  incidentId: string;
  /** The run id; undefined for the older layout. */
  runId?: string;
  dir: string;
  /** When its oldest backup was taken (epoch ms). */
  createdMs: number;
  /** Bytes on disk (apparent sizes of every file below). */
  bytes: number;
  steps: StepBackup[];
  /** Other things kept there (corrupt-json copies, Redis dumps…), by name. */
  other: string[];
  /** A half-written backup folder left by a crash. */
  partial: boolean;
  /**
   * A log rotation on a full disk released a log before writing its generation from this
   * backup's copy, and did not finish (src/rotation/spill.ts): never pruned, the copy is the data.
   */
  pendingSpill: boolean;
}

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return [];
    throw e;
  }
}

/** Apparent size of everything below `p` (never follows a symlink). */
async function sizeOf(p: string): Promise<number> {
  const st = await fsp.lstat(p).catch(() => undefined);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of await listDir(p)) n += await sizeOf(path.join(p, e.name));
  return n;
}

async function manifestOf(dir: string): Promise<Manifest | undefined> {
  try {
    return await readManifest(dir);
  } catch {
    return undefined; // damaged: listed as "other", pruned by age like the rest
  }
}

async function hasJournal(dir: string): Promise<boolean> {
  return hasPendingSpill((await listDir(dir)).map((e) => e.name));
}

function stepOf(dir: string, m: Manifest): StepBackup {
  return {
    label: m.label,
    dir,
    mode: m.mode ?? 'content',
    ...(m.reason ? { reason: m.reason } : {}),
    entries: m.entries.length,
    keepsDeletions: m.keepsDeletions === true,
    paths: m.entries.map((e) => e.path),
  };
}

/** Reads one unit folder. */
async function readUnit(incidentId: string, dir: string, runId: string | undefined, legacy?: Manifest): Promise<RunBackups> {
  const st = await fsp.lstat(dir);
  const unit: RunBackups = { incidentId, ...(runId ? { runId } : {}), dir, createdMs: st.mtimeMs, bytes: await sizeOf(dir), steps: [], other: [], partial: /\.partial-[0-9a-f]+$/.test(dir), pendingSpill: false };
  const created: number[] = [];
  if (legacy) {
    unit.steps.push(stepOf(dir, legacy));
    created.push(Date.parse(legacy.createdAt));
    unit.pendingSpill = await hasJournal(dir);
  } else {
    for (const e of await listDir(dir)) {
      const sub = path.join(dir, e.name);
      const m = e.isDirectory() ? await manifestOf(sub) : undefined;
      if (m) {
        unit.steps.push(stepOf(sub, m));
        created.push(Date.parse(m.createdAt));
        if (await hasJournal(sub)) unit.pendingSpill = true;
      } else unit.other.push(e.name);
    }
  }
  const known = created.filter((t) => Number.isFinite(t));
  if (known.length > 0) unit.createdMs = Math.min(...known);
  return unit;
}

/**
 * Every run's backups in `store`, oldest first. Empty when the store does not exist.
 *
 * @example for (const r of await listBackups(backupRootFor(cfg))) console.log(r.incidentId, r.bytes);
 */
export async function listBackups(store: string): Promise<RunBackups[]> {
  if (!(await isTrustedStore(store))) return [];
  const out: RunBackups[] = [];
  for (const inc of await listDir(store)) {
    if (!inc.isDirectory()) continue;
    const incDir = path.join(store, inc.name);
    for (const e of await listDir(incDir)) {
      if (!e.isDirectory()) continue;
      const dir = path.join(incDir, e.name);
      const legacy = (await fsp.lstat(path.join(dir, MANIFEST_NAME)).catch(() => undefined)) ? await manifestOf(dir) : undefined;
      out.push(await readUnit(inc.name, dir, legacy ? undefined : e.name, legacy));
    }
  }
  return out.sort((a, b) => a.createdMs - b.createdMs);
}

/** Retention limits (`backups.*`). */
export interface RetentionLimits {
  maxAgeDays: number;
  maxTotalMb: number;
}

/** One pruned unit and why. */
export interface Pruned {
  unit: RunBackups;
  why: string;
}

/**
 * What retention removes from `list` (oldest first): anything older than `maxAgeDays`, then the
 * oldest until the total is at most `maxTotalMb` — never a unit younger than `RECENT_MS`, nor one
 * with an unfinished spill. Pure.
 *
 * @example planPrune(await listBackups(store), { maxAgeDays: 14, maxTotalMb: 1024 }, Date.now())
 */
export function planPrune(list: readonly RunBackups[], limits: RetentionLimits, now: number): Pruned[] {
  const out: Pruned[] = [];
  let total = list.reduce((n, u) => n + u.bytes, 0);
  const maxBytes = limits.maxTotalMb * 1024 * 1024;
  const maxAgeMs = limits.maxAgeDays * 86_400_000;
  for (const u of [...list].sort((a, b) => a.createdMs - b.createdMs)) {
    const age = now - u.createdMs;
    if (age < RECENT_MS || u.pendingSpill) continue;
    let why: string | undefined;
    if (age > maxAgeMs) why = `older than backups.max_age_days (${limits.maxAgeDays})`;
    else if (u.partial) why = 'left half-written by an interrupted backup';
    else if (total > maxBytes) why = `the store holds ${total} bytes, over backups.max_total_mb (${limits.maxTotalMb})`;
    if (!why) continue;
    out.push({ unit: u, why });
    total -= u.bytes;
  }
  return out;
}

/**
 * Applies retention to `store`: removes what `planPrune` names, and incident folders left empty.
 * Returns what was removed (the caller logs it).
 */
export async function pruneBackups(store: string, limits: RetentionLimits, now = Date.now()): Promise<Pruned[]> {
  const pruned = planPrune(await listBackups(store), limits, now);
  for (const p of pruned) {
    await fsp.rm(p.unit.dir, { recursive: true, force: true });
    const incDir = path.dirname(p.unit.dir);
    await fsp.rmdir(incDir).catch(() => undefined); // only when empty
  }
  return pruned;
}

/** The retention limits of a config. */
export function retentionOf(cfg: { backups: { max_age_days: number; max_total_mb: number } }): RetentionLimits {
  return { maxAgeDays: cfg.backups.max_age_days, maxTotalMb: cfg.backups.max_total_mb };
}

/** The auto_fix.log line of one pruned unit (the daemon and `autofix backups prune` write it). */
export function pruneLine(p: Pruned): string {
  return `バックアップを削除しました: ${p.unit.dir} (${p.unit.bytes} bytes, ${new Date(p.unit.createdMs).toISOString()}): ${p.why}`;
}
