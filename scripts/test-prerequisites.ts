/**
 * `npm test`, before the tests: makes this machine able to run them, the way `npm start`
 * provisions the Temporal CLI. It finds the programs the tests and benchmarks run (TEST_TOOLS:
 * tool → Debian package → why) and checks that PostgreSQL and Redis answer where the tests expect
 * them. Then:
 *  - as root: installs the missing packages with one `apt-get install` (after `apt-get update`),
 *    saying what and why, and starts the services that are down;
 *  - otherwise: stops at once (exit 1) with the exact commands to run, instead of letting the
 *    tests fail one by one.
 * A service that answers but not as the tests need (no database `test`, a password asked) is
 * reported, never restarted. The Temporal CLI is provisioned by run-tests (ensureTemporalCli).
 *
 * Usage: node dist/scripts/test-prerequisites.js
 * Env (for checking this script itself): AUTOFIX_TEST_PG_URL, AUTOFIX_TEST_REDIS_URL, where the
 * tests' PostgreSQL and Redis are checked (defaults: the URLs the tests use).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { isExecutableFile, resolverOn } from '../src/deploy';
import { describeDbUrl, probePostgres } from '../src/probes/postgres';
import { describeRedisUrl, probeRedis } from '../src/probes/redis';
import { canConnect } from '../src/util/net';

/** A program the tests or benchmarks run, the Debian package that installs it, and who needs it. */
export interface ToolRequirement {
  /** Program name, looked up on PATH and the sbin directories. */
  tool: string;
  /** The Debian package that installs it. */
  package: string;
  /** Who runs it (printed with the install line and in a test's failure message). */
  why: string;
}

/**
 * Every external program the tests and benchmarks run. Adding a tool is one line. Programs of
 * Debian's Essential packages (sh, cat, grep, tail, getconf…) are always there and not listed.
 */
export const TEST_TOOLS: readonly ToolRequirement[] = [
  { tool: 'pg_ctlcluster', package: 'postgresql', why: "the tests' PostgreSQL; service-restart tests run initdb/pg_ctl clusters of their own" },
  { tool: 'psql', package: 'postgresql-client', why: 'detection-real-output classifies its connection errors' },
  { tool: 'redis-server', package: 'redis-server', why: "the tests' Redis; probe, saga and restart tests and the benchmarks start their own" },
  { tool: 'redis-cli', package: 'redis-tools', why: 'detection-real-output classifies its connection errors' },
  { tool: 'pg_isready', package: 'postgresql-client', why: 'docs-migrating runs the troubleshooting commands the migration page shows' },
  { tool: 'visudo', package: 'sudo', why: 'deploy-sudoers and deploy-install-service check the sudoers file' },
  { tool: 'systemd-analyze', package: 'systemd', why: 'deploy-unit and deploy-install-service verify the systemd unit' },
  { tool: 'docker-compose', package: 'docker-compose', why: 'deploy-compose validates docker-compose.yml, no Docker engine needed' },
  { tool: 'chromium', package: 'chromium', why: 'webui-incidents drives the Temporal Web UI in headless Chromium' },
  { tool: 'python3', package: 'python3', why: 'detection-real-output runs tracebacks and http.server; deploy-compose parses YAML; rotation tests run a numbered-line log writer' },
  { tool: 'openssl', package: 'openssl', why: 'self-signed certificates for the TLS probe and detection tests' },
  { tool: 'curl', package: 'curl', why: 'detection-real-output classifies its HTTP and TLS errors' },
  { tool: 'nginx', package: 'nginx-light', why: 'temporal-tls puts TLS (mTLS, API key) in front of the dev server with grpc_pass; daemon-access-log writes a real combined access log' },
  { tool: 'runuser', package: 'util-linux', why: 'tests that act as nobody or postgres' },
  { tool: 'flask', package: 'python3-flask', why: 'daemon-access-log runs the werkzeug dev server of a Flask app' },
  { tool: 'setpriv', package: 'util-linux', why: 'service-unit starts auto-fix-daemon.service as its User= the way systemd does' },
  { tool: 'mount', package: 'mount', why: 'tests that fill a small tmpfs (disk-full)' },
  { tool: 'umount', package: 'mount', why: 'tests that fill a small tmpfs (disk-full)' },
  { tool: 'monit', package: 'monit', why: 'the peer of bench/mttr' },
  { tool: 'supervisord', package: 'supervisor', why: 'a benchmark peer' },
  { tool: 'time', package: 'time', why: 'bench/scan reads peak memory from /usr/bin/time -v' },
];

