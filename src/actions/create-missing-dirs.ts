/**
 * create_missing_dirs: creates the `managed.directories` (or the subset `names`) that are
 * missing, with exactly `managed.dir_mode` (chmod after mkdir, so the umask cannot change it)
 * and `managed.owner`/`managed.group`. Missing parents inside the managed root are created the
 * same way; a missing root is created only when its own parent exists.
 *
 * Every directory is created by name inside its pinned parent (reached from the root's fd, one
 * O_NOFOLLOW component at a time, src/fs-safe), then pinned with O_NOFOLLOW before its mode and
 * owner are set through that fd. Mode and owner are only set on a directory the worker owns (one
 * it just created): a directory the app user slipped in under that name is left as it is.
 */
import type { ActionSpec } from '../config/schema';
import { DirCursor, MetaHandle, openBelow, withRoots, type DirHandle, type Root, type Roots } from '../fs-safe';
import { configError, errnoCode, refused } from '../safety/errors';
import { formatMode, parseMode } from '../safety/modes';
import { resolveGid, resolveUid } from '../proc';
import type { ActionContext, ActionDefinition } from './types';

type Spec = Extract<ActionSpec, { type: 'create_missing_dirs' }>;

/** One directory to create: its root and the components below it ([] for the root itself). */
interface ToCreate {
  path: string;
  root: Root;
  rel: string[];
}

interface Plan {
  /** Directories to create, parents first. */
  create: ToCreate[];
  present: string[];
  mode: number;
  uid: number;
  gid: number;
}

/** The missing part of one configured directory, parents first. */
async function missingChain(roots: Roots, configured: string, name: string): Promise<{ path: string; chain: ToCreate[] }> {
  const loc = await roots.locate(configured);
  const at = (rel: string[]): ToCreate => ({ path: [loc.root.real, ...rel].join('/'), root: loc.root, rel });
  if (!loc.root.dir) return { path: loc.path, chain: [[], ...loc.rel.map((_, i) => loc.rel.slice(0, i + 1))].map(at) };
  const below = await openBelow(loc.root.dir, loc.rel).catch((e: unknown) => {
    if ((e as { type?: string }).type === 'RefusedError') throw refused(`create_missing_dirs: "${loc.path}" (managed.directories.${name}) or a parent exists but is not a directory; not replacing it`);
    throw e;
  });
  await below.dir.close();
  const have = loc.rel.length - below.rest.length;
  return { path: loc.path, chain: below.rest.map((_, i) => at(loc.rel.slice(0, have + i + 1))) };
}

async function buildPlan(ctx: ActionContext, spec: Spec, roots: Roots): Promise<Plan> {
  const m = ctx.config.managed;
  const known = Object.keys(m.directories);
  const names = spec.names ?? known;
  const mode = parseMode(m.dir_mode, 'managed.dir_mode');
  const uid = m.owner ? await resolveUid(m.owner, 'managed.owner') : -1;
  const gid = m.group ? await resolveGid(m.group, 'managed.group') : -1;
  const create: ToCreate[] = [];
  const present: string[] = [];
  for (const name of names) {
    const configured = m.directories[name];
    if (configured === undefined) {
      throw configError(`create_missing_dirs: "${name}" is not in managed.directories (known: ${known.join(', ') || 'none'})`);
    }
    const { path, chain } = await missingChain(roots, configured, name);
    if (chain.length === 0) present.push(path);
    for (const c of chain) if (!create.some((x) => x.path === c.path)) create.push(c);
  }
  return { create, present, mode, uid, gid };
}

/** Sets mode and owner on a directory the worker just created (pinned, never through a name). */
async function applyMode(meta: MetaHandle, plan: Plan): Promise<boolean> {
  if (meta.stat.uid !== process.geteuid?.()) return false; // not ours: someone else made it meanwhile
  if (plan.uid >= 0 || plan.gid >= 0) {
    try {
      await meta.chown(plan.uid, plan.gid);
    } catch (e) {
      if (errnoCode(e) === 'EPERM') throw refused(`create_missing_dirs: cannot give "${meta.path}" owner ${plan.uid}:${plan.gid}: the daemon lacks the privilege (EPERM)`);
      throw e;
    }
  }
  await meta.chmod(plan.mode); // after chown (which clears setgid), and exact despite the umask
  return true;
}

/** Creates one planned directory in its pinned parent and pins it for its mode and owner. */
async function createOne(c: ToCreate, roots: Roots, cursors: Map<Root, DirCursor>, plan: Plan): Promise<boolean> {
  let meta: MetaHandle | undefined;
  if (c.rel.length === 0) {
    await roots.createRoot(c.root, plan.mode);
    meta = await MetaHandle.ofDir(c.root.dir!);
  } else {
    let cursor = cursors.get(c.root);
    if (!cursor) cursors.set(c.root, (cursor = new DirCursor(c.root.dir!)));
    const parent: DirHandle = await cursor.open(c.rel.slice(0, -1));
    const name = c.rel[c.rel.length - 1]!;
    await parent.mkdir(name, plan.mode);
    meta = await MetaHandle.open(parent, name);
    if (!meta?.stat.isDirectory()) {
      await meta?.close();
      throw refused(`create_missing_dirs: "${c.path}" is not a directory now; not replacing it`);
    }
  }
  try {
    return await applyMode(meta, plan);
  } finally {
    await meta.close();
  }
}

/** Creates the configured directories that are missing. */
export const createMissingDirs: ActionDefinition<Spec> = {
  type: 'create_missing_dirs',
  mutates: true,
  async plan(ctx, spec) {
    const plan = await withRoots(ctx.config.managed.roots, (roots) => buildPlan(ctx, spec, roots));
    const owner = plan.uid >= 0 || plan.gid >= 0 ? `, owner ${plan.uid}:${plan.gid}` : '';
    const steps = [...plan.create.map((d) => `mkdir ${d.path} (mode ${formatMode(plan.mode)}${owner})`), ...plan.present.map((d) => `skip ${d}: exists`)];
    return { steps, targets: plan.create.map((p) => ({ path: p.path })) };
  },
  async run(ctx, spec) {
    const { plan, created, foreign } = await withRoots(ctx.config.managed.roots, async (roots) => {
      const plan = await buildPlan(ctx, spec, roots);
      const created: string[] = [];
      const foreign: string[] = [];
      const cursors = new Map<Root, DirCursor>();
      try {
        for (const c of plan.create) {
          ctx.signal.throwIfAborted();
          if (await createOne(c, roots, cursors, plan)) {
            created.push(c.path);
            ctx.log('INFO', `create_missing_dirs: created ${c.path} (${formatMode(plan.mode)})`);
          } else {
            foreign.push(c.path);
            ctx.log('WARNING', `create_missing_dirs: ${c.path} was created by someone else meanwhile; its mode and owner were left as they are`);
          }
        }
      } finally {
        for (const cursor of cursors.values()) await cursor.close();
      }
      return { plan, created, foreign };
    });
    return {
      type: 'create_missing_dirs',
      summary: plan.create.length ? `created ${plan.create.length} director${plan.create.length === 1 ? 'y' : 'ies'}` : 'all configured directories exist',
      changed: plan.create.map((c) => c.path),
      details: { created, present: plan.present, made_by_someone_else: foreign, mode: formatMode(plan.mode), uid: plan.uid, gid: plan.gid },
    };
  },
};
