/**
 * fix_permissions: applies each `managed.permissions` entry — mode exactly as configured, owner
 * and group when given, optionally down the tree. Below a recursive entry, regular files get the
 * configured read/write bits and keep execute only where they had it and the config allows it
 * (a "0750" tree must not make data files executable); symlinks are never followed or changed.
 *
 * Every path is reached through fds from the pinned managed roots (src/fs-safe). The plan records
 * the identity of each inode to change and of each directory on the way; the run reaches each
 * again through the fd chain, pins it with O_PATH|O_NOFOLLOW, checks it is the planned inode, and
 * changes it through that fd. A file with several hard links is refused (another link could be a
 * file outside the roots); something swapped since the plan is refused and left untouched.
 */
import type { Stats } from 'node:fs';
import type { ActionSpec } from '../config/schema';
import {
  DirCursor,
  MetaHandle,
  identityOf,
  openBelow,
  raced,
  sameIdentity,
  walkTree,
  withRoots,
  type DirHandle,
  type Identity,
  type Location,
  type Root,
  type Roots,
} from '../fs-safe';
import { errnoCode, refused, unsafePath } from '../safety/errors';
import { fileModeUnderTree, formatMode, parseMode } from '../safety/modes';
import { resolveGid, resolveUid } from '../proc';
import type { ActionContext, ActionDefinition } from './types';

type Spec = Extract<ActionSpec, { type: 'fix_permissions' }>;

/** One path whose mode or owner differs from the configured one. */
interface Change {
  path: string;
  fromMode: number;
  toMode: number;
  fromOwner: string;
  uid: number;
  gid: number;
  /** Where it is: its root and the components below it ([] for the root itself). */
  root: Root;
  rel: string[];
  /** The inode planned. */
  id: Identity;
}

interface Plan {
  changes: Change[];
  missing: string[];
  /** Identity of every directory the plan walked, per root, by "/"-joined path below the root. */
  dirs: Map<Root, Map<string, Identity>>;
}

function changeFor(p: string, st: Stats, mode: number, uid: number, gid: number, at: Pick<Change, 'root' | 'rel'>): Change | undefined {
  const cur = st.mode & 0o7777;
  const wantUid = uid >= 0 ? uid : st.uid;
  const wantGid = gid >= 0 ? gid : st.gid;
  if (cur === mode && st.uid === wantUid && st.gid === wantGid) return undefined;
  return { path: p, fromMode: cur, toMode: mode, fromOwner: `${st.uid}:${st.gid}`, uid: wantUid, gid: wantGid, ...at, id: identityOf(st) };
}

/** lstat of a located path, reached through the fd chain of its root; undefined when missing. */
async function statAt(loc: Location): Promise<Stats | undefined> {
  if (!loc.root.dir) return undefined;
  const below = await openBelow(loc.root.dir, loc.rel.slice(0, -1));
  try {
    if (below.rest.length > 0) return undefined;
    return loc.rel.length === 0 ? below.dir.stat : await below.dir.lstat(loc.rel[loc.rel.length - 1]!);
  } finally {
    await below.dir.close();
  }
}

/** The configured path as a directory to walk (its own handle). */
async function openTree(loc: Location, st: Stats): Promise<DirHandle> {
  const below = await openBelow(loc.root.dir!, loc.rel);
  if (below.rest.length > 0 || !sameIdentity(below.dir.id, identityOf(st))) {
    await below.dir.close();
    throw raced(loc.path, 'it changed while the plan looked at it');
  }
  return below.dir;
}

async function planEntry(ctx: ActionContext, roots: Roots, i: number, plan: Plan): Promise<void> {
  const entry = ctx.config.managed.permissions[i]!;
  const where = `managed.permissions[${i}]`;
  const mode = parseMode(entry.mode, `${where}.mode`);
  const uid = entry.owner ? await resolveUid(entry.owner, `${where}.owner`) : -1;
  const gid = entry.group ? await resolveGid(entry.group, `${where}.group`) : -1;
  const loc = await roots.locate(entry.path);
  const stat = await statAt(loc);
  if (!stat) {
    plan.missing.push(loc.path);
    return;
  }
  if (stat.isSymbolicLink()) throw unsafePath(`fix_permissions: "${loc.path}" (${where}.path) is a symlink; autofix never follows symlinks inside managed roots`);
  const top = changeFor(loc.path, stat, mode, uid, gid, { root: loc.root, rel: loc.rel });
  if (top) plan.changes.push(top);
  if (!entry.recursive || !stat.isDirectory()) return;
  const dir = await openTree(loc, stat);
  try {
    const tree = await walkTree(dir, { signal: ctx.signal });
    const dirs = plan.dirs.get(loc.root) ?? new Map<string, Identity>();
    plan.dirs.set(loc.root, dirs);
    for (const [rel, id] of tree.dirs) dirs.set([...loc.rel, ...(rel ? rel.split('/') : [])].join('/'), id);
    for (const e of tree.entries) {
      const at = { root: loc.root, rel: [...loc.rel, ...e.parent, e.name] };
      const c = e.kind === 'dir' ? changeFor(e.path, e.stat, mode, uid, gid, at) : e.kind === 'file' ? changeFor(e.path, e.stat, fileModeUnderTree(mode, e.stat.mode), uid, gid, at) : undefined;
      if (c) plan.changes.push(c);
    }
  } finally {
    await dir.close();
  }
}

