/**
 * `autofix up` (= `npm start`, = `run --continuous` when no worker serves the queue, = the
 * auto-fix-daemon systemd unit): local dev server (or TEMPORAL_ADDRESS), worker and daemon in the
 * foreground, auto_fix.log's lines echoed to stdout; the server is restarted when it dies
 * (../../temporal/supervisor.ts); Ctrl-C stops worker and server cleanly. `autofix server`: the supervised dev server alone (its own systemd
 * unit). `autofix worker`: the worker alone (systemd, docker-compose, extra hosts).
 */
import type { Command } from 'commander';
import { ensurePrivateDirSync } from '../../util/private-dir';
import os from 'node:os';
import path from 'node:path';
import { ensureTemporalCli, NoGoError, ProvisionError } from '../../temporal/provision';
import { startSdkDownloadedServer } from '../../temporal/sdk-server';
import { DevServerError, type RunningDevServer } from '../../temporal/dev-server';
import { DevServerSupervisor } from '../../temporal/supervisor';
import { AlreadyRunningError, acquireInstanceLock, type InstanceLock } from '../../temporal/instance-lock';
import { connectTemporal, ensureSearchAttributes, temporalTarget } from '../../temporal/connect';
import { loadConfig, DEFAULT_CONFIG_PATH } from '../../config/load';
import { daemonIds, resolveHost, startDaemon, workflowUrl } from '../client';
import { CliError } from '../output';
import { daemonInputOf, loopOptions, type SeedRunOptions } from '../options';
import { autoFixLogPath } from '../../logging';
import { followLog } from '../../logging/follow';

const REPO_ROOT = path.resolve(__dirname, '../../../..');

/** Where `up` keeps the dev server's database and its lock (AUTOFIX_DATA_DIR or ./data). */
export function dataDir(): string {
  return path.resolve(process.env.AUTOFIX_DATA_DIR ?? path.join(REPO_ROOT, 'data'));
}

/** Options of `up` (and of `run --continuous` when it runs in the foreground). */
export interface UpOptions extends SeedRunOptions {
  metrics?: string;
  /** commander's --no-watch: false turns the event watchers off (the loops alone detect). */
  watch?: boolean;
  host?: string;
  taskQueue?: string;
}

const say = (line: string) => process.stdout.write(`[autofix] ${line}\n`);

/** Waits for SIGINT, SIGTERM or SIGHUP (a closed terminal) once. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => resolve(s);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
    process.once('SIGHUP', on);
  });
}

/** The Temporal server `up` runs: none (TEMPORAL_ADDRESS), supervised (ours), or the SDK's download. */
interface ProvisionedServer {
  server?: RunningDevServer;
  /** Present when `up` keeps the server alive; resolves when it cannot any more. */
  supervisor?: DevServerSupervisor;
  /**
   * A stop asked for from the moment the server runs: listened for before its line is printed,
   * since whoever reads that line may signal at once (before, such a SIGTERM could arrive before
   * the listener and kill `up`, leaving its server running).
   */
  signalled: Promise<NodeJS.Signals>;
  stop(): Promise<void>;
}

async function provisionServer(dbFile: string, remoteAllowed = true): Promise<ProvisionedServer> {
  if (remoteAllowed && process.env.TEMPORAL_ADDRESS) {
    const signalled = untilSignal();
    say(`using the Temporal server at ${process.env.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS); starting none`);
    return { signalled, stop: async () => undefined };
  }
  const port = Number(process.env.AUTOFIX_TEMPORAL_PORT ?? 7233);
  const uiPort = Number(process.env.AUTOFIX_UI_PORT ?? 8233);
  let cli: string;
  try {
    cli = await ensureTemporalCli();
  } catch (err) {
    if (!(err instanceof ProvisionError)) throw err;
    if (!(err instanceof NoGoError)) throw new CliError(err.message, 1);
    // No binary and no Go: let the SDK download the CLI (works where there is internet).
    say(`${err.message}\n[autofix] trying the Temporal SDK's own download of the dev server…`);
    try {
      const server = await startSdkDownloadedServer({ dbFile, port, uiPort });
      process.env.TEMPORAL_ADDRESS = server.address;
      process.env.AUTOFIX_UI_URL = server.uiUrl;
      const signalled = untilSignal();
      say(`Temporal dev server (downloaded by the SDK, not supervised) on ${server.address}, Web UI ${server.uiUrl}`);
      return { server, signalled, stop: () => server.stop() };
    } catch (e) {
      throw new CliError(`${err.message}\nThe SDK's download failed too: ${(e as Error).message}`, 1);
    }
  }
  say(`starting the Temporal dev server (${cli}) with ${dbFile}…`);
  const supervisor = new DevServerSupervisor({
    server: { cli, dbFile, port, uiPort, logFile: path.join(path.dirname(dbFile), 'server.log') },
    say,
  });
  try {
    const server = await supervisor.start();
    process.env.TEMPORAL_ADDRESS = server.address;
    process.env.AUTOFIX_UI_URL = server.uiUrl;
    const signalled = untilSignal();
    say(`Temporal dev server on ${server.address} (pid ${server.pid}), Web UI ${server.uiUrl}; restarted if it stops`);
    return { server, supervisor, signalled, stop: () => supervisor.stop() };
  } catch (err) {
    if (err instanceof DevServerError) throw new CliError(err.message, 1);
    throw err;
  }
}

