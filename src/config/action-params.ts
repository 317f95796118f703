/**
 * Parameters of each action type in `error_patterns[].actions[]`. An unknown `type` is a config
 * error at load. Every action may carry the seed's `description`. Targets (directories, files,
 * services, ports) come from the config's `managed` and `services` sections; an action may narrow
 * them, never widen them: paths named here must still lie inside `managed.roots`.
 */
import { z } from 'zod';

const base = { description: z.string().optional() };
const port = z.number().int().min(1).max(65535);

export const ACTION_TYPES = [
  'service_restart',
  'log_rotate',
  'cache_clear',
  'temp_file_cleanup',
  'create_missing_dirs',
  'fix_permissions',
  'check_port',
  'kill_process_on_port',
  'database_vacuum',
  'backup_and_fix_json',
  'old_file_cleanup',
  'alert',
  'log_analysis',
] as const;

export const actionSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('service_restart'), service: z.string().min(1) }),
  z.object({
    ...base,
    type: z.literal('log_rotate'),
    files: z.array(z.string()).optional().describe('default: managed.log_rotate.files, else watched logs'),
    max_bytes: z.number().int().positive().optional(),
    keep: z.number().int().min(1).optional(),
  }),
  z.object({ ...base, type: z.literal('cache_clear'), redis: z.boolean().default(false) }),
  z.object({ ...base, type: z.literal('temp_file_cleanup'), max_age_hours: z.number().positive().optional() }),
  z.object({ ...base, type: z.literal('create_missing_dirs'), names: z.array(z.string()).optional() }),
  z.object({ ...base, type: z.literal('fix_permissions') }),
  z.object({ ...base, type: z.literal('check_port'), port: port.optional() }),
  z.object({
    ...base,
    type: z.literal('kill_process_on_port'),
    port: port.optional(),
    grace_seconds: z.number().positive().default(5),
    confirm: z
      .boolean()
      .default(true)
      .describe(
        'First confirm the fault live: the health check of the service whose health check uses this port must fail (a healthy one is not interrupted: incident skipped); with no such service the action is refused. false: kill without that check',
      ),
  }),
  z.object({
    ...base,
    type: z.literal('database_vacuum'),
    tables: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/, 'a table name, optionally schema-qualified')).optional(),
    statement_timeout_seconds: z.number().positive().default(600),
  }),
  z.object({ ...base, type: z.literal('backup_and_fix_json'), files: z.array(z.string()).optional() }),
  z.object({ ...base, type: z.literal('old_file_cleanup'), max_age_days: z.number().positive().optional() }),
  z.object({ ...base, type: z.literal('alert'), message: z.string().optional() }),
  z.object({ ...base, type: z.literal('log_analysis'), window_minutes: z.number().positive().default(60) }),
]);
