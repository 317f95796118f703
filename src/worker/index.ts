/**
 * Process wiring of the worker: one task queue, the pre-built workflow bundle when present
 * (bundling at every start costs ~1 s and ~70 MB), bounded workflow cache, graceful shutdown.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { DEFAULT_CONFIG_PATH } from '../config/load';
import { DEFAULT_TASK_QUEUE } from '../workflows/definitions';
import { WORKFLOW_BUNDLE_PATH } from './bundle-path';
import { installRuntime } from './runtime';

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
}

/**
 * Creates (does not run) a worker for autofix's workflows and activities.
 *
 * @example
 *   const { worker, connection } = await createAutofixWorker({ address: '127.0.0.1:7233' });
 *   await worker.run();
 */
export async function createAutofixWorker(o: AutofixWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  installRuntime();
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
    maxCachedWorkflows: o.maxCachedWorkflows ?? 50,
    maxConcurrentActivityTaskExecutions: 20,
    shutdownGraceTime: '10 seconds',
  });
  return { worker, connection };
}
