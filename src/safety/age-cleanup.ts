/**
 * The shared core of temp_file_cleanup and old_file_cleanup: delete files (and symlinks — the
 * link, never its target) older than a cutoff below configured directories. Directories are
 * never deleted; mounts below are not entered; a file with several hard links is left (a backup
 * does not copy it, see src/fs-safe/remove.ts).
 *
 * The plan walks each directory through fds from the pinned managed roots and records the
 * identity of every directory and file; the run reaches each directory again through the fd
 * chain, checks it is the one planned, and unlinks a name inside it only while it still is the
 * planned file and still old. A name swapped for a symlink or another file in between is kept.
 */
import type { ActionSpec, Config } from '../config/schema';
import type { ActionContext, ActionDefinition } from '../actions/types';
import {
  openBelow,
  removeEntries,
  removalOf,
  sameIdentity,
  walkTree,
  withRoots,
  type Identity,
  type RemovalEntry,
  type Roots,
} from '../fs-safe';

/** One configured directory as planned. */
interface PlannedDir {
  path: string;
  id: Identity;
  /** Identity of every directory below it, by "/"-joined relative path. */
  dirs: Array<[string, Identity]>;
}

export interface AgeCleanupPlan {
  roots: string[];
  dirs: string[];
  cutoffMs: number;
  files: Array<RemovalEntry & { kind: 'file' | 'symlink'; size: number; mtimeMs: number; dir: number }>;
  missingDirs: string[];
  otherMounts: string[];
  /** Old files with several hard links: left in place. */
  hardLinked: string[];
  planned: PlannedDir[];
}

/**
 * Lists what an age-based cleanup would delete. Every configured directory must lie inside
 * `roots` (one that does not refuses the whole action).
 *
 * @example await planAgeCleanup(cfg.managed.temp_dirs, cfg.managed.roots, Date.now() - 24 * 3600e3)
 */
export async function planAgeCleanup(dirs: readonly string[], roots: readonly string[], cutoffMs: number, signal?: AbortSignal): Promise<AgeCleanupPlan> {
  return withRoots(roots, async (pinned) => {
    const plan: AgeCleanupPlan = { roots: [...roots], dirs: [], cutoffMs, files: [], missingDirs: [], otherMounts: [], hardLinked: [], planned: [] };
    const located = [];
    for (const d of dirs) located.push(await pinned.locate(d)); // all or nothing, before any walk
    for (const loc of located) {
      plan.dirs.push(loc.path);
      await planDir(pinned, loc.path, plan, signal);
    }
    return plan;
  });
}

async function planDir(pinned: Roots, dirPath: string, plan: AgeCleanupPlan, signal?: AbortSignal): Promise<void> {
  const top = await openDir(pinned, dirPath);
  if (!top) {
    plan.missingDirs.push(dirPath);
    return;
  }
  try {
    const tree = await walkTree(top, { signal });
    const index = plan.planned.push({ path: dirPath, id: top.id, dirs: [...tree.dirs] }) - 1;
    plan.otherMounts.push(...tree.otherMounts);
    for (const e of tree.entries) {
      if ((e.kind !== 'file' && e.kind !== 'symlink') || e.stat.mtimeMs >= plan.cutoffMs) continue;
      if (e.kind === 'file' && e.stat.nlink > 1) plan.hardLinked.push(e.path);
      else plan.files.push({ ...removalOf(e), kind: e.kind, size: e.stat.size, mtimeMs: e.stat.mtimeMs, dir: index });
    }
  } finally {
    await top.close();
  }
}

/** The configured directory, pinned; undefined when it (or its root) does not exist or is no directory. */
async function openDir(pinned: Roots, dirPath: string) {
  const loc = await pinned.locate(dirPath);
  if (!loc.root.dir) return undefined;
  const below = await openBelow(loc.root.dir, loc.rel).catch((e: unknown) => {
    if ((e as { type?: string }).type === 'RefusedError') return undefined; // a file: "no such directory"
    throw e;
  });
  if (below && below.rest.length > 0) {
    await below.dir.close();
    return undefined;
  }
  return below?.dir;
}

