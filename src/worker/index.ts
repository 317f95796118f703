/**
 * Process wiring of the worker: one task queue, the pre-built workflow bundle when present
 * (bundling at every start costs ~1 s and ~70 MB), bounded workflow cache, graceful shutdown.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { Server } from 'node:http';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { DEFAULT_CONFIG_PATH } from '../config/load';
import { DEFAULT_TASK_QUEUE } from '../workflows/definitions';
import { WORKFLOW_BUNDLE_PATH } from './bundle-path';
import { installRuntime } from './runtime';
import { startMetricsServer } from './metrics-server';
import { freePort } from '../util/net';

export { WORKFLOW_BUNDLE_PATH };

export interface AutofixWorkerOptions {
  address: string;
  namespace?: string;
  taskQueue?: string;
  /** Config used when a workflow names none. */
  configPath?: string;
  host?: string;
  /** Use the workflow sources instead of the pre-built bundle (tests of changed workflow code). */
  workflowsPath?: string;
  maxCachedWorkflows?: number;
  /** host:port of the /metrics endpoint (autofix + SDK metrics); absent = no endpoint. */
  metricsBind?: string;
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
): Promise<{ worker: Worker; connection: NativeConnection; metrics?: Server }> {
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
  const connection = await NativeConnection.connect({ address: o.address });
  const code: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> =
    !o.workflowsPath && existsSync(WORKFLOW_BUNDLE_PATH)
      ? { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } }
      : { workflowsPath: o.workflowsPath ?? require.resolve('../workflows') };
  const worker = await Worker.create({
    connection,
    namespace: o.namespace ?? 'default',
    taskQueue: o.taskQueue ?? DEFAULT_TASK_QUEUE,
    ...code,
    activities: createActivities({
      defaultConfigPath: o.configPath ?? process.env.AUTOFIX_CONFIG ?? DEFAULT_CONFIG_PATH,
      host: o.host ?? os.hostname(),
    }),
    // One daemon per host plus the sagas it runs at once: a small cache keeps the RSS down.
    maxCachedWorkflows: o.maxCachedWorkflows ?? 10,
    maxConcurrentActivityTaskExecutions: 20,
    shutdownGraceTime: '10 seconds',
  });
  return { worker, connection, ...(metrics ? { metrics } : {}) };
}

