/**
 * temp_file_cleanup: deletes files older than N hours (spec `max_age_hours`, else
 * `managed.temp_max_age_hours`) below `managed.temp_dirs`.
 */
import type { ActionSpec } from '../../config/schema';
import { describeAgeCleanup, planAgeCleanup, runAgeCleanup } from '../safety/age-cleanup';
import type { ActionContext, ActionDefinition } from './types';

type Spec = Extract<ActionSpec, { type: 'temp_file_cleanup' }>;

function planFor(ctx: ActionContext, spec: Spec) {
  const hours = spec.max_age_hours ?? ctx.config.managed.temp_max_age_hours;
  return planAgeCleanup(ctx.config.managed.temp_dirs, ctx.config.managed.roots, Date.now() - hours * 3600_000, ctx.signal);
}

/** Deletes stale temporary files. */
export const tempFileCleanup: ActionDefinition<Spec> = {
  type: 'temp_file_cleanup',
  mutates: true,
  async plan(ctx, spec) {
    const plan = await planFor(ctx, spec);
    return { steps: describeAgeCleanup(plan, 'temporary files'), targets: plan.files.map((f) => ({ path: f.path })) };
  },
  async run(ctx, spec) {
    const plan = await planFor(ctx, spec);
    const r = await runAgeCleanup(plan, ctx.signal);
    ctx.log('INFO', `temp_file_cleanup: deleted ${r.deleted.length} file(s), ${r.bytes} bytes`);
    return {
      type: 'temp_file_cleanup',
      summary: `deleted ${r.deleted.length} temporary file(s) (${r.bytes} bytes) older than ${new Date(plan.cutoffMs).toISOString()}`,
      changed: r.deleted,
      details: { dirs: plan.dirs, cutoff: new Date(plan.cutoffMs).toISOString(), bytes: r.bytes, kept: r.kept, missing_dirs: plan.missingDirs },
    };
  },
};
