/**
 * create_missing_dirs: creates the `managed.directories` (or the subset `names`) that are
 * missing, with exactly `managed.dir_mode` (chmod after mkdir, so the umask cannot change it)
 * and `managed.owner`/`managed.group`. Missing parents are created the same way.
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { ActionSpec } from '../../config/schema';
import { configError, errnoCode, refused } from '../safety/errors';
import { formatMode, parseMode } from '../safety/modes';
import { resolveGid, resolveUid } from '../safety/owners';
import { resolveInsideRoots } from '../safety/paths';
import type { ActionContext, ActionDefinition } from './types';

type Spec = Extract<ActionSpec, { type: 'create_missing_dirs' }>;

interface Plan {
  /** Directories to create, parents first. */
  create: string[];
  present: string[];
  mode: number;
  uid: number;
  gid: number;
}

async function lstatOrUndefined(p: string) {
  return fsp.lstat(p).catch((e: unknown) => (errnoCode(e) === 'ENOENT' ? undefined : Promise.reject(e)));
}

async function buildPlan(ctx: ActionContext, spec: Spec): Promise<Plan> {
  const m = ctx.config.managed;
  const known = Object.keys(m.directories);
  const names = spec.names ?? known;
  const mode = parseMode(m.dir_mode, 'managed.dir_mode');
  const uid = m.owner ? await resolveUid(m.owner, 'managed.owner') : -1;
  const gid = m.group ? await resolveGid(m.group, 'managed.group') : -1;
  const create: string[] = [];
  const present: string[] = [];
  for (const name of names) {
    const configured = m.directories[name];
    if (configured === undefined) {
      throw configError(`create_missing_dirs: "${name}" is not in managed.directories (known: ${known.join(', ') || 'none'})`);
    }
    const real = await resolveInsideRoots(configured, m.roots);
    const st = await lstatOrUndefined(real);
    if (st) {
      if (!st.isDirectory()) throw refused(`create_missing_dirs: "${real}" (managed.directories.${name}) exists but is not a directory; not replacing it`);
      present.push(real);
      continue;
    }
    const chain: string[] = [];
    for (let p = real; !(await lstatOrUndefined(p)); p = path.dirname(p)) chain.unshift(p);
    for (const p of chain) if (!create.includes(p)) create.push(p);
  }
  return { create, present, mode, uid, gid };
}

/** Creates the configured directories that are missing. */
export const createMissingDirs: ActionDefinition<Spec> = {
  type: 'create_missing_dirs',
  mutates: true,
  async plan(ctx, spec) {
    const plan = await buildPlan(ctx, spec);
    const owner = plan.uid >= 0 || plan.gid >= 0 ? `, owner ${plan.uid}:${plan.gid}` : '';
    const steps = [
      ...plan.create.map((d) => `mkdir ${d} (mode ${formatMode(plan.mode)}${owner})`),
      ...plan.present.map((d) => `skip ${d}: exists`),
    ];
    return { steps, targets: plan.create.map((p) => ({ path: p })) };
  },
  async run(ctx, spec) {
    const plan = await buildPlan(ctx, spec);
    for (const d of plan.create) {
      ctx.signal.throwIfAborted();
      try {
        await fsp.mkdir(d, { mode: plan.mode });
      } catch (e) {
        // Created concurrently (or by an earlier attempt): fine if it is a directory.
        if (errnoCode(e) !== 'EEXIST' || !(await fsp.lstat(d)).isDirectory()) throw e;
      }
      await fsp.chmod(d, plan.mode);
      if (plan.uid >= 0 || plan.gid >= 0) {
        try {
          await fsp.lchown(d, plan.uid, plan.gid);
        } catch (e) {
          if (errnoCode(e) === 'EPERM') throw refused(`create_missing_dirs: cannot give "${d}" owner ${plan.uid}:${plan.gid}: the daemon lacks the privilege (EPERM)`);
          throw e;
        }
      }
      ctx.log('INFO', `create_missing_dirs: created ${d} (${formatMode(plan.mode)})`);
    }
    return {
      type: 'create_missing_dirs',
      summary: plan.create.length ? `created ${plan.create.length} director${plan.create.length === 1 ? 'y' : 'ies'}` : 'all configured directories exist',
      changed: plan.create,
      details: { created: plan.create, present: plan.present, mode: formatMode(plan.mode), uid: plan.uid, gid: plan.gid },
    };
  },
};
