/**
 * The product's own Prometheus metrics (prom-client), updated by the activities in the worker
 * process and served with the SDK's metrics on one /metrics endpoint (src/worker/metrics-server).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'autofix_' });

export const detectionsTotal = new Counter({
  name: 'autofix_detections_total',
  help: 'Error events detected, by pattern id, severity and source (log, json, health)',
  labelNames: ['pattern', 'severity', 'source'] as const,
  registers: [registry],
});
export const loopsTotal = new Counter({ name: 'autofix_loops_total', help: 'Detection loops completed', registers: [registry] });
export const lastLoopTimestamp = new Gauge({
  name: 'autofix_last_loop_timestamp_seconds',
  help: 'Unix time of the last successful detection loop',
  registers: [registry],
});
export const fixesPaused = new Gauge({ name: 'autofix_fixes_paused', help: '1 while fixes are paused, else 0', registers: [registry] });
export const healthCheckStatus = new Gauge({
  name: 'autofix_health_check_status',
  help: 'Last status per health check: 0 healthy, 1 degraded, 2 unhealthy, 3 unknown',
  labelNames: ['check'] as const,
  registers: [registry],
});
export const actionsTotal = new Counter({
  name: 'autofix_actions_total',
  help: 'Remediation action attempts, by action type and result (ok, failed)',
  labelNames: ['type', 'result'] as const,
  registers: [registry],
});
export const incidentsTotal = new Counter({
  name: 'autofix_incidents_total',
  help: 'Incidents closed, by pattern and outcome (fixed, failed_compensated, failed, skipped)',
  labelNames: ['pattern', 'outcome'] as const,
  registers: [registry],
});
export const sagaDuration = new Histogram({
  name: 'autofix_saga_duration_seconds',
  help: 'Duration of remediation sagas, by pattern and outcome',
  labelNames: ['pattern', 'outcome'] as const,
  buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900],
  registers: [registry],
});
export const engineReachable = new Gauge({
  name: 'autofix_engine_reachable',
  help: "1 while the Temporal server answers this worker's probes, 0 while it does not",
  registers: [registry],
});
export const engineLastSuccessfulPoll = new Gauge({
  name: 'autofix_engine_last_successful_poll_timestamp_seconds',
  help: 'Unix time the Temporal server last answered this worker (alert when stale)',
  registers: [registry],
});
export const engineUnreachableSince = new Gauge({
  name: 'autofix_engine_unreachable_since_timestamp_seconds',
  help: 'Unix time the current engine outage began; 0 while the engine is reachable',
  registers: [registry],
});

/** Numeric value of a health status for the gauge. */
export function statusValue(s: string): number {
  return ({ healthy: 0, degraded: 1, unhealthy: 2 } as Record<string, number>)[s] ?? 3;
}
