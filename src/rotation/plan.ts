/**
 * Planning a log rotation (log_rotate): which configured logs exist (globs expanded through fds
 * from the pinned managed roots, symlinks never followed), which of them are over `max_bytes`, the
 * generation shifts each needs, what to back up, and the dry-run lines. Nothing is changed here.
 */
import type { ActionSpec, Config } from '../config/schema';
import { DirCursor, expandGlob, identityOf, type DirHandle, type Identity, type Root, type Roots } from '../fs-safe';
import type { ActionContext, BackupTarget } from '../actions/types';
import type { RotatedLog } from './types';

export type Spec = Extract<ActionSpec, { type: 'log_rotate' }>;

/** One rename/delete of an existing generation (names in the log's directory), in order. */
export type Shift = { from: string; to: string | null };

export interface FilePlan extends RotatedLog {
  root: Root;
  /** The log's directory below the root. */
  dirRel: string[];
  shifts: Shift[];
}

/** A matched log (rotated or not): where pending work of an earlier attempt is looked for. */
export interface LogRef {
  file: string;
  root: Root;
  dirRel: string[];
  name: string;
  mode: number;
  uid: number;
  gid: number;
}

export type Settings = Config['managed']['log_rotate'] & { maxBytes: number; keep: number };

export interface Plan {
  files: FilePlan[];
  logs: LogRef[];
  skipped: string[];
  settings: Settings;
  /** Identity of every directory globbed, per root, by "/"-joined path below it. */
  dirs: Map<Root, Map<string, Identity>>;
}

const ROTATED = /\.\d+(\.gz)?$/;

function settingsOf(ctx: ActionContext, spec: Spec): Settings {
  const r = ctx.config.managed.log_rotate;
  return { ...r, maxBytes: spec.max_bytes ?? r.max_bytes, keep: spec.keep ?? r.keep };
}

/** The directory of a planned log, reached again from its root and checked against the plan. */
export function dirOf(f: Pick<LogRef, 'root' | 'dirRel'>, plan: Plan, cursors: Map<Root, DirCursor>): Promise<DirHandle> {
  let cursor = cursors.get(f.root);
  if (!cursor) cursors.set(f.root, (cursor = new DirCursor(f.root.dir!, plan.dirs.get(f.root))));
  return cursor.open(f.dirRel);
}

/** Runs `use` with a fresh set of cursors, closing them after. */
export async function withCursors<T>(use: (cursors: Map<Root, DirCursor>) => Promise<T>): Promise<T> {
  const cursors = new Map<Root, DirCursor>();
  try {
    return await use(cursors);
  } finally {
    for (const c of cursors.values()) await c.close();
  }
}

async function globAll(roots: Roots, patterns: readonly string[], plan: Plan): Promise<Array<LogRef & { id: Identity; size: number }>> {
  const found: Array<LogRef & { id: Identity; size: number }> = [];
  const seen = new Set<string>();
  for (const pattern of patterns) {
    const { matches, skippedSymlinks, dirs } = await expandGlob(roots, pattern);
    plan.skipped.push(...skippedSymlinks.map((s) => `${s}: symlink matched by a glob, not followed`));
    for (const { loc, stat } of matches) {
      const known = plan.dirs.get(loc.root) ?? new Map<string, Identity>();
      plan.dirs.set(loc.root, known);
      for (const [k, v] of dirs) known.set(k, v);
      if (seen.has(loc.path) || (pattern !== loc.path && ROTATED.test(loc.path))) continue;
      seen.add(loc.path);
      if (!stat.isFile()) {
        plan.skipped.push(`${loc.path}: not a regular file`);
        continue;
      }
      const [dirRel, name] = [loc.rel.slice(0, -1), loc.rel[loc.rel.length - 1]!];
      found.push({ file: loc.path, root: loc.root, dirRel, name, id: identityOf(stat), size: stat.size, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid });
    }
  }
  return found;
}

/** The generation shifts of `name` in `dir` for `keep` generations. */
async function shiftsOf(dir: DirHandle, name: string, keep: number): Promise<Shift[]> {
  const shifts: Shift[] = [];
  for (let i = keep; i >= 1; i--) {
    for (const ext of ['', '.gz']) {
      const from = `${name}.${i}${ext}`;
      if (await dir.lstat(from)) shifts.push({ from, to: i === keep ? null : `${name}.${i + 1}${ext}` });
    }
  }
  return shifts;
}

export async function buildPlan(ctx: ActionContext, spec: Spec, roots: Roots): Promise<Plan> {
  const m = ctx.config.managed;
  const patterns = spec.files ?? (m.log_rotate.files.length > 0 ? m.log_rotate.files : ctx.config.watch.logs);
  const plan: Plan = { files: [], logs: [], skipped: [], settings: settingsOf(ctx, spec), dirs: new Map() };
  const found = await globAll(roots, patterns, plan);
  const { keep, compress, maxBytes } = plan.settings;
  await withCursors(async (cursors) => {
    for (const f of found) {
      plan.logs.push(f);
      if (f.size <= maxBytes) continue;
      const dir = await dirOf(f, plan, cursors);
      plan.files.push({ ...f, shifts: await shiftsOf(dir, f.name, keep), newest: `${f.name}.1${compress ? '.gz' : ''}` });
    }
  });
  return plan;
}

export const pathOf = (f: Pick<LogRef, 'file'>, name: string) => [...f.file.split('/').slice(0, -1), name].join('/');

/**
 * What to back up: the log (its content is what a full disk rotates through, see spill.ts) and
 * the generations the shift deletes. Renamed generations lose nothing and need no copy.
 */
export function targetsOf(plan: Plan): BackupTarget[] {
  return plan.files.flatMap((f) => [{ path: f.file }, ...f.shifts.filter((x) => x.to === null).map((x) => ({ path: pathOf(f, x.from) }))]);
}

export function stepsOf(plan: Plan): string[] {
  const s = plan.settings;
  const reopen = s.reopen ? `send SIG${s.reopen.signal} to service ${s.reopen.service}` : s.postrotate ? `run ${JSON.stringify(s.postrotate)}` : 'no reopen step';
  const steps = plan.files.map((f) => {
    const parts = f.shifts.map((x) => (x.to ? `move ${pathOf(f, x.from)} → ${pathOf(f, x.to)}` : `delete ${pathOf(f, x.from)}`));
    parts.push(
      s.copy_truncate
        ? `copy${s.compress ? ' + gzip' : ''} → ${pathOf(f, f.newest)} (fsynced, caught up); truncate ${f.file} in place`
        : `move → ${f.file}.1 and create a new empty ${f.file}; ${reopen}${s.compress ? `; gzip → ${pathOf(f, f.newest)} once the writer let go` : ''}`,
    );
    return `rotate ${f.file} (${f.size} bytes > ${s.maxBytes}, keep ${s.keep}): ${parts.join('; ')}`;
  });
  return [...steps, ...plan.skipped.map((x) => `skip ${x}`)];
}
