/**
 * Renders /etc/autofix/autofix.env, the worker's environment (systemd `EnvironmentFile=`).
 * Committed as deploy/autofix.env.example; `autofix install-service` writes it only when absent.
 */
import { InvalidDeployOptionError } from './errors';

/** Options of `renderEnvFile`. */
export interface EnvFileOptions {
  /** Config file the worker loads. @default '/etc/autofix/error_patterns.json' */
  configPath?: string;
  /**
   * Temporal frontend, host:port. Unset (the default): auto-fix-daemon.service runs its embedded
   * dev server and autofix-worker.service connects to 127.0.0.1:7233.
   */
  temporalAddress?: string;
  /** @default 'default' */
  temporalNamespace?: string;
  /** @default 'autofix' */
  taskQueue?: string;
}

// systemd's EnvironmentFile= parser treats quotes, backslashes and `$`... specially; keep values plain.
const PLAIN = /^[A-Za-z0-9_.:@/+-]+$/;

/**
 * Renders the env file. Secrets (database and Redis URLs with passwords) are left commented
 * for the operator to fill in; the file is installed with mode 0640.
 *
 * @example
 *   renderEnvFile({ configPath: '/etc/autofix/error_patterns.json' });
 */
export function renderEnvFile(opts: EnvFileOptions = {}): string {
  const values = {
    configPath: opts.configPath ?? '/etc/autofix/error_patterns.json',
    ...(opts.temporalAddress !== undefined ? { temporalAddress: opts.temporalAddress } : {}),
    temporalNamespace: opts.temporalNamespace ?? 'default',
    taskQueue: opts.taskQueue ?? 'autofix',
  };
  for (const [k, v] of Object.entries(values)) {
    if (!PLAIN.test(v)) throw new InvalidDeployOptionError(k, `"${v}" must be plain text (letters, digits and ._:@/+-)`);
  }
  const address =
    values.temporalAddress !== undefined
      ? `TEMPORAL_ADDRESS=${values.temporalAddress}`
      : '# Unset: auto-fix-daemon.service runs its own Temporal dev server (state in /var/lib/autofix)\n' +
        '# and autofix-worker.service connects to 127.0.0.1:7233. Set it to use a Temporal cluster:\n#TEMPORAL_ADDRESS=temporal.example:7233';
  return `# Environment of auto-fix-daemon.service and autofix-worker.service (EnvironmentFile=).
# KEY=value, one per line.
# Temporal frontend the worker connects to; it retries until the server answers.
${address}
TEMPORAL_NAMESPACE=${values.temporalNamespace}
AUTOFIX_TASK_QUEUE=${values.taskQueue}
AUTOFIX_CONFIG=${values.configPath}
# The monitored stack; these override health_checks.postgres.url / health_checks.redis.url.
#DATABASE_URL=postgresql://app:CHANGE_ME@127.0.0.1:5432/app
#REDIS_URL=redis://127.0.0.1:6379/0
`;
}
