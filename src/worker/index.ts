/**
 * Process wiring of the worker: one task queue, the pre-built workflow bundle when present
 * (bundling at every start costs ~1 s and ~70 MB), bounded workflow cache, graceful shutdown,
 * and the watchers that wake the daemon on events (src/watch), signalling through a client on
 * the worker's own connection.
 */
import os from 'node:os';
import type { Server } from 'node:http';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { protectTemporalServer } from '../processes/protected';
import { DEFAULT_CONFIG_PATH } from '../config/load';
import { ConfigStore } from '../config/store';
import { DEFAULT_TASK_QUEUE, runNowSignal } from '../workflows/definitions';
import { startWatching, type Watching } from '../watch';
import { WORKFLOW_BUNDLE_PATH, workflowCode } from './bundle-path';
import { installRuntime } from './runtime';
import { startMetricsServer } from './metrics-server';
import { watchEngine } from './engine-watch';
import { freePort } from '../util/net';
import { connectionOptions, temporalTarget } from '../temporal/target';
import { announceWorker } from './presence';

export { WORKFLOW_BUNDLE_PATH };

export interface AutofixWorkerOptions {
  address: string;
  namespace?: string;
  taskQueue?: string;
  /** The worker's config file (its own: workflows only reference versions of it). Default AUTOFIX_CONFIG, else the shipped one. */
  configPath?: string;
  /** The seed's --log-file: where this worker writes auto_fix.log (alerts.log goes next to it). */
  logFile?: string;
  host?: string;
  /** Use the workflow sources instead of the pre-built bundle (tests of changed workflow code). */
  workflowsPath?: string;
  maxCachedWorkflows?: number;
  /** host:port of the /metrics endpoint (autofix + SDK metrics); absent = no endpoint. */
  metricsBind?: string;
  /**
   * Watch logs, JSON files and service processes and wake the daemon on events (default true).
   * The daemon's workflow id is learned from the loops this worker runs; `daemonWorkflowId`
   * names it up front (so a restarted worker can wake a daemon that is resting).
   */
  watch?: boolean;
  daemonWorkflowId?: string;
}

/**
 * Creates (does not run) a worker for autofix's workflows and activities.
 *
 * @example
 *   const { worker, connection } = await createAutofixWorker({ address: '127.0.0.1:7233' });
 *   await worker.run();
 */
export async function createAutofixWorker(
  o: AutofixWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection; metrics?: Server; store: ConfigStore; watching?: Watching }> {
  // Load and validate the config before anything connects: a bad file stops the worker (exit 2).
  const store = new ConfigStore({ path: o.configPath ?? process.env.AUTOFIX_CONFIG ?? DEFAULT_CONFIG_PATH, ...(o.logFile ? { logFile: o.logFile } : {}) });
  // Seen by a one-shot run that finds no server: a daemon of this config runs here (presence.ts).
  await announceWorker(store.current().config.daemon.data_dir);
  let metrics: Server | undefined;
  if (o.metricsBind) {
    // The SDK serves its own metrics on an internal port; our endpoint appends them.
    const sdkPort = await freePort();
    installRuntime({ metricsBind: `127.0.0.1:${sdkPort}` });
    metrics = await startMetricsServer(o.metricsBind, `http://127.0.0.1:${sdkPort}/metrics`).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot serve metrics on ${o.metricsBind} (${err.code ?? err.message}); pick another address with --metrics host:port, or --metrics off`);
    });
  } else {
    installRuntime();
  }
  const connection = await NativeConnection.connect(connectionOptions({ ...temporalTarget(), address: o.address }));
  // Whatever listens on that address, if it is on this host, is never signalled by an action.
  protectTemporalServer(o.address);
  const code: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = workflowCode(o.workflowsPath);
  const namespace = o.namespace ?? 'default';
  let worker: Worker | undefined;
  const watching = o.watch === false ? undefined : watchFor(store, connection, namespace, o.daemonWorkflowId, () => worker);
  try {
    worker = await Worker.create({
      connection,
      namespace,
      taskQueue: o.taskQueue ?? DEFAULT_TASK_QUEUE,
      ...code,
      activities: createActivities({ store, host: o.host ?? os.hostname(), ...(watching ? { onLoopStart: (l) => watching.loopStarted(l) } : {}) }),
      // One daemon per host plus the sagas it runs at once: a small cache keeps the RSS down.
      maxCachedWorkflows: o.maxCachedWorkflows ?? 10,
      maxConcurrentActivityTaskExecutions: 20,
      shutdownGraceTime: '10 seconds',
    });
  } catch (err) {
    watching?.close();
    throw err;
  }
  watchEngine({ worker, connection, address: o.address, store }); // alerts when the engine is gone
  return { worker, connection, store, ...(metrics ? { metrics } : {}), ...(watching ? { watching } : {}) };
}

/** The watchers, signalling over the worker's connection; they stop by themselves when the worker stops. */
function watchFor(store: ConfigStore, connection: NativeConnection, namespace: string, daemonId: string | undefined, worker: () => Worker | undefined): Watching {
  const client = new Client({ connection, namespace });
  return startWatching({
    store,
    signal: (id, args) => client.workflow.getHandle(id).signal(runNowSignal, args),
    isGone: (err) => err instanceof WorkflowNotFoundError,
    ...(daemonId ? { daemonWorkflowIds: [daemonId] } : {}),
    isStopped: () => ['STOPPED', 'FAILED'].includes(worker()?.getState() ?? ''),
    log: (message) => Runtime.instance().logger.warn(message),
  });
}

