/**
 * The engine monitor (./engine-monitor.ts) wired into a worker process: it probes the engine over
 * the worker's own connection, alerts through the configured notification channels (alerts.log
 * always), and publishes what it knows on /metrics and in the state file `autofix status` reads.
 */
import type { NativeConnection, Worker } from '@temporalio/worker';
import { Runtime } from '@temporalio/worker';
import os from 'node:os';
import type { ConfigStore } from '../config/store';
import type { Config } from '../config/schema';
import { sendNotification, type NotificationAlert } from '../notify';
import { engineLastSuccessfulPoll, engineReachable, engineUnreachableSince } from '../metrics';
import { writeEngineState } from '../temporal/engine-state';
import { canConnect } from '../util/net';
import { formatDuration } from '../util/duration';
import { EngineMonitor, type EngineAlert, type EngineState } from './engine-monitor';

/**
 * The one call into activities/notify. The notify module is being reworked: if its entry point
 * changes, this line is the only one to follow it.
 */
const notify = (config: Config, alert: NotificationAlert): Promise<unknown> => sendNotification(config, alert);

/** `host:port` / `[v6]:port` → parts; undefined for anything else (e.g. a dns:/// target). */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  return m ? { host: m[1] as string, port: Number(m[2]) } : undefined;
}

/**
 * Resolves when the engine answers a GetSystemInfo call over `connection` within `timeoutMs`.
 * A refused TCP connection fails at once, without waiting for the SDK's own retries.
 */
export async function probeEngine(connection: NativeConnection, address: string, timeoutMs: number): Promise<void> {
  const hp = splitAddress(address);
  if (hp && !(await canConnect(hp.port, hp.host, timeoutMs))) throw new Error(`nothing accepts connections on ${address}`);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${address} within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({})), late]);
  } finally {
    clearTimeout(timer);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The notification for an engine alert. The recovery has the outage's severity on purpose: it
 * must pass the same channel filters (`notifications.min_severity`) as the alert it closes.
 */
export function engineNotification(a: EngineAlert): NotificationAlert {
  const details = {
    event: a.kind === 'outage' ? 'engine_unreachable' : 'engine_recovered',
    engine_address: a.address,
    unreachable_since: iso(a.since),
    outage_seconds: Math.round(a.durationMs / 1000),
    worker_host: os.hostname(),
    worker_pid: process.pid,
    ...(a.reason ? { last_error: a.reason } : {}),
  };
  const message =
    a.kind === 'outage'
      ? `Temporal server unreachable: ${a.address} has not answered the autofix worker since ${iso(a.since)} (${formatDuration(a.durationMs)}); ` +
        'nothing is detected or fixed until it is back'
      : `Temporal server reachable again: ${a.address} answers the autofix worker after an outage of ${formatDuration(a.durationMs)} (since ${iso(a.since)})`;
  return { severity: 'critical', message, details };
}

function publish(s: Readonly<EngineState>): void {
  if (s.reachable !== undefined) engineReachable.set(s.reachable ? 1 : 0);
  if (s.lastOkAt) engineLastSuccessfulPoll.set(s.lastOkAt / 1000);
  engineUnreachableSince.set(s.unreachableSince ? s.unreachableSince / 1000 : 0);
}

const STOPPED_STATES = new Set(['STOPPING', 'DRAINING', 'DRAINED', 'STOPPED', 'FAILED']);

/**
 * Starts monitoring the engine for `worker` (it stops with the worker). The threshold and the
 * channels come from the worker's config (`daemon.engine_outage_alert_seconds`, `notifications`),
 * read again from its store when an alert is sent so a changed config applies.
 *
 * @example watchEngine({ worker, connection, address: '127.0.0.1:7233', store });
 */
export function watchEngine(o: { worker: Worker; connection: NativeConnection; address: string; store: ConfigStore }): EngineMonitor | undefined {
  const logger = Runtime.instance().logger;
  let config: Config = o.store.current().config;
  const thresholdMs = config.daemon.engine_outage_alert_seconds * 1000;
  // Probe often enough that an outage is seen well within the threshold, but at most every 5 s.
  const intervalMs = Math.min(5000, Math.max(250, thresholdMs / 4));
  const timeoutMs = Math.min(5000, Math.max(1000, thresholdMs / 2));
  const monitor = new EngineMonitor({
    address: o.address,
    outageAlertMs: thresholdMs,
    probe: () => probeEngine(o.connection, o.address, timeoutMs),
    active: () => !STOPPED_STATES.has(o.worker.getState()),
    log: (line) => logger.warn(line),
    alert: async (a) => {
      // An invalid edit keeps the version in force (the detect loop reports it).
      config = o.store.refresh().loaded.config;
      await notify(config, engineNotification(a));
    },
    onState: async (s, changed) => {
      publish(s);
      if (!changed) return;
      await writeEngineState(config.daemon.data_dir, {
        address: s.address,
        reachable: s.reachable ?? false,
        pid: process.pid,
        updatedAt: Date.now(),
        ...(s.unreachableSince ? { unreachableSince: s.unreachableSince } : {}),
        ...(s.lastOkAt ? { lastOkAt: s.lastOkAt } : {}),
        ...(s.lastError ? { lastError: s.lastError } : {}),
      }).catch((e: Error) => logger.warn(`cannot write the engine state file: ${e.message}`));
    },
  });
  monitor.start(intervalMs);
  return monitor;
}