/** The worker's metrics option from --metrics ("off" disables the endpoint). */
function metricsOption(bind: string | undefined): { metricsBind?: string } {
  return bind && bind !== 'off' ? { metricsBind: bind } : {};
}

/** Asks the worker to stop; the SDK may already be stopping it on the same signal. */
function stopWorker(worker: { shutdown(): void; getState(): string }): void {
  if (worker.getState() === 'RUNNING') worker.shutdown();
}

/** Creates the worker of `up` and `worker` from their shared options (the worker module loads on demand). */
async function startWorkerFor(o: UpOptions, configPath: string, at: { address: string; namespace: string }, ids: { workflowId: string; taskQueue: string; host: string }) {
  const { createAutofixWorker } = await import('../../worker');
  return await createAutofixWorker({
    address: at.address,
    namespace: at.namespace,
    taskQueue: ids.taskQueue,
    configPath,
    ...(o.logFile ? { logFile: path.resolve(o.logFile) } : {}),
    host: ids.host || os.hostname(),
    ...metricsOption(o.metrics),
    // The watchers wake this host's daemon (and any daemon whose loops this worker runs).
    daemonWorkflowId: ids.workflowId,
    watch: o.watch !== false,
  });
}

/**
 * Runs worker and daemon on the provisioned server until Ctrl-C/SIGTERM (clean stop), the worker
 * stopping by itself, or the supervisor giving up on the server (both: exit 1, so that systemd's
 * Restart= takes over).
 */
async function runUp(o: UpOptions, configPath: string, engine: ProvisionedServer): Promise<void> {
  // A stop asked for while the worker starts still stops the server (ProvisionedServer.signalled).
  const signalled = engine.signalled;
  const { workflowId, taskQueue, host } = daemonIds({
    ...(o.host ? { host: resolveHost(o.host) as string } : {}),
    ...(o.taskQueue ? { taskQueue: o.taskQueue } : {}),
  });
  const conn = await connectTemporal().catch((err: Error) => {
    throw new CliError(err.message, 1); // the caller stops the server
  });
  const added = await ensureSearchAttributes(conn.connection, conn.namespace);
  if (added.length) say(`registered search attributes: ${added.join(', ')}`);
  const { worker, connection, metrics, store } = await startWorkerFor(o, configPath, { address: temporalTarget().address, namespace: conn.namespace }, { workflowId, taskQueue, host });
  if (metrics) say(`metrics: http://${o.metrics}/metrics`);
  // The seed logged to its file and the console: auto_fix.log's lines go to stdout (journald).
  const echo = followLog(
    () => autoFixLogPath(store.current().config),
    (line) => process.stdout.write(`${line}\n`),
    { onNotice: (m) => say(m) },
  );
  const running = worker.run();
  const { existed } = await startDaemon(conn.client, { workflowId, taskQueue }, daemonInputOf(o, host));
  if (existed && (o.loopCount || o.waitMinutes || o.loopInterval)) {
    say('the daemon was already running and keeps its loop settings; `autofix stop` it first to change them');
  }
  say(`daemon running: workflow ${workflowId} on task queue ${taskQueue}${existed ? ' (it was already running)' : ''}`);
  say(`Web UI: ${workflowUrl(workflowId, conn.namespace)}`);
  say('Ctrl-C stops the worker and the server; the daemon resumes where it was at the next start.');
  const why = await Promise.race([
    signalled,
    running.then(
      () => new CliError('the worker stopped by itself', 1),
      (err: Error) => new CliError(`the worker failed: ${err.message}`, 1),
    ),
    ...(engine.supervisor ? [engine.supervisor.failure.then((e) => new CliError(`the Temporal dev server cannot be kept running: ${e.message}`, 1))] : []),
  ]);
  say(`stopping (${typeof why === 'string' ? why : 'see the reason below'})…`);
  stopWorker(worker);
  await running.catch(() => undefined);
  await connection.close();
  await conn.connection.close();
  metrics?.close();
  await engine.stop();
  echo.stop();
  say('stopped');
  if (typeof why !== 'string') throw why;
}

/**
 * `autofix up`: checks the config (exit 2), locks the dev server's database, provisions the
 * server and runs worker and daemon until a signal (see runUp).
 *
 * @example await upForeground({ config: 'config/error_patterns.json', loopCount: 20, waitMinutes: 10 });
 */
export async function upForeground(o: UpOptions): Promise<void> {
  const configPath = path.resolve(o.config ?? process.env.AUTOFIX_CONFIG ?? DEFAULT_CONFIG_PATH);
  loadConfig(configPath); // a bad config: exit 2 before anything starts
  const { dbFile, lock } = await lockDatabase();
  try {
    const engine = await provisionServer(dbFile);
    try {
      await runUp(o, configPath, engine);
    } finally {
      // Also when the worker or the daemon could not start: a supervised server left running
      // would keep this process alive after its error, and outlive it.
      await engine.stop();
    }
  } finally {
    await lock.release();
  }
}

