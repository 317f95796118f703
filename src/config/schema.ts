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
/** The name of an environment variable that holds a secret, so the secret stays out of the file. */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

/** A pattern id: what workflows, signals and CLI commands use to name a pattern. */
export const PATTERN_ID = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/**
 * A regex field (JSON Schema `format: "regex"`). loadConfig finds every field declared with it,
 * translates Python `re` syntax, compiles it and refuses catastrophic backtracking; a sibling
 * `flags` field, if any, holds its flags (see config/regexes.ts).
 */
export const regexString = () => z.string().min(1).meta({ format: 'regex' });

/** Names of the seed's severities, lowest first. */
export const SEVERITIES = ['warning', 'error', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const errorPatternSchema = z
  .object({
    id: z.string().regex(PATTERN_ID, 'a lower-case id of letters, digits, "_", "-" or "." (max 63)'),
    name: z.string().min(1),
    pattern: regexString().describe('JavaScript regular expression matched against each log line/event (Python re syntax is translated)'),
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
    files: z
      .array(z.string().min(1))
      .optional()
      .describe(
        'Log files this pattern applies to, as globs (*, **, ?, [..], {a,b}): without "/" a glob matches the file name ("*access*"), with "/" the path (relative to this file); "!glob" excludes. Default: every watched log. Whatever the scope, a pattern matches an access-log line (common/combined, werkzeug) only if it also matches the line with the URL, user, referer and user agent masked (method, protocol, status, size and numbers kept)',
      ),
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
  // Not the seed's `../data`: that is where the seed's app keeps its JSON data, and nothing under
  // data_dir is ever watched (own files are never input).
  data_dir: z.string().default('../autofix').describe('Backups, state, cursors and config versions live here; never watched'),
  // The seed runs from backend/scripts with `--log-file ../logs/auto_fix.log`.
  log_file: z.string().default('../logs/auto_fix.log').describe('auto_fix.log path (relative to the config file); never watched'),
  alerts_file: z.string().optional().describe('alerts.log path; default next to log_file; never watched'),
  log_max_bytes: z.number().int().positive().default(10 * 1024 * 1024),
  log_keep: z.number().int().min(1).default(5),
  engine_outage_alert_seconds: seconds(30).describe(
    'The worker alerts once when the Temporal server has not answered it for this long, and once when it is back',
  ),
});

export const watchSchema = z.object({
  logs: z.array(z.string()).default([]).describe('Log files or globs (*, ?, **) to scan incrementally'),
  start_at: z
    .enum(['end', 'beginning'])
    .default('end')
    .describe('Where a log seen for the first time is read from: its end (what is already there is the past) or its beginning'),
  json_files: z.array(z.string()).default([]).describe('JSON files parsed each cycle; corrupt → json_parse'),
  max_line_bytes: z.number().int().min(256).default(64 * 1024),
  max_bytes_per_scan: z
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024)
    .describe('Upper bound of bytes read per file per loop; the rest waits for the next loop'),
  scan_budget_seconds: z
    .number()
    .positive()
    .default(5)
    .describe('Longest the scan may spend on one ~1 MiB region of a log; a pattern that overruns it is disabled for that file (critical alert)'),
});

/** `critical` follows the seed's health_checks: its failure alerts `Critical health check failures: …`. */
const checkBase = (interval: number, critical: boolean) => ({
  enabled: z.boolean().default(true),
  interval_seconds: seconds(interval),
  timeout_seconds: seconds(5),
  critical: z.boolean().default(critical).describe('A failure alerts "Critical health check failures: <checks>" in alerts.log'),
});

export const httpEndpointSchema = z.object({
  name: z.string().min(1),
  url: z.url(),
  method: z.enum(['GET', 'HEAD']).default('GET'),
  expect_status: z.array(z.number().int()).default([200]),
  body_match: regexString().optional().describe('Regex the body must match'),
  max_latency_ms: z.number().positive().optional(),
  tls_expiry_warn_days: z.number().nonnegative().default(14),
  service: z.string().optional().describe('Service that serves it (for restarts and verification)'),
});

export const healthChecksSchema = z.object({
  postgres: z.object({ ...checkBase(60, true), url: z.string().default('postgresql://127.0.0.1:5432/postgres') }).prefault({}),
  redis: z.object({ ...checkBase(60, false), url: z.string().default('redis://127.0.0.1:6379') }).prefault({}),
  disk: z
    .object({ ...checkBase(300, true), threshold_percent: z.number().min(1).max(100).default(90), paths: z.array(z.string()).default(['/']) })
    .prefault({}),
  memory: z.object({ ...checkBase(300, false), threshold_percent: z.number().min(1).max(100).default(85) }).prefault({}),
  http: z.object({ ...checkBase(30, true), endpoints: z.array(httpEndpointSchema).default([]) }).prefault({}),
  ports: z
    .object({
      ...checkBase(60, false),
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
    .describe('Every file an action touches must lie inside one of these (reached through directory fds; no symlink below a root is followed; the directories above a root must be root- or worker-owned and not writable by others)'),
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
      copy_truncate: z
        .boolean()
        .default(true)
        .describe(
          'true: copy the log and truncate it in place (works with any writer; a few lines written during the truncate can be lost, see docs/benchmarks.md). false ("create" mode, recommended): rename the log, create a new empty one and tell the writer to reopen it (`reopen` or `postrotate`, required): no line is lost',
        ),
      reopen: z
        .object({
          service: z.string().min(1).describe('The service (under `services`) whose processes write the log: found by its pid_file/process_match under the kill-safety rules'),
          signal: z.enum(['HUP', 'USR1', 'USR2']).default('HUP').describe('The signal that makes it reopen its log files (gunicorn, nginx: USR1; many daemons: HUP)'),
        })
        .optional()
        .describe('Create mode: after the rename, send this signal to the service so it reopens the log'),
      postrotate: z
        .array(z.string().min(1))
        .min(1)
        .optional()
        .describe('Create mode: argv run after the rename so the writer reopens the log (e.g. ["systemctl","kill","-s","HUP","flask"]); no shell'),
      reopen_wait_seconds: z
        .number()
        .positive()
        .default(10)
        .describe('Create mode: how long to wait for the writer to let go of the renamed file before compressing it (if it still holds it, compression waits for the next rotation)'),
    })
    .prefault({}),
  json_files: z
    .array(z.object({ path: z.string(), default_content: z.unknown().optional() }))
    .default([])
    .describe('backup_and_fix_json targets and their default content'),
  redis_cache_prefix: z.string().optional().describe('cache_clear also UNLINKs Redis keys under this prefix'),
  ports: z.array(z.number().int().min(1).max(65535)).default([]).describe('Ports actions may inspect or free'),
  kill_allow_list: z
    .array(regexString())
    .default([])
    .describe(
      'Regexes; a process holding a port is killed only if its WHOLE command line (argv joined by spaces) matches one: each is used as ^(?:regex)$, so write ".*" where anything may follow',
    ),
});

