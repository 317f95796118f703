/**
 * `autofix up` (= `npm start`): local dev server (or TEMPORAL_ADDRESS), worker and daemon in the
 * foreground; Ctrl-C stops worker and server cleanly. `autofix worker`: the worker alone (systemd,
 * docker-compose, extra hosts).
 */
import type { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { ensureTemporalCli, NoGoError, ProvisionError } from '../../temporal/provision';
import { startSdkDownloadedServer } from '../../temporal/sdk-server';
import { DevServerError, pidAlive, startDevServer, type RunningDevServer } from '../../temporal/dev-server';
import { connectTemporal, ensureSearchAttributes, temporalTarget } from '../../temporal/connect';
import type { autoFixDaemon } from '../../workflows/daemon';
import { loadConfig, DEFAULT_CONFIG_PATH } from '../../config/load';
import { daemonIds, resolveHost, workflowUrl } from '../client';
import { CliError } from '../output';

const REPO_ROOT = path.resolve(__dirname, '../../../..');

/** Where `up` keeps the dev server's database and its lock (AUTOFIX_DATA_DIR or ./data). */
export function dataDir(): string {
  return path.resolve(process.env.AUTOFIX_DATA_DIR ?? path.join(REPO_ROOT, 'data'));
}

interface UpOptions {
  metrics?: string;
  config?: string;
  host?: string;
  taskQueue?: string;
  db?: string;
}

const say = (line: string) => process.stdout.write(`[autofix] ${line}\n`);

/** Waits for SIGINT/SIGTERM once. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => resolve(s);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}

async function provisionServer(dbFile: string): Promise<RunningDevServer | undefined> {
  if (process.env.TEMPORAL_ADDRESS) {
    say(`using the Temporal server at ${process.env.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS); starting none`);
    return undefined;
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
      say(`Temporal dev server (downloaded by the SDK) on ${server.address}, Web UI ${server.uiUrl}`);
      return server;
    } catch (e) {
      throw new CliError(`${err.message}\nThe SDK's download failed too: ${(e as Error).message}`, 1);
    }
  }
  try {
    say(`starting the Temporal dev server (${cli}) with ${dbFile}…`);
    const server = await startDevServer({
      cli,
      dbFile,
      port,
      uiPort,
      logFile: path.join(path.dirname(dbFile), 'server.log'),
    });
    process.env.TEMPORAL_ADDRESS = server.address;
    process.env.AUTOFIX_UI_URL = server.uiUrl;
    say(
      server.attached
        ? `attached to the dev server already running on ${server.address} (pid ${server.pid})`
        : `Temporal dev server on ${server.address}, Web UI ${server.uiUrl}`,
    );
    return server;
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

/** Registers `up` and `worker`. */
export function registerUpCommands(program: Command): void {
  program
    .command('up')
    .description(
      'Start (or reuse) the local Temporal dev server, the worker and the daemon; stay in the foreground',
    )
    .option('--config <path>', 'config file', process.env.AUTOFIX_CONFIG ?? DEFAULT_CONFIG_PATH)
    .option('--host <name>', 'per-host daemon id and task queue ("auto" = this host)')
    .option('--task-queue <name>', 'task queue')
    .option(
      '--metrics <host:port>',
      'serve Prometheus metrics at http://<host:port>/metrics ("off" to disable)',
      process.env.AUTOFIX_METRICS_BIND ?? '127.0.0.1:9464',
    )
    .action(async (o: UpOptions) => {
      const configPath = path.resolve(o.config as string);
      loadConfig(configPath); // a bad config: exit 2 before anything starts
      const dir = dataDir();
      const dbFile = path.join(dir, 'temporal', 'dev.db');
      try {
        mkdirSync(path.dirname(dbFile), { recursive: true });
      } catch (e) {
        throw new CliError(
          `cannot create ${path.dirname(dbFile)} (${(e as NodeJS.ErrnoException).code}); set AUTOFIX_DATA_DIR to a writable directory.`,
          1,
        );
      }
      const lock = path.join(dir, 'autofix-up.pid');
      if (existsSync(lock)) {
        const pid = Number(readFileSync(lock, 'utf8'));
        if (pid && pidAlive(pid) && pid !== process.pid) {
          throw new CliError(
            `autofix is already running in the foreground (pid ${pid}); see it with \`bin/autofix status\`, or stop it with Ctrl-C there first.`,
            1,
          );
        }
      }
      writeFileSync(lock, String(process.pid));
      const server = await provisionServer(dbFile);
      const { workflowId, taskQueue, host } = daemonIds({
        ...(o.host ? { host: resolveHost(o.host) as string } : {}),
        ...(o.taskQueue ? { taskQueue: o.taskQueue } : {}),
      });
      let conn;
      try {
        conn = await connectTemporal();
      } catch (err) {
        await server?.stop();
        throw new CliError((err as Error).message, 1);
      }
      const added = await ensureSearchAttributes(conn.connection, conn.namespace);
      if (added.length) say(`registered search attributes: ${added.join(', ')}`);
      const { createAutofixWorker } = await import('../../worker');
      const { worker, connection, metrics } = await createAutofixWorker({
        address: temporalTarget().address,
        namespace: conn.namespace,
        taskQueue,
        configPath,
        host: host || os.hostname(),
        ...metricsOption(o.metrics),
      });
      if (metrics) say(`metrics: http://${o.metrics}/metrics`);
      const running = worker.run();
      await conn.client.workflow.start<typeof autoFixDaemon>('autoFixDaemon', {
        workflowId,
        taskQueue,
        args: [{ configPath, ...(host ? { host } : {}) }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      });
      say(`daemon running: workflow ${workflowId} on task queue ${taskQueue}`);
      say(`Web UI: ${workflowUrl(workflowId, conn.namespace)}`);
      say('Ctrl-C stops the worker and the server; the daemon resumes where it was at the next start.');
      const sig = await Promise.race([untilSignal(), running.then(() => 'worker-exit' as const)]);
      say(`stopping (${sig})…`);
      stopWorker(worker);
      await running.catch((err: Error) => say(`worker stopped with an error: ${err.message}`));
      await connection.close();
      await conn.connection.close();
      metrics?.close();
      await server?.stop();
      try {
        unlinkSync(lock);
      } catch {
        /* already gone */
      }
      say('stopped');
    });

  program
    .command('worker')
    .description('Run the worker only (TEMPORAL_ADDRESS, default 127.0.0.1:7233)')
    .option(
      '--config <path>',
      'default config for workflows that name none',
      process.env.AUTOFIX_CONFIG ?? DEFAULT_CONFIG_PATH,
    )
    .option('--host <name>', 'per-host task queue autofix-<host> ("auto" = this host)')
    .option('--task-queue <name>', 'task queue', process.env.AUTOFIX_TASK_QUEUE)
    .option(
      '--metrics <host:port>',
      'serve Prometheus metrics at http://<host:port>/metrics ("off" to disable)',
      process.env.AUTOFIX_METRICS_BIND ?? '127.0.0.1:9464',
    )
    .action(async (o: UpOptions) => {
      const configPath = path.resolve(o.config as string);
      loadConfig(configPath);
      const { taskQueue, host } = daemonIds({
        ...(o.host ? { host: resolveHost(o.host) as string } : {}),
        ...(o.taskQueue ? { taskQueue: o.taskQueue } : {}),
      });
      const conn = await connectTemporal().catch((err: Error) => {
        throw new CliError(err.message, 1);
      });
      await ensureSearchAttributes(conn.connection, conn.namespace).catch(() => undefined);
      await conn.connection.close();
      const { createAutofixWorker } = await import('../../worker');
      const { worker, connection, metrics } = await createAutofixWorker({
        address: conn.address,
        namespace: conn.namespace,
        taskQueue,
        configPath,
        host: host || os.hostname(),
        ...metricsOption(o.metrics),
      });
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