/**
 * The dev server's database path (its directory created) and the lock that makes this process
 * the only `up`/`server` on it, held until the process ends.
 */
async function lockDatabase(): Promise<{ dbFile: string; lock: InstanceLock }> {
  const dbFile = path.join(dataDir(), 'temporal', 'dev.db');
  try {
    ensurePrivateDirSync(path.dirname(dbFile));
  } catch (e) {
    throw new CliError(
      `cannot create ${path.dirname(dbFile)} (${(e as NodeJS.ErrnoException).code}); set AUTOFIX_DATA_DIR to a writable directory.`,
      1,
    );
  }
  const lock = await acquireInstanceLock(dbFile).catch((e: Error) => {
    throw e instanceof AlreadyRunningError ? new CliError(e.message, 1) : e;
  });
  return { dbFile, lock };
}

/** `autofix server`: the supervised dev server alone, until a signal or a permanent failure. */
async function runServerOnly(): Promise<void> {
  const { dbFile, lock } = await lockDatabase();
  try {
    const engine = await provisionServer(dbFile, false);
    say(`serving ${engine.server?.address ?? '?'} for workers (TEMPORAL_ADDRESS=${engine.server?.address ?? '?'}); Ctrl-C or SIGTERM stops it`);
    const why = await Promise.race([
      engine.signalled,
      ...(engine.supervisor ? [engine.supervisor.failure.then((e) => new CliError(`the Temporal dev server cannot be kept running: ${e.message}`, 1))] : []),
    ]);
    say(`stopping (${typeof why === 'string' ? why : 'see the reason below'})…`);
    await engine.stop();
    say('stopped');
    if (typeof why !== 'string') throw why;
  } finally {
    await lock.release();
  }
}

/** Registers `up`, `server` and `worker`. */
export function registerUpCommands(program: Command): void {
  const up = program
    .command('up')
    .description(
      'Start the local Temporal dev server (kept alive), the worker and the daemon; stay in the foreground',
    )
    .option('--config <path>', "the worker's config file: the only config its workflows run under", process.env.AUTOFIX_CONFIG ?? DEFAULT_CONFIG_PATH)
    .option('--log-file <path>', 'auto_fix.log path (alerts.log goes next to it); default from the config')
    .option('--host <name>', 'per-host daemon id and task queue ("auto" = this host)')
    .option('--task-queue <name>', 'task queue')
    .option(
      '--metrics <host:port>',
      'serve Prometheus metrics at http://<host:port>/metrics ("off" to disable)',
      process.env.AUTOFIX_METRICS_BIND ?? '127.0.0.1:9464',
    );
  loopOptions(up).action(upForeground);

  program
    .command('server')
    .description(
      'Run only the local Temporal dev server, restarted if it stops (for its own systemd unit; workers use TEMPORAL_ADDRESS)',
    )
    .action(runServerOnly);

  program
    .command('worker')
    .description('Run the worker only (TEMPORAL_ADDRESS, default 127.0.0.1:7233)')
    .option(
      '--config <path>',
      "this worker's config file: the only config its workflows run under",
      process.env.AUTOFIX_CONFIG ?? DEFAULT_CONFIG_PATH,
    )
    .option('--log-file <path>', 'auto_fix.log path (alerts.log goes next to it); default from the config')
    .option('--host <name>', 'per-host task queue autofix-<host> ("auto" = this host)')
    .option('--task-queue <name>', 'task queue', process.env.AUTOFIX_TASK_QUEUE)
    .option(
      '--metrics <host:port>',
      'serve Prometheus metrics at http://<host:port>/metrics ("off" to disable)',
      process.env.AUTOFIX_METRICS_BIND ?? '127.0.0.1:9464',
    )
    .option('--no-watch', 'do not watch logs, JSON files and service processes (the loops alone detect)')
    .action(async (o: UpOptions) => {
      const configPath = path.resolve(o.config as string);
      loadConfig(configPath);
      const { workflowId, taskQueue, host } = daemonIds({
        ...(o.host ? { host: resolveHost(o.host) as string } : {}),
        ...(o.taskQueue ? { taskQueue: o.taskQueue } : {}),
      });
      const conn = await connectTemporal().catch((err: Error) => {
        throw new CliError(err.message, 1);
      });
      await ensureSearchAttributes(conn.connection, conn.namespace).catch(() => undefined);
      await conn.connection.close();
      const { worker, connection, metrics } = await startWorkerFor(o, configPath, conn, { workflowId, taskQueue, host });
      say(
        `worker polling task queue ${taskQueue} on ${conn.address}${metrics ? `; metrics on http://${o.metrics}/metrics` : ''}`,
      );
      const running = worker.run();
      await Promise.race([untilSignal(), running]);
      stopWorker(worker);
      await running;
      await connection.close();
      metrics?.close();
    });
}
