/**
 * The one schema for autofix's config file (`error_patterns.json`).
 *
 * The seed's file (`error_patterns` + `auto_fix_config`) loads unchanged; every other section is
 * optional and has its defaults here, nowhere else. The same schema gives the TypeScript types
 * (`Config`, `ErrorPattern`, ...) and the JSON Schema printed by `autofix config schema`.
 *
 * Paths may be relative: they are resolved against the config file's directory by `loadConfig`.
 */
import { z } from 'zod';
import { actionSchema } from './action-params';

const seconds = (def: number) => z.number().positive().default(def);

/** Names of the seed's severities, lowest first. */
export const SEVERITIES = ['warning', 'error', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const errorPatternSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'a lower-case id of letters, digits, "_", "-" or "." (max 63)'),
    name: z.string().min(1),
    pattern: z.string().min(1).describe('JavaScript regular expression matched against each log line/event'),
    flags: z
      .string()
      .regex(/^[imsu]*$/, 'only the flags i, m, s, u')
      .default('')
      .describe('Regex flags (the seed used Python re; use "i" for case-insensitive)'),
    severity: z.enum(SEVERITIES),
    auto_fix: z.boolean().default(false),
    actions: z.array(actionSchema).default([]),
    /** Some patterns only make sense on certain sources (e.g. json_parse on watched JSON files). */
    sources: z
      .array(z.enum(['log', 'json', 'health']))
      .default(['log'])
      .describe('Where this pattern applies: log lines, watched JSON files, health-check failures'),
    /** Health checks whose failure raises this pattern (e.g. db_connection ← database_connection). */
    health_checks: z.array(z.string()).default([]),
  })
  .loose();
export type ErrorPattern = z.infer<typeof errorPatternSchema>;

export const flapGuardSchema = z.object({
  max_fixes: z.number().int().positive().default(3).describe('More fixes than this within window_minutes trips the guard'),
  window_minutes: z.number().positive().default(30),
  reset_after_minutes: z
    .number()
    .positive()
    .default(60)
    .describe('A tripped guard resets after this long without a new detection of the pattern'),
});

export const autoFixConfigSchema = z
  .object({
    max_retries: z.number().int().min(1).default(3).describe('Maximum attempts of each action'),
    retry_delay: seconds(60).describe('Initial retry interval of each action, seconds'),
    cooldown_period: seconds(300).describe('Seconds after a fix of a pattern before it may be fixed again'),
    enable_notifications: z.boolean().default(true),
    notification_channels: z.array(z.enum(['log', 'alerts', 'email', 'webhook'])).default(['log', 'email']),
    backup_before_fix: z.boolean().default(true),
    dry_run: z.boolean().default(false).describe('Record what each action would do; touch nothing'),
    flap_guard: flapGuardSchema.prefault({}),
    action_timeout_seconds: seconds(300).describe('Start-to-close timeout of one action attempt'),
    verify_timeout_seconds: seconds(60).describe('How long verification may wait for a fix to show'),
  })
  .loose();

export const daemonSchema = z.object({
  loop_count: z.number().int().positive().default(15),
  loop_interval_seconds: z.number().positive().default(30),
  wait_minutes: z.number().positive().default(5),
  task_queue: z.string().min(1).default('autofix'),
  data_dir: z.string().default('../data').describe('Backups, state and default logs live here'),
  log_file: z.string().optional().describe('auto_fix.log path; default <data_dir>/logs/auto_fix.log'),
  alerts_file: z.string().optional().describe('alerts.log path; default next to log_file'),
  log_max_bytes: z.number().int().positive().default(10 * 1024 * 1024),
  log_keep: z.number().int().min(1).default(5),
});

export const watchSchema = z.object({
  logs: z.array(z.string()).default([]).describe('Log files or globs (*, ?, **) to scan incrementally'),
  json_files: z.array(z.string()).default([]).describe('JSON files parsed each cycle; corrupt → json_parse'),
  max_line_bytes: z.number().int().min(256).default(64 * 1024),
  max_bytes_per_scan: z
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024)
    .describe('Upper bound of bytes read per file per loop; the rest waits for the next loop'),
});

const checkBase = (interval: number) => ({
  enabled: z.boolean().default(true),
  interval_seconds: seconds(interval),
  timeout_seconds: seconds(5),
});

export const httpEndpointSchema = z.object({
  name: z.string().min(1),
  url: z.url(),
  method: z.enum(['GET', 'HEAD']).default('GET'),
  expect_status: z.array(z.number().int()).default([200]),
  body_match: z.string().optional().describe('Regex the body must match'),
  max_latency_ms: z.number().positive().optional(),
  tls_expiry_warn_days: z.number().nonnegative().default(14),
  service: z.string().optional().describe('Service that serves it (for restarts and verification)'),
});