/** Dry-run lines for a plan. */
export function describeAgeCleanup(plan: AgeCleanupPlan, what: string): string[] {
  const cutoff = new Date(plan.cutoffMs).toISOString();
  return [
    ...plan.files.map((f) => `delete ${f.kind} ${f.path} (${f.size} bytes, modified ${new Date(f.mtimeMs).toISOString()}, before ${cutoff})`),
    ...plan.missingDirs.map((d) => `skip ${d}: no such directory`),
    ...plan.otherMounts.map((d) => `skip ${d}: another file system`),
    ...plan.hardLinked.map((f) => `skip ${f}: it has several hard links`),
    ...(plan.files.length === 0 ? [`no ${what} older than ${cutoff} in ${plan.dirs.join(', ') || '(no directories configured)'}`] : []),
  ];
}

/** Deletes the planned files. Idempotent: a file already gone counts as deleted. */
export async function runAgeCleanup(plan: AgeCleanupPlan, signal?: AbortSignal): Promise<{ deleted: string[]; kept: string[]; bytes: number }> {
  const deleted = new Set<string>();
  const kept: string[] = [...plan.hardLinked];
  await withRoots(plan.roots, async (pinned) => {
    for (const [i, d] of plan.planned.entries()) {
      const files = plan.files.filter((f) => f.dir === i);
      const top = await openDir(pinned, d.path);
      if (!top || !sameIdentity(top.id, d.id)) {
        kept.push(...files.map((f) => f.path)); // not the directory planned any more
        await top?.close();
        continue;
      }
      try {
        const r = await removeEntries(top, new Map(d.dirs), files, { signal, still: (now) => now.mtimeMs < plan.cutoffMs });
        r.removed.forEach((p) => deleted.add(p));
        kept.push(...r.kept);
      } finally {
        await top.close();
      }
    }
  });
  const bytes = plan.files.reduce((n, f) => n + (f.kind === 'file' && deleted.has(f.path) ? f.size : 0), 0);
  return { deleted: plan.files.filter((f) => deleted.has(f.path)).map((f) => f.path), kept, bytes };
}

/**
 * An age-based cleanup action: `temp_file_cleanup` and `old_file_cleanup` differ only in their
 * directories, their age setting and their words. Frees space, so a full disk keeps a manifest of
 * what it deletes rather than copies (src/backup/space.ts).
 *
 * @example ageCleanupAction('temp_file_cleanup', { what: 'temporary files', dirs: (c) => c.managed.temp_dirs, maxAgeMs: (ctx, s) => (s.max_age_hours ?? 24) * 3600e3 })
 */
export function ageCleanupAction<S extends Extract<ActionSpec, { type: 'temp_file_cleanup' | 'old_file_cleanup' }>>(
  type: S['type'],
  o: { what: string; dirs: (cfg: Config) => string[]; maxAgeMs: (ctx: ActionContext, spec: S) => number },
): ActionDefinition<S> {
  const planFor = (ctx: ActionContext, spec: S) => planAgeCleanup(o.dirs(ctx.config), ctx.config.managed.roots, Date.now() - o.maxAgeMs(ctx, spec), ctx.signal);
  return {
    type,
    mutates: true,
    freesSpace: true,
    async plan(ctx, spec) {
      const plan = await planFor(ctx, spec);
      return { steps: describeAgeCleanup(plan, o.what), targets: plan.files.map((f) => ({ path: f.path })) };
    },
    async run(ctx, spec) {
      const plan = await planFor(ctx, spec);
      const r = await runAgeCleanup(plan, ctx.signal);
      ctx.log('INFO', `${type}: deleted ${r.deleted.length} file(s), ${r.bytes} bytes`);
      const cutoff = new Date(plan.cutoffMs).toISOString();
      return {
        type,
        summary: `deleted ${r.deleted.length} ${o.what} (${r.bytes} bytes) older than ${cutoff}`,
        changed: r.deleted,
        details: { dirs: plan.dirs, cutoff, bytes: r.bytes, kept: r.kept, missing_dirs: plan.missingDirs },
      };
    },
  };
}
