/**
 * Renders the systemd unit of the autofix worker. Pure: options in, text out; the same text is
 * committed as deploy/systemd/autofix-worker.service (a test keeps them equal).
 */
import path from 'node:path';
import { InvalidDeployOptionError } from './errors';

/** Options of `renderUnit`. */
export interface UnitOptions {
  /** Account the worker runs as; it needs sudo rights for the configured restarts. @default 'www-data' */
  user?: string;
  /** Primary group. @default the user */
  group?: string;
  /** Installation directory holding `bin/autofix`, `dist/` and `node_modules/`. @default '/opt/autofix' */
  prefix?: string;
  /** Absolute path of the node binary. @default '/usr/bin/node' */
  nodePath?: string;
  /** Environment file (read if present). @default '/etc/autofix/autofix.env' */
  envFile?: string;
  /** systemd MemoryMax=. @default '512M' */
  memoryMax?: string;
  /** systemd CPUQuota=. @default '50%' */
  cpuQuota?: string;
  /** Seconds systemd waits after SIGTERM before SIGKILL. @default 60 */
  timeoutStopSec?: number;
}

/** `UnitOptions` with every default applied and checked. */
export type ResolvedUnitOptions = Required<UnitOptions>;

const ACCOUNT = /^[a-z_][a-z0-9_-]{0,31}$/;
// Whitespace, quotes, `%` and `$` would be interpreted by systemd's ExecStart=/specifier parsing.
const SAFE_PATH = /^\/[A-Za-z0-9._+@/-]*$/;

/** Adds the defaults to unit options and checks them; errors name the option. */
export function resolveUnitOptions(opts: UnitOptions = {}): ResolvedUnitOptions {
  const user = opts.user ?? 'www-data';
  const r: ResolvedUnitOptions = {
    user,
    group: opts.group ?? user,
    prefix: opts.prefix ?? '/opt/autofix',
    nodePath: opts.nodePath ?? '/usr/bin/node',
    envFile: opts.envFile ?? '/etc/autofix/autofix.env',
    memoryMax: opts.memoryMax ?? '512M',
    cpuQuota: opts.cpuQuota ?? '50%',
    timeoutStopSec: opts.timeoutStopSec ?? 60,
  };
  for (const k of ['user', 'group'] as const) {
    if (!ACCOUNT.test(r[k])) throw new InvalidDeployOptionError(k, `"${r[k]}" is not a valid account name (expected e.g. "www-data")`);
  }
  for (const k of ['prefix', 'nodePath', 'envFile'] as const) {
    const p = r[k].replace(/(.)\/$/, '$1');
    if (!SAFE_PATH.test(p) || path.posix.normalize(p) !== p) {
      throw new InvalidDeployOptionError(k, `"${r[k]}" must be a normalized absolute path of letters, digits and ._+@/-`);
    }
    r[k] = p;
  }
  if (!/^\d+[KMGT]?$/.test(r.memoryMax)) throw new InvalidDeployOptionError('memoryMax', `"${r.memoryMax}" is not a size such as "512M"`);
  if (!/^\d+%$/.test(r.cpuQuota)) throw new InvalidDeployOptionError('cpuQuota', `"${r.cpuQuota}" is not a percentage such as "50%"`);
  if (!Number.isInteger(r.timeoutStopSec) || r.timeoutStopSec < 1) {
    throw new InvalidDeployOptionError('timeoutStopSec', `${r.timeoutStopSec} is not a positive whole number of seconds`);
  }
  return r;
}

/**
 * Renders `autofix-worker.service`.
 *
 * @example
 *   writeFileSync('/etc/systemd/system/autofix-worker.service', renderUnit({ prefix: '/opt/autofix' }));
 */
export function renderUnit(opts: UnitOptions = {}): string {
  const o = resolveUnitOptions(opts);
  return `# autofix worker: runs the Temporal activities and workflows of the self-healing daemon.
# Installed by \`autofix install-service\`; see docs/operations.md.
[Unit]
Description=autofix worker (self-healing daemon for Flask + PostgreSQL + Redis, on Temporal)
Documentation=file://${o.prefix}/docs/operations.md
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${o.user}
Group=${o.group}
WorkingDirectory=${o.prefix}
EnvironmentFile=-${o.envFile}
Environment=NODE_ENV=production
ExecStart=${o.nodePath} ${o.prefix}/bin/autofix worker
Restart=on-failure
RestartSec=5s
# The worker drains on SIGTERM: it stops polling and lets running activities finish; Temporal
# retries whatever is still unfinished on the next worker, so a stop loses no fix.
KillSignal=SIGTERM
TimeoutStopSec=${o.timeoutStopSec}s

# Resource limits (the seed's 512 MB memory, 50% CPU).
MemoryMax=${o.memoryMax}
CPUQuota=${o.cpuQuota}

# Hardening. Service restarts go through \`sudo -n\` (setuid root), so NoNewPrivileges=yes
# would make every restart fail. So would any option that implies it
# (RestrictSUIDSGID, SystemCallFilter, ProtectKernel*, PrivateDevices, LockPersonality,
# MemoryDenyWriteExecute, RestrictNamespaces, RestrictRealtime, RestrictAddressFamilies, ...),
# hence their absence. What sudo may run is limited instead by /etc/sudoers.d/autofix, which
# lists exactly the configured restart commands. The options below leave sudo working.
NoNewPrivileges=no
PrivateTmp=true
# /usr, /boot and /etc read-only; /var and /run stay writable for backups, logs and sudo's state.
ProtectSystem=full
ProtectControlGroups=yes
UMask=0027

[Install]
WantedBy=multi-user.target
`;
}