/** sbin directories: a non-root PATH often lacks them, yet visudo and runuser live there. */
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** True when others may search `dir` and every directory above it. */
function searchableByAll(dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * True when `file` is executable here AND by every user: the tests run tools as root and as
 * nobody, so a program only root can reach (a pyenv shim under /root) does not count — it would
 * pass this check and fail a test run as nobody, and hide the Debian package the table names.
 */
function runnableByAll(file: string): boolean {
  if (!isExecutableFile(file)) return false;
  try {
    const real = realpathSync(file);
    return (statSync(real).mode & 0o001) !== 0 && searchableByAll(path.dirname(file)) && searchableByAll(path.dirname(real));
  } catch {
    return false;
  }
}

/**
 * The absolute path of `tool` on PATH (then the sbin directories) that every user can run, or undefined.
 *
 * @example findTool('visudo'); // '/usr/sbin/visudo' once the package sudo is installed
 */
export function findTool(tool: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(path.delimiter).filter((d) => path.isAbsolute(d)), ...SBIN_DIRS];
  return resolverOn(dirs, runnableByAll)(tool);
}

/** The rows of `table` whose program is not found. */
export function missingTools(table: readonly ToolRequirement[] = TEST_TOOLS, env: NodeJS.ProcessEnv = process.env): ToolRequirement[] {
  return table.filter((t) => !findTool(t.tool, env));
}

/** The packages of `tools`, each once, in table order. */
export function packagesOf(tools: readonly ToolRequirement[]): string[] {
  return [...new Set(tools.map((t) => t.package))];
}

/** Stands for PostgreSQL's version in its start command until the package is installed. */
const PG_VERSION_PLACEHOLDER = '"$(ls /etc/postgresql)"';

/**
 * An argv as a line a person can paste into a shell (arguments quoted only where needed; the
 * version placeholder is left for the shell to expand).
 *
 * @example shellLine(['redis-server', '--save', '']); // 'redis-server --save ""'
 */
export function shellLine(argv: readonly string[]): string {
  const quote = (a: string) => (a === '' ? '""' : a === PG_VERSION_PLACEHOLDER || /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return argv.map(quote).join(' ');
}

/** A service the tests use, how to tell it answers, and the machine's command that starts it. */
interface ServiceRequirement {
  name: string;
  url: string;
  /** Where it listens (from the URL): nothing accepting there means it is down. */
  host: string;
  port: number;
  /** host:port (and database) for messages, without credentials. */
  target: string;
  probe(url: string, timeoutMs: number): Promise<{ status: string; message: string }>;
  start(): string[];
  /** What the tests need of it, for a service that answers but not as they need. */
  needs: string;
}

/** The PostgreSQL version directory in /etc/postgresql (the newest, if several), or undefined. */
function postgresVersion(): string | undefined {
  try {
    return readdirSync('/etc/postgresql').sort((a, b) => Number(b) - Number(a))[0];
  } catch {
    return undefined;
  }
}

/** PostgreSQL and Redis as the tests use them (127.0.0.1:5432 db test as root, 127.0.0.1:6379). */
export function testServices(env: NodeJS.ProcessEnv = process.env): ServiceRequirement[] {
  const pgUrl = env.AUTOFIX_TEST_PG_URL ?? 'postgresql://root@127.0.0.1:5432/test';
  const redisUrl = env.AUTOFIX_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const listens = (url: string, defaultPort: number) => {
    const u = new URL(url);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || defaultPort) };
  };
  return [
    {
      name: 'PostgreSQL',
      url: pgUrl,
      ...listens(pgUrl, 5432),
      target: describeDbUrl(pgUrl),
      probe: probePostgres,
      start: () => ['pg_ctlcluster', '--skip-systemctl-redirect', postgresVersion() ?? PG_VERSION_PLACEHOLDER, 'main', 'start'],
      needs: 'trust auth for 127.0.0.1 and a role root with a database test (see DEVELOPERS.md)',
    },
    {
      name: 'Redis',
      url: redisUrl,
      ...listens(redisUrl, 6379),
      target: describeRedisUrl(redisUrl),
      probe: probeRedis,
      start: () => ['redis-server', '--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', '6379', '--save', '', '--appendonly', 'no', '--dir', '/var/lib/redis', '--logfile', '/var/log/redis/ci.log'],
      needs: 'no password (see DEVELOPERS.md)',
    },
  ];
}

