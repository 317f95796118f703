/**
 * old_file_cleanup: deletes files older than N days (spec `max_age_days`, else
 * `managed.old_file_max_age_days`, 30 by default) below `managed.old_file_dirs`.
 */
import type { ActionSpec } from '../config/schema';
import { ageCleanupAction } from '../safety/age-cleanup';

/** Deletes files past their retention age. */
export const oldFileCleanup = ageCleanupAction<Extract<ActionSpec, { type: 'old_file_cleanup' }>>('old_file_cleanup', {
  what: 'old file(s)',
  dirs: (cfg) => cfg.managed.old_file_dirs,
  maxAgeMs: (ctx, spec) => (spec.max_age_days ?? ctx.config.managed.old_file_max_age_days) * 86_400_000,
});
