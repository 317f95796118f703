/**
 * temp_file_cleanup: deletes files older than N hours (spec `max_age_hours`, else
 * `managed.temp_max_age_hours`) below `managed.temp_dirs`.
 */
import type { ActionSpec } from '../config/schema';
import { ageCleanupAction } from '../safety/age-cleanup';

/** Deletes stale temporary files. */
export const tempFileCleanup = ageCleanupAction<Extract<ActionSpec, { type: 'temp_file_cleanup' }>>('temp_file_cleanup', {
  what: 'temporary file(s)',
  dirs: (cfg) => cfg.managed.temp_dirs,
  maxAgeMs: (ctx, spec) => (spec.max_age_hours ?? ctx.config.managed.temp_max_age_hours) * 3_600_000,
});
