/**
 * old_file_cleanup: deletes files older than N days (spec `max_age_days`, else
 * `managed.old_file_max_age_days`, 30 by default) below `managed.old_file_dirs`.
 */
import type { ActionSpec } from '../../config/schema';
import { describeAgeCleanup, planAgeCleanup, runAgeCleanup } from '../safety/age-cleanup';
import type { ActionContext, ActionDefinition } from './types';

type Spec = Extract<ActionSpec, { type: 'old_file_cleanup' }>;

function planFor(ctx: ActionContext, spec: Spec) {
  const days = spec.max_age_days ?? ctx.config.managed.old_file_max_age_days;
  return planAgeCleanup(ctx.config.managed.old_file_dirs, ctx.config.managed.roots, Date.now() - days * 86_400_000, ctx.signal);
}

/** Deletes files past their retention age. */
export const oldFileCleanup: ActionDefinition<Spec> = {
  type: 'old_file_cleanup',
  mutates: true,
  async plan(ctx, spec) {
    const plan = await planFor(ctx, spec);
    return { steps: describeAgeCleanup(plan, 'files'), targets: plan.files.map((f) => ({ path: f.path })) };
  },
  async run(ctx, spec) {
    const plan = await planFor(ctx, spec);
    const r = await runAgeCleanup(plan, ctx.signal);
    ctx.log('INFO', `old_file_cleanup: deleted ${r.deleted.length} file(s), ${r.bytes} bytes`);
    return {
      type: 'old_file_cleanup',
      summary: `deleted ${r.deleted.length} old file(s) (${r.bytes} bytes) modified before ${new Date(plan.cutoffMs).toISOString()}`,
      changed: r.deleted,
      details: { dirs: plan.dirs, cutoff: new Date(plan.cutoffMs).toISOString(), bytes: r.bytes, kept: r.kept, missing_dirs: plan.missingDirs },
    };
  },
};