/** How a service stands: answering as the tests need, down (nothing listens), or answering wrongly. */
type ServiceState = { service: ServiceRequirement; state: 'ok' | 'down' } | { service: ServiceRequirement; state: 'wrong'; message: string };

async function checkService(service: ServiceRequirement): Promise<ServiceState> {
  if (!(await canConnect(service.port, service.host, 2000))) return { service, state: 'down' };
  const r = await service.probe(service.url, 5000);
  return r.status === 'healthy' ? { service, state: 'ok' } : { service, state: 'wrong', message: r.message };
}

/** What is missing or wrong, one line each. */
function problemLines(tools: readonly ToolRequirement[], states: readonly ServiceState[]): string[] {
  return [
    ...tools.map((t) => `${t.tool} not found (Debian package ${t.package}): ${t.why}`),
    ...states.flatMap((s) => {
      if (s.state === 'down') return [`${s.service.name} does not answer on ${s.service.target}`];
      if (s.state === 'wrong') return [`${s.service.name} on ${s.service.target} answers, but not as the tests need: ${s.message}. They need ${s.service.needs}.`];
      return [];
    }),
  ];
}

/** The commands a non-root user runs (with sudo) to install `tools` and start the `down` services. */
export function fixCommands(tools: readonly ToolRequirement[], down: readonly ServiceRequirement[]): string[] {
  const pkgs = packagesOf(tools);
  return [
    ...(pkgs.length ? [`sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}`] : []),
    ...down.map((s) => `sudo ${shellLine(s.start())}`),
  ];
}

const say = (line: string) => process.stderr.write(`[test] ${line}\n`);

/** Runs a command with inherited output; throws naming it when it fails. */
function runOrThrow(argv: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(argv[0] as string, argv.slice(1), { stdio: 'inherit', env });
  if (r.status !== 0) throw new Error(`\`${shellLine(argv)}\` failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
}

/** Root only: installs `tools`' packages in one apt-get call, saying what and why. */
function installPackages(tools: readonly ToolRequirement[]): void {
  const pkgs = packagesOf(tools);
  say(`installing Debian packages ${pkgs.join(' ')} for the tests: ${tools.map((t) => `${t.tool} (${t.package}): ${t.why}`).join('; ')}`);
  // dpkg refuses to run without the sbin directories on PATH (ldconfig, start-stop-daemon).
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', PATH: [process.env.PATH ?? '', ...SBIN_DIRS].join(path.delimiter) };
  runOrThrow(['apt-get', 'update', '-qq'], env);
  runOrThrow(['apt-get', 'install', '-y', '-qq', ...pkgs], env);
}

/** Root only: starts a service that is down and waits (≤ 30 s) until it answers. */
async function startService(service: ServiceRequirement): Promise<void> {
  const argv = service.start();
  say(`starting ${service.name} (${service.target} does not answer): ${shellLine(argv)}`);
  runOrThrow(argv);
  const deadline = Date.now() + 30_000;
  while ((await checkService(service)).state === 'down' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
}

/** Checks, provisions as root, checks again; returns the exit code. */
async function main(): Promise<number> {
  const root = process.getuid?.() === 0;
  const services = testServices();
  let tools = missingTools();
  let states = await Promise.all(services.map(checkService));
  const down = () => states.filter((s) => s.state === 'down').map((s) => s.service);
  const provision = root && (tools.length > 0 || down().length > 0);
  if (provision) {
    if (tools.length) {
      installPackages(tools);
      // Installing a server package may start it (invoke-rc.d): start only what is still down.
      states = await Promise.all(services.map(checkService));
    }
    for (const s of down()) await startService(s);
    tools = missingTools();
    states = await Promise.all(services.map(checkService));
  }
  const problems = problemLines(tools, states);
  if (problems.length === 0) {
    say(`prerequisites: ${TEST_TOOLS.length} tools found; ${services.map((s) => `${s.name} on ${s.target}`).join(' and ')} answer`);
    return 0;
  }
  const header = provision ? 'still missing after installing and starting what was missing' : 'this machine cannot run the tests yet';
  say(`${header}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const commands = fixCommands(tools, down());
  if (!root && commands.length) say(`run, then \`npm test\` again (as root, npm test does this itself):\n${commands.map((c) => `  ${c}`).join('\n')}`);
  return 1;
}

if (require.main === module) {
  void main().then(
    (code) => process.exit(code),
    (err: Error) => {
      say(err.message);
      process.exit(1);
    },
  );
}
