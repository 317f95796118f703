/**
 * Test plumbing for orchestration tests against the real dev server started by `npm test`
 * (TEMPORAL_ADDRESS): a client, and a worker on a unique task queue running the real activities.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { createAutofixWorker } from '../../src/worker';
import type { Watching } from '../../src/watch';

/** The server of this test run; fails loudly when the runner did not start one. */
export function temporalAddress(): string {
  const a = process.env.TEMPORAL_ADDRESS;
  if (!a) throw new Error('TEMPORAL_ADDRESS is not set: run the tests with `npm test`, which starts a dev server');
  return a;
}

export interface TestTemporal {
  client: Client;
  taskQueue: string;
  worker: Worker;
  /** The worker's watchers (absent with `watch: false`). */
  watching?: Watching;
  /** Resolves when the worker stops. */
  running: Promise<void>;
  /** Stops the worker and closes connections. */
  close(): Promise<void>;
}

/** Starts a worker on a fresh task queue (the pre-built bundle of this build) plus a client. */
export async function startTestWorker(opts: { configPath: string; host?: string; taskQueue?: string; metricsBind?: string; watch?: boolean }): Promise<TestTemporal> {
  const address = temporalAddress();
  const taskQueue = opts.taskQueue ?? `test-${randomUUID().slice(0, 8)}`;
  const { worker, connection: wconn, metrics, watching } = await createAutofixWorker({
    address,
    taskQueue,
    configPath: opts.configPath,
    host: opts.host ?? 'testhost',
    ...(opts.metricsBind ? { metricsBind: opts.metricsBind } : {}),
    ...(opts.watch === false ? { watch: false } : {}),
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  return {
    client,
    taskQueue,
    worker,
    ...(watching ? { watching } : {}),
    running,
    async close() {
      await terminateRunningOn(client, taskQueue);
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      watching?.close();
      await wconn.close();
      await connection.close();
      metrics?.close();
    },
  };
}

/**
 * Terminates what still runs on `taskQueue`: a test's sagas must not outlive it. Incident ids are
 * per pattern and cooldown bucket (one daemon per host and namespace), and every test shares the
 * run's server: a saga left running after its worker is gone would be "in progress" for the next
 * test's daemon that detects the same pattern within the same bucket, and that one would never fix it.
 */
export async function terminateRunningOn(client: Client, taskQueue: string): Promise<void> {
  const query = `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`;
  for await (const wf of client.workflow.list({ query })) {
    await client.workflow
      .getHandle(wf.workflowId, wf.runId)
      .terminate('test done')
      .catch(() => undefined); // ended meanwhile
  }
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
