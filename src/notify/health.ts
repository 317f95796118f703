/**
 * The seed's health alert: when checks marked critical fail, one alert
 * `Critical health check failures: database_connection, http_endpoints` (severity critical), as
 * `health_monitor.py` wrote it to alerts.log. Which checks are critical is the config's
 * `health_checks.<section>.critical` (the seed's defaults: PostgreSQL, disk and HTTP).
 */
import type { Config } from '../config/schema';
import { PROBES, type HealthReport } from '../probes';
import type { NotificationAlert } from './types';

/**
 * The failed critical checks of a report, by report name, with their messages. A check fails
 * when unhealthy; unknown (the probe itself could not tell) is not a failure.
 */
export function criticalFailures(report: HealthReport, config: Pick<Config, 'health_checks'>): Record<string, string> {
  const failed: Record<string, string> = {};
  for (const probe of Object.values(PROBES)) {
    const r = report.checks[probe.check];
    if (r?.status === 'unhealthy' && config.health_checks[probe.section].critical) failed[probe.check] = r.message;
  }
  return failed;
}

/**
 * The alert for a report's failed critical checks, or undefined when none failed. Sent once per
 * set of failed checks per `bucket` (the caller's cooldown window), not once per loop.
 *
 * @example
 *   criticalHealthAlert(report, cfg, 'web1', 5_801_234)
 *   // { severity: 'critical', message: 'Critical health check failures: database_connection', … }
 */
export function criticalHealthAlert(report: HealthReport, config: Pick<Config, 'health_checks'>, host: string, bucket: number): NotificationAlert | undefined {
  const failed = criticalFailures(report, config);
  const names = Object.keys(failed);
  if (names.length === 0) return undefined;
  return {
    severity: 'critical',
    message: `Critical health check failures: ${names.join(', ')}`,
    dedupeKey: `health-critical-${host}-${names.join(',')}-${bucket}`,
    details: { host, overall_status: report.overall_status, checks: failed },
  };
}
