/**
 * fix_permissions: applies each `managed.permissions` entry — mode exactly as configured, owner
 * and group when given, optionally down the tree. Below a recursive entry, regular files get the
 * configured read/write bits and keep execute only where they had it and the config allows it
 * (a "0750" tree must not make data files executable); symlinks are never followed or changed.
 */
import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import type { ActionSpec } from '../../config/schema';
import { errnoCode, refused } from '../safety/errors';
import { fileModeUnderTree, formatMode, parseMode } from '../safety/modes';
import { resolveGid, resolveUid } from '../safety/owners';
import { resolveInsideRoots } from '../safety/paths';
import { walkTree } from '../safety/walk';
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
}

function changeFor(p: string, st: Stats, mode: number, uid: number, gid: number): Change | undefined {
  const cur = st.mode & 0o7777;
  const wantUid = uid >= 0 ? uid : st.uid;
  const wantGid = gid >= 0 ? gid : st.gid;
  if (cur === mode && st.uid === wantUid && st.gid === wantGid) return undefined;
  return { path: p, fromMode: cur, toMode: mode, fromOwner: `${st.uid}:${st.gid}`, uid: wantUid, gid: wantGid };
}

async function buildPlan(ctx: ActionContext): Promise<{ changes: Change[]; missing: string[] }> {
  const m = ctx.config.managed;
  const changes: Change[] = [];
  const missing: string[] = [];
  for (const [i, entry] of m.permissions.entries()) {
    const where = `managed.permissions[${i}]`;
    const mode = parseMode(entry.mode, `${where}.mode`);
    const uid = entry.owner ? await resolveUid(entry.owner, `${where}.owner`) : -1;
    const gid = entry.group ? await resolveGid(entry.group, `${where}.group`) : -1;
    const real = await resolveInsideRoots(entry.path, m.roots);
    const st = await fsp.lstat(real).catch((e: unknown) => (errnoCode(e) === 'ENOENT' ? undefined : Promise.reject(e)));
    if (!st) {
      missing.push(real);
      continue;
    }
    const top = changeFor(real, st, mode, uid, gid);
    if (top) changes.push(top);
    if (!entry.recursive || !st.isDirectory()) continue;
    const { entries } = await walkTree(real, { signal: ctx.signal });
    for (const e of entries) {
      if (e.kind === 'dir') {
        const c = changeFor(e.path, e.stat, mode, uid, gid);
        if (c) changes.push(c);
      } else if (e.kind === 'file') {
        const c = changeFor(e.path, e.stat, fileModeUnderTree(mode, e.stat.mode), uid, gid);
        if (c) changes.push(c);
      }
    }
  }
  return { changes, missing };
}

/** Applies the configured modes and owners. */
export const fixPermissions: ActionDefinition<Spec> = {
  type: 'fix_permissions',
  mutates: true,
  async plan(ctx) {
    const { changes, missing } = await buildPlan(ctx);
    const steps = [
      ...changes.map((c) => `chmod ${formatMode(c.fromMode)} → ${formatMode(c.toMode)}, owner ${c.fromOwner} → ${c.uid}:${c.gid}: ${c.path}`),
      ...missing.map((p) => `skip ${p}: does not exist`),
    ];
    return { steps, targets: changes.map((c) => ({ path: c.path, metadataOnly: true })) };
  },
  async run(ctx) {
    const { changes, missing } = await buildPlan(ctx);
    for (const c of changes) {
      ctx.signal.throwIfAborted();
      try {
        if (c.fromOwner !== `${c.uid}:${c.gid}`) await fsp.lchown(c.path, c.uid, c.gid);
      } catch (e) {
        if (errnoCode(e) === 'EPERM') throw refused(`fix_permissions: cannot chown "${c.path}" to ${c.uid}:${c.gid}: the daemon lacks the privilege (EPERM)`);
        throw e;
      }
      await fsp.chmod(c.path, c.toMode); // after chown: chown clears setuid/setgid bits
    }
    ctx.log('INFO', `fix_permissions: changed ${changes.length} path(s)`);
    return {
      type: 'fix_permissions',
      summary: changes.length ? `fixed mode/owner of ${changes.length} path(s)` : 'all configured permissions already correct',
      changed: changes.map((c) => c.path),
      details: { changes: changes.map((c) => ({ ...c, fromMode: formatMode(c.fromMode), toMode: formatMode(c.toMode) })), missing },
    };
  },
};