export const healthChecksSchema = z.object({
  postgres: z.object({ ...checkBase(60), url: z.string().default('postgresql://127.0.0.1:5432/postgres') }).prefault({}),
  redis: z.object({ ...checkBase(60), url: z.string().default('redis://127.0.0.1:6379') }).prefault({}),
  disk: z
    .object({ ...checkBase(300), threshold_percent: z.number().min(1).max(100).default(90), paths: z.array(z.string()).default(['/']) })
    .prefault({}),
  memory: z.object({ ...checkBase(300), threshold_percent: z.number().min(1).max(100).default(85) }).prefault({}),
  http: z.object({ ...checkBase(30), endpoints: z.array(httpEndpointSchema).default([]) }).prefault({}),
  ports: z
    .object({
      ...checkBase(60),
      expect_listening: z.array(z.object({ port: z.number().int().min(1).max(65535), name: z.string() })).default([]),
    })
    .prefault({}),
});

const octalMode = z
  .string()
  .regex(/^0?[0-7]{3,4}$/, 'an octal mode such as "0750"')
  .describe('Octal file mode');

export const managedSchema = z.object({
  roots: z
    .array(z.string())
    .default([])
    .describe('Every file an action touches must resolve (realpath) inside one of these'),
  directories: z
    .record(z.string(), z.string())
    .default({})
    .describe('create_missing_dirs: name → path (data, logs, uploads, cache)'),
  dir_mode: octalMode.default('0750'),
  owner: z.string().optional(),
  group: z.string().optional(),
  cache_dirs: z.array(z.string()).default([]),
  temp_dirs: z.array(z.string()).default([]),
  temp_max_age_hours: z.number().positive().default(24),
  old_file_dirs: z.array(z.string()).default([]),
  old_file_max_age_days: z.number().positive().default(30),
  permissions: z
    .array(
      z.object({
        path: z.string(),
        mode: octalMode,
        owner: z.string().optional(),
        group: z.string().optional(),
        recursive: z.boolean().default(false),
      }),
    )
    .default([]),
  log_rotate: z
    .object({
      files: z.array(z.string()).default([]).describe('Files/globs to rotate; default: the watched logs'),
      max_bytes: z.number().int().positive().default(10 * 1024 * 1024),
      keep: z.number().int().min(1).default(5),
      compress: z.boolean().default(true),
      copy_truncate: z.boolean().default(true),
    })
    .prefault({}),
  json_files: z
    .array(z.object({ path: z.string(), default_content: z.unknown().optional() }))
    .default([])
    .describe('backup_and_fix_json targets and their default content'),
  redis_cache_prefix: z.string().optional().describe('cache_clear also UNLINKs Redis keys under this prefix'),
  ports: z.array(z.number().int().min(1).max(65535)).default([]).describe('Ports actions may inspect or free'),
  kill_allow_list: z
    .array(z.string())
    .default([])
    .describe('Regexes; a process holding a port is killed only if its command line matches one'),
});

export const serviceSchema = z.object({
  restart: z.array(z.string()).min(1).optional().describe('argv; default ["systemctl","restart",<unit>]'),
  unit: z.string().optional(),
  stop_signal_timeout_seconds: seconds(10),
  pid_file: z.string().optional().describe('Used to SIGTERM/SIGKILL a hung service before restarting'),
  process_match: z.string().optional().describe('Regex on the command line of the service process'),
  health: z
    .object({
      type: z.enum(['postgres', 'redis', 'http', 'tcp']),
      url: z.string().optional(),
      port: z.number().int().optional(),
      host: z.string().default('127.0.0.1'),
    })
    .optional(),
  health_timeout_seconds: seconds(30),
});
export type ServiceConfig = z.infer<typeof serviceSchema>;

export const notificationsSchema = z.object({
  email: z
    .object({
      host: z.string(),
      port: z.number().int().default(25),
      secure: z.boolean().default(false),
      user: z.string().optional(),
      pass: z.string().optional(),
      from: z.string().default('autofix@localhost'),
      to: z.array(z.string()).min(1),
    })
    .optional(),
  webhook: z
    .object({ url: z.url(), headers: z.record(z.string(), z.string()).default({}), timeout_seconds: seconds(5) })
    .optional(),
  min_severity: z.enum(SEVERITIES).default('warning'),
});

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    error_patterns: z.array(errorPatternSchema),
    auto_fix_config: autoFixConfigSchema.prefault({}),
    daemon: daemonSchema.prefault({}),
    watch: watchSchema.prefault({}),
    health_checks: healthChecksSchema.prefault({}),
    managed: managedSchema.prefault({}),
    services: z.record(z.string(), serviceSchema).default({}),
    notifications: notificationsSchema.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.error_patterns.forEach((p, i) => {
      const prev = seen.get(p.id);
      if (prev !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['error_patterns', i, 'id'], message: `duplicate id "${p.id}" (also at error_patterns[${prev}])` });
      }
      seen.set(p.id, i);
      p.actions.forEach((a, j) => {
        if (a.type === 'service_restart' && !cfg.services[a.service]) {
          ctx.addIssue({
            code: 'custom',
            path: ['error_patterns', i, 'actions', j, 'service'],
            message: `service "${a.service}" is not defined under "services" (defined: ${Object.keys(cfg.services).join(', ') || 'none'})`,
          });
        }
      });
    });
  });

/** A validated config with defaults applied and paths resolved (see `loadConfig`). */
export type Config = z.infer<typeof configSchema> & { readonly source: string };
export type ActionSpec = ErrorPattern['actions'][number];
export type ActionType = ActionSpec['type'];