async function buildPlan(ctx: ActionContext, roots: Roots): Promise<Plan> {
  const plan: Plan = { changes: [], missing: [], dirs: new Map() };
  for (let i = 0; i < ctx.config.managed.permissions.length; i++) await planEntry(ctx, roots, i, plan);
  return plan;
}

/**
 * Pins the planned inode of a change (undefined when it is gone): its parent is reached through
 * the root's fd chain, each directory the plan walked checked to be the same one.
 */
async function openChange(c: Change, cursors: Map<Root, DirCursor>, plan: Plan): Promise<MetaHandle | undefined> {
  const rootDir = c.root.dir!;
  if (c.rel.length === 0) {
    const meta = await MetaHandle.ofDir(rootDir);
    if (sameIdentity(identityOf(meta.stat), c.id)) return meta;
    await meta.close();
    throw refused(`fix_permissions: "${c.path}" is not the directory planned any more`);
  }
  let cursor = cursors.get(c.root);
  if (!cursor) cursors.set(c.root, (cursor = new DirCursor(rootDir, plan.dirs.get(c.root))));
  try {
    const parent = await cursor.open(c.rel.slice(0, -1));
    return await MetaHandle.open(parent, c.rel[c.rel.length - 1]!, { expect: c.id, singleLinkFor: 'change its mode or owner' });
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined; // removed since the plan: nothing to fix
    throw e;
  }
}

async function apply(c: Change, meta: MetaHandle): Promise<void> {
  try {
    if (c.fromOwner !== `${c.uid}:${c.gid}`) await meta.chown(c.uid, c.gid);
  } catch (e) {
    if (errnoCode(e) === 'EPERM') throw refused(`fix_permissions: cannot chown "${c.path}" to ${c.uid}:${c.gid}: the daemon lacks the privilege (EPERM)`);
    throw e;
  }
  await meta.chmod(c.toMode); // after chown: chown clears setuid/setgid bits
}

/** Applies the configured modes and owners. */
export const fixPermissions: ActionDefinition<Spec> = {
  type: 'fix_permissions',
  mutates: true,
  async plan(ctx) {
    const { changes, missing } = await withRoots(ctx.config.managed.roots, (roots) => buildPlan(ctx, roots));
    const steps = [
      ...changes.map((c) => `chmod ${formatMode(c.fromMode)} → ${formatMode(c.toMode)}, owner ${c.fromOwner} → ${c.uid}:${c.gid}: ${c.path}`),
      ...missing.map((p) => `skip ${p}: does not exist`),
    ];
    return { steps, targets: changes.map((c) => ({ path: c.path, metadataOnly: true })) };
  },
  async run(ctx) {
    const { changes, missing } = await withRoots(ctx.config.managed.roots, async (roots) => {
      const plan = await buildPlan(ctx, roots);
      const cursors = new Map<Root, DirCursor>();
      try {
        for (const c of plan.changes) {
          ctx.signal.throwIfAborted();
          const meta = await openChange(c, cursors, plan);
          if (!meta) continue;
          try {
            await apply(c, meta);
          } finally {
            await meta.close();
          }
        }
      } finally {
        for (const cursor of cursors.values()) await cursor.close();
      }
      return plan;
    });
    ctx.log('INFO', `fix_permissions: changed ${changes.length} path(s)`);
    return {
      type: 'fix_permissions',
      summary: changes.length ? `fixed mode/owner of ${changes.length} path(s)` : 'all configured permissions already correct',
      changed: changes.map((c) => c.path),
      details: { changes: changes.map(({ root: _r, rel: _l, id: _i, ...c }) => ({ ...c, fromMode: formatMode(c.fromMode), toMode: formatMode(c.toMode) })), missing },
    };
  },
};