export const backupsSchema = z.object({
  dir: z
    .string()
    .optional()
    .describe(
      'Where backups are kept; default <data_dir>/backups. Put it on another file system than the managed files: space-freeing actions then keep content copies even when that file system is full',
    ),
  max_age_days: z.number().positive().default(14).describe('Backups older than this are pruned (each detection loop; oldest first)'),
  max_total_mb: z.number().positive().default(1024).describe('The backups together are pruned, oldest first, down to this size'),
  json_versions: z
    .number()
    .int()
    .min(1)
    .default(3)
    .describe('Last-known-good copies kept per watched JSON file (taken whenever it parses and changed; restored by backup_and_fix_json)'),
  redis_max_keys: z.number().int().positive().default(10000).describe('cache_clear DUMPs at most this many Redis keys for compensation; above it the Redis part is not reversible'),
  redis_max_mb: z.number().positive().default(64).describe('... and at most this many MB of DUMPed values'),
});

export const serviceSchema = z.object({
  restart: z.array(z.string()).min(1).optional().describe('argv; default ["systemctl","restart",<unit>]'),
  unit: z.string().optional(),
  stop_signal_timeout_seconds: seconds(10),
  pid_file: z
    .string()
    .optional()
    .describe(
      'Used to SIGTERM/SIGKILL a hung service before restarting. Refused unless it and every directory above it belong to root, the worker\'s user or `user` and are not writable by others (no symlink); ignored when stale (its process started after the file was written)',
    ),
  process_match: regexString()
    .optional()
    .describe('Regex on the WHOLE command line of the service process (used as ^(?:regex)$; argv joined by spaces)'),
  user: z
    .string()
    .optional()
    .describe('User the service runs as: may own its pid_file; with it, only processes of root or this user count as the service'),
  confirm: z
    .boolean()
    .default(true)
    .describe(
      'service_restart first confirms the fault with a live probe: the health check must fail (or, without one, no process of the service may be running, from pid_file/process_match); a healthy service is not restarted (incident skipped). A service with no health check whose process runs cannot be confirmed and is refused. false: restart without a confirmed fault (a log line alone restarts it)',
    ),
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
      pass_env: envName.optional().describe('Environment variable holding the SMTP password (instead of pass)'),
      from: z.string().default('autofix@localhost'),
      to: z.array(z.string()).min(1),
    })
    .optional(),
  webhook: z
    .object({
      url: z.url().optional(),
      url_env: envName.optional().describe('Environment variable holding the webhook URL (instead of url)'),
      headers: z.record(z.string(), z.string()).default({}),
      headers_env: z.record(z.string(), envName).default({}).describe('Header name → environment variable holding its value'),
      timeout_seconds: seconds(5),
    })
    .refine((w) => (w.url === undefined) !== (w.url_env === undefined), 'exactly one of "url" and "url_env"')
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
    backups: backupsSchema.prefault({}),
    services: z.record(z.string(), serviceSchema).default({}),
    notifications: notificationsSchema.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const rot = cfg.managed.log_rotate;
    if (!rot.copy_truncate && !rot.reopen && !rot.postrotate) {
      ctx.addIssue({
        code: 'custom',
        path: ['managed', 'log_rotate', 'copy_truncate'],
        message: 'copy_truncate false ("create" mode) needs a way to make the writer reopen its log: set managed.log_rotate.reopen ({"service": ..., "signal": "HUP"}) or managed.log_rotate.postrotate (an argv); without one the writer keeps writing into the rotated file',
      });
    }
    const reopenSvc = rot.reopen ? cfg.services[rot.reopen.service] : undefined;
    if (rot.reopen && !reopenSvc) {
      ctx.addIssue({ code: 'custom', path: ['managed', 'log_rotate', 'reopen', 'service'], message: `service "${rot.reopen.service}" is not defined under "services" (defined: ${Object.keys(cfg.services).join(', ') || 'none'})` });
    } else if (rot.reopen && !reopenSvc?.pid_file && !reopenSvc?.process_match) {
      ctx.addIssue({ code: 'custom', path: ['managed', 'log_rotate', 'reopen', 'service'], message: `service "${rot.reopen.service}" has neither pid_file nor process_match: its processes cannot be found to be signalled` });
    }
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
