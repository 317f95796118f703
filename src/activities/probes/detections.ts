/**
 * Health-check failures as detections, so the daemon heals them like log errors. Pure: no I/O.
 *
 * Default mapping (check → pattern id): database_connection → db_connection, redis_connection →
 * redis_connection, disk_space → disk_full, memory → memory_error, http_endpoints → http_5xx
 * (only for endpoints that answered 5xx, were unreachable or timed out), tls_certificates →
 * ssl_certificate, ports → port_in_use.
 *
 * A pattern whose `health_checks` is non-empty is raised by exactly those checks (any failure),
 * and a check named by any pattern's `health_checks` no longer raises its default pattern.
 * Only patterns present in the config are produced, with their name and severity.
 *
 * A check "fails" when unhealthy; for tls_certificates also when degraded (an expiry warning is
 * the whole point of that check). Unknown never raises anything: nothing is known to be broken.
 */
import type { Config } from '../../config/schema';
import type { Detection } from '../../detection/types';
import type { CheckName, CheckResult } from './types';
import type { HealthReport } from './index';
import type { EndpointResult } from './http';

/** Which pattern id each check raises when no pattern claims it through `health_checks`. */
export const DEFAULT_HEALTH_PATTERNS: Readonly<Record<CheckName, string>> = {
  database_connection: 'db_connection',
  redis_connection: 'redis_connection',
  disk_space: 'disk_full',
  memory: 'memory_error',
  http_endpoints: 'http_5xx',
  tls_certificates: 'ssl_certificate',
  ports: 'port_in_use',
};

const MAX_SAMPLE = 300;

/** True when the check counts as failed (see the file comment). */
function failed(check: string, r: CheckResult): boolean {
  return r.status === 'unhealthy' || (check === 'tls_certificates' && r.status === 'degraded');
}

/** Endpoints of an http_endpoints result that answered 5xx or not at all. */
function serverFailures(r: CheckResult): string[] {
  const eps = (r.endpoints ?? {}) as Record<string, EndpointResult>;
  return Object.entries(eps)
    .filter(
      ([, e]) =>
        e.reason === 'unreachable' ||
        e.reason === 'timeout' ||
        (e.http_status !== undefined && e.http_status >= 500),
    )
    .map(([name, e]) => `${name}: ${e.message}`);
}

/** Failing sub-items of a check (endpoints, certificates, ports, paths), or the check's message. */
function failureSamples(r: CheckResult): string[] {
  for (const key of ['endpoints', 'certificates', 'ports', 'paths']) {
    const items = r[key];
    if (items && typeof items === 'object') {
      const bad = Object.entries(items as Record<string, CheckResult>)
        .filter(([, v]) => v.status !== 'healthy')
        .map(([name, v]) => `${name}: ${v.message}`);
      if (bad.length > 0) return bad;
    }
  }
  return [r.message];
}

/**
 * Maps the failed checks of a report to detections (source 'health', file = check name).
 *
 * @example
 *   healthDetections(report, config);
 *   // [{ id: 'db_connection', name: 'Database connection error', severity: 'critical', count: 1,
 *   //    source: 'health', file: 'database_connection', samples: ['not accepting connections: ...'] }]
 */
export function healthDetections(report: HealthReport, config: Pick<Config, 'error_patterns'>): Detection[] {
  const claimed = new Set(config.error_patterns.flatMap((p) => p.health_checks));
  const out: Detection[] = [];
  for (const p of config.error_patterns) {
    const explicit = p.health_checks.length > 0;
    const checks = explicit
      ? p.health_checks
      : Object.entries(DEFAULT_HEALTH_PATTERNS)
          .filter(([check, id]) => id === p.id && !claimed.has(check))
          .map(([check]) => check);
    for (const check of checks) {
      const r = (report.checks as Record<string, CheckResult | undefined>)[check];
      if (!r || !failed(check, r)) continue;
      // By default http_5xx means the app is broken (5xx / down), not a 404 or a slow page.
      const samples = !explicit && check === 'http_endpoints' ? serverFailures(r) : failureSamples(r);
      if (samples.length === 0) continue;
      out.push({
        id: p.id,
        name: p.name,
        severity: p.severity,
        count: samples.length,
        source: 'health',
        file: check,
        samples: samples.slice(0, 2).map((s) => s.slice(0, MAX_SAMPLE)),
      });
    }
  }
  return out;
}
