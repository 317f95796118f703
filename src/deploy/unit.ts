/**
 * Renders the systemd units: `auto-fix-daemon.service` (the seed's unit: one process runs the
 * embedded Temporal dev server or uses TEMPORAL_ADDRESS, the worker and the daemon workflow) and
 * `autofix-worker.service` (a worker alone, for hosts that share a Temporal cluster). Pure:
 * options in, text out; the same texts are committed under deploy/systemd/ (a test keeps them
 * equal).
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
  /** systemd MemoryMax=. @default '512M' (renderDaemonUnit: '768M', for the worker and its embedded server) */
  memoryMax?: string;
  /** systemd CPUQuota=. @default '50%' */
  cpuQuota?: string;
  /** Seconds systemd waits after SIGTERM before SIGKILL. @default 60 */
  timeoutStopSec?: number;
  /** The Temporal CLI that auto-fix-daemon.service runs as its embedded server. @default '/usr/local/bin/temporal' */
  temporalCliPath?: string;
  /** auto-fix-daemon.service's StateDirectory= under /var/lib (the dev server's database). @default 'autofix' */
  stateDirectory?: string;
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
    temporalCliPath: opts.temporalCliPath ?? '/usr/local/bin/temporal',
    stateDirectory: opts.stateDirectory ?? 'autofix',
  };
  for (const k of ['user', 'group'] as const) {
    if (!ACCOUNT.test(r[k])) throw new InvalidDeployOptionError(k, `"${r[k]}" is not a valid account name (expected e.g. "www-data")`);
  }
  for (const k of ['prefix', 'nodePath', 'envFile', 'temporalCliPath'] as const) {
    const p = r[k].replace(/(.)\/$/, '$1');
    if (!SAFE_PATH.test(p) || path.posix.normalize(p) !== p) {
      throw new InvalidDeployOptionError(k, `"${r[k]}" must be a normalized absolute path of letters, digits and ._+@/-`);
    }
    r[k] = p;
  }
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(r.stateDirectory)) {
    throw new InvalidDeployOptionError('stateDirectory', `"${r.stateDirectory}" must be one directory name (letters, digits, ._-), created under /var/lib`);
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
${unitHead(o, 'autofix worker (self-healing daemon for Flask + PostgreSQL + Redis, on Temporal)', 'operations.md')}
ExecStart=${o.nodePath} ${o.prefix}/bin/autofix worker
Restart=on-failure
RestartSec=5s
# The worker drains on SIGTERM: it stops polling and lets running activities finish; Temporal
# retries whatever is still unfinished on the next worker, so a stop loses no fix.
KillSignal=SIGTERM
TimeoutStopSec=${o.timeoutStopSec}s

${limitsAndHardening(o, "Resource limits (the seed's 512 MB memory, 50% CPU).")}`;
}

/** [Unit] and the start of [Service], shared by both units: who runs what, from where. */
function unitHead(o: ResolvedUnitOptions, description: string, doc: string): string {
  return `[Unit]
Description=${description}
Documentation=file://${o.prefix}/docs/${doc}
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${o.user}
Group=${o.group}
WorkingDirectory=${o.prefix}
EnvironmentFile=-${o.envFile}
Environment=NODE_ENV=production`;
}

/** Resource limits (under `why`), the sudo-compatible sandbox and [Install], shared by both units. */
function limitsAndHardening(o: ResolvedUnitOptions, why: string): string {
  return `# ${why}
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

/**
 * Renders `auto-fix-daemon.service`, the seed's unit: \`systemctl start auto-fix-daemon\` brings
 * up the whole daemon on a fresh host. Its one process (\`autofix up\`) starts the Temporal dev
 * server from \`temporalCliPath\` with its database in /var/lib/<stateDirectory> (unless the env
 * file sets TEMPORAL_ADDRESS), runs the worker, starts or attaches to the daemon workflow, and
 * echoes auto_fix.log's lines to stdout, so \`journalctl -u auto-fix-daemon\` shows them.
 *
 * @example
 *   writeFileSync('/etc/systemd/system/auto-fix-daemon.service', renderDaemonUnit({ prefix: '/opt/autofix' }));
 */
export function renderDaemonUnit(opts: UnitOptions = {}): string {
  const o = resolveUnitOptions({ memoryMax: '768M', ...opts });
  return `# auto-fix-daemon: the self-healing daemon (autofix, the successor of auto_fix_daemon.py).
# One process runs the embedded Temporal dev server (or uses TEMPORAL_ADDRESS from the env file),
# the worker and the daemon workflow; auto_fix.log's lines also go to the journal.
# Installed by \`autofix install-service\`; see docs/migrating-from-python.md.
${unitHead(o, 'auto-fix-daemon (autofix: self-healing daemon for Flask + PostgreSQL + Redis, on Temporal)', 'migrating-from-python.md')}
# The embedded server's database (and up's lock) live in the state directory, which systemd
# creates owned by the service's user.
StateDirectory=${o.stateDirectory}
StateDirectoryMode=0750
Environment=AUTOFIX_DATA_DIR=/var/lib/${o.stateDirectory}
Environment=TEMPORAL_CLI_PATH=${o.temporalCliPath}
# The seed's options go here too: --config PATH --log-file PATH --loop-count N --wait-minutes N.
ExecStart=${o.nodePath} ${o.prefix}/bin/autofix up
Restart=on-failure
RestartSec=5s
# SIGTERM goes to autofix only: it drains the worker (running activities finish; Temporal
# retries the rest), then stops the dev server it started, cleanly. The rest of the unit is
# killed only if it outlives TimeoutStopSec.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=${o.timeoutStopSec}s

${limitsAndHardening(o, "Resource limits: the seed's 50% CPU; the memory is shared by the worker and the embedded\n# Temporal server (~170 + ~190 MiB RSS idle: docs/benchmarks.md, footprint; the seed's 512 MB\n# held its Python daemon alone).")}`;
}
