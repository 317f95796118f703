/**
 * Shared plumbing of the commands that talk to Temporal: the connection, the daemon's ids for a
 * host, an in-process worker when nobody polls the task queue, and Web UI links.
 */
import os from 'node:os';
import { WorkflowIdConflictPolicy, type Client, type Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { connectTemporal, temporalTarget } from '../temporal/connect';
import { DAEMON_WORKFLOW_ID, DEFAULT_TASK_QUEUE, type DaemonInput } from '../workflows/definitions';
import type { autoFixDaemon } from '../workflows/daemon';
import { CliError } from './output';

/** Options every Temporal-facing command accepts. */
export interface HostOptions {
  host?: string;
  taskQueue?: string;
}

/** The daemon's workflow id and task queue: fixed ids by default, per-host ids with --host. */
export function daemonIds(o: HostOptions): { workflowId: string; taskQueue: string; host: string } {
  const host = o.host ?? '';
  return {
    workflowId: host ? `${DAEMON_WORKFLOW_ID}-${host}` : DAEMON_WORKFLOW_ID,
    taskQueue: o.taskQueue ?? (host ? `${DEFAULT_TASK_QUEUE}-${host}` : DEFAULT_TASK_QUEUE),
    host,
  };
}

/**
 * Starts the daemon workflow idempotently (its fixed id, conflict policy use-existing): a running
 * daemon is kept, with its loop settings. `existed` says whether it was already running.
 */
export async function startDaemon(
  client: Client,
  at: { workflowId: string; taskQueue: string },
  input: DaemonInput,
): Promise<{ runId: string; workflowId: string; existed: boolean }> {
  const existed = await client.workflow
    .getHandle(at.workflowId)
    .describe()
    .then((d) => d.status.name === 'RUNNING', () => false);
  const handle = await client.workflow.start<typeof autoFixDaemon>('autoFixDaemon', {
    workflowId: at.workflowId,
    taskQueue: at.taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
  return { runId: handle.firstExecutionRunId, workflowId: at.workflowId, existed };
}

/** The local host name used for --host when asked for `--host auto`. */
export function resolveHost(h: string | undefined): string | undefined {
  return h === 'auto' ? os.hostname() : h;
}

/** Web UI base URL: AUTOFIX_UI_URL, else derived from the local dev server's defaults. */
export function uiBase(): string {
  if (process.env.AUTOFIX_UI_URL) return process.env.AUTOFIX_UI_URL.replace(/\/$/, '');
  const { address } = temporalTarget();
  const host = address.split(':')[0] ?? '127.0.0.1';
  return `http://${host}:${process.env.AUTOFIX_UI_PORT ?? '8233'}`;
}

/** Web UI link of one workflow. */
export function workflowUrl(workflowId: string, namespace = temporalTarget().namespace): string {
  return `${uiBase()}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Runs `fn` with a connected client, always closing the connection. */
export async function withClient<T>(fn: (client: Client, connection: Connection) => Promise<T>): Promise<T> {
  let conn;
  try {
    conn = await connectTemporal();
  } catch (err) {
    throw new CliError((err as Error).message, 1);
  }
  try {
    return await fn(conn.client, conn.connection);
  } finally {
    await conn.connection.close();
  }
}

/**
 * Runs a workflow to its result while making sure a worker serves `taskQueue`: it starts the
 * workflow, and when no worker picks up its first task within `waitMs` (nobody polls, or the
 * server still lists pollers of a worker that has gone), an in-process worker serves it (the
 * seed's one-shot manual run needs no daemon). A live worker elsewhere (another host's queue)
 * keeps running its own actions.
 */
export async function executeWithWorker<R>(
  client: Client,
  taskQueue: string,
  /** Config file and log file of the in-process worker, when one is needed. */
  workerFiles: { configPath?: string; logFile?: string },
  start: () => Promise<WorkflowHandle>,
  o: {
    /** How long another worker gets to take the run first (0: none can, e.g. a temporary server). */
    waitMs?: number;
    /** Aborted when the run must stop: nothing new starts, and the in-process worker drains. */
    stopping?: AbortSignal;
  } = {},
): Promise<R> {
  const stopped = () => new CliError('stopped before the run began', 1);
  const handle = await start();
  const deadline = Date.now() + (o.waitMs ?? 5000);
  while (Date.now() < deadline) {
    // Started + first task scheduled = 2 events; a third means a worker took the task.
    const d = await handle.describe();
    if (d.historyLength > 2 || d.status.name !== 'RUNNING') return (await handle.result()) as R;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (o.stopping?.aborted) throw stopped();
  const { createAutofixWorker } = await import('../worker');
  const { worker, connection } = await createAutofixWorker({
    address: temporalTarget().address,
    namespace: client.options.namespace,
    taskQueue,
    ...workerFiles,
    // A one-shot run: nothing to wake.
    watch: false,
  });
  // The worker drains (activities finish or are cancelled within its grace time), as on SIGTERM.
  const drain = () => worker.shutdown();
  o.stopping?.addEventListener('abort', drain, { once: true });
  try {
    if (o.stopping?.aborted) throw stopped();
    return (await worker.runUntil(handle.result())) as R;
  } finally {
    o.stopping?.removeEventListener('abort', drain);
    await connection.close();
  }
}

/** True when at least one worker polled the task queue for workflow tasks within the last minute or so. */
export async function hasPollers(client: Client, taskQueue: string): Promise<boolean> {
  const r = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  // The server keeps listing a gone worker for minutes; a live one long-polls about every minute.
  const fresh = Date.now() - 90_000;
  return (r.pollers ?? []).some((p) => Number(p.lastAccessTime?.seconds ?? 0) * 1000 >= fresh);
}
