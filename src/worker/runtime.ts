/**
 * Installs the SDK runtime once per process, before any worker or connection: the log level
 * (AUTOFIX_LOG_LEVEL, default INFO; the SDK's default logger writes to stderr) and, when asked,
 * the SDK's Prometheus metrics endpoint.
 */
import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

const LEVELS: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** Installs the runtime (idempotent). `metricsBind` e.g. '127.0.0.1:9464' serves SDK metrics. */
export function installRuntime(opts: { metricsBind?: string } = {}): void {
  if (installed) return;
  installed = true;
  const wanted = (process.env.AUTOFIX_LOG_LEVEL ?? 'INFO').toUpperCase() as LogLevel;
  const level = LEVELS.includes(wanted) ? wanted : 'INFO';
  // While the server is down, the SDK's client warns at every retry of every poll (several lines
  // a second); the engine monitor says it once instead. DEBUG and TRACE keep them.
  const quietRetries = level === 'TRACE' || level === 'DEBUG' ? '' : ',temporalio_client::retry=ERROR';
  try {
    Runtime.install({
      logger: new DefaultLogger(level),
      telemetryOptions: {
        logging: { filter: `${makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' })}${quietRetries}` },
        ...(opts.metricsBind ? { metrics: { prometheus: { bindAddress: opts.metricsBind } } } : {}),
      },
    });
  } catch {
    // Already installed by the embedding process (e.g. a test harness): keep it.
  }
}
