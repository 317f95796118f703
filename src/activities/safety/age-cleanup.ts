/**
 * The shared core of temp_file_cleanup and old_file_cleanup: delete files (and symlinks — the
 * link, never its target) older than a cutoff below configured directories. Directories are
 * never deleted; mounts below are not entered.
 */
import { resolveAllInsideRoots } from './paths';
import { findOldFiles, removeEntry } from './walk';

export interface AgeCleanupPlan {
  dirs: string[];
  cutoffMs: number;
  files: Array<{ path: string; kind: 'file' | 'symlink'; size: number; mtimeMs: number }>;
  missingDirs: string[];
  otherMounts: string[];
}

/**
 * Lists what an age-based cleanup would delete. Every configured directory must resolve inside
 * `roots` (one that does not refuses the whole action).
 *
 * @example await planAgeCleanup(cfg.managed.temp_dirs, cfg.managed.roots, Date.now() - 24 * 3600e3)
 */
export async function planAgeCleanup(dirs: readonly string[], roots: readonly string[], cutoffMs: number, signal?: AbortSignal): Promise<AgeCleanupPlan> {
  const resolved = await resolveAllInsideRoots(dirs, roots);
  const found = await findOldFiles(resolved, cutoffMs, { signal });
  return {
    dirs: resolved,
    cutoffMs,
    files: found.files.map((e) => ({ path: e.path, kind: e.kind === 'symlink' ? 'symlink' : 'file', size: e.stat.size, mtimeMs: e.stat.mtimeMs })),
    missingDirs: found.missingDirs,
    otherMounts: found.otherMounts,
  };
}

/** Dry-run lines for a plan. */
export function describeAgeCleanup(plan: AgeCleanupPlan, what: string): string[] {
  const cutoff = new Date(plan.cutoffMs).toISOString();
  return [
    ...plan.files.map((f) => `delete ${f.kind} ${f.path} (${f.size} bytes, modified ${new Date(f.mtimeMs).toISOString()}, before ${cutoff})`),
    ...plan.missingDirs.map((d) => `skip ${d}: no such directory`),
    ...plan.otherMounts.map((d) => `skip ${d}: another file system`),
    ...(plan.files.length === 0 ? [`no ${what} older than ${cutoff} in ${plan.dirs.join(', ') || '(no directories configured)'}`] : []),
  ];
}

/** Deletes the planned files. Idempotent: a file already gone counts as deleted. */
export async function runAgeCleanup(plan: AgeCleanupPlan, signal?: AbortSignal): Promise<{ deleted: string[]; kept: string[]; bytes: number }> {
  const deleted: string[] = [];
  const kept: string[] = [];
  let bytes = 0;
  for (const f of plan.files) {
    signal?.throwIfAborted();
    if (await removeEntry(f)) {
      deleted.push(f.path);
      bytes += f.kind === 'file' ? f.size : 0;
    } else kept.push(f.path);
  }
  return { deleted, kept, bytes };
}
