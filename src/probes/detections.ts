/**
 * Health-check failures as detections, so the daemon heals them like log errors. Pure: no I/O.
 *
 * A failed check raises a *trigger*: its name, except for the connection checks
 * (database_connection, redis_connection), whose failures are of two kinds (./availability):
 * - `database_connection` / `redis_connection`: the server is DOWN (not accepting connections);
 *   the only failure that may lead to a restart;
 * - `database_connection:refused` / `redis_connection:refused`: the server answers but refuses
 *   the check (authentication, missing role or database, too many clients, starting up /
 *   recovery / shutting down, NOAUTH, WRONGPASS, LOADING…) or the check could not be made.
 *   A restart cannot help: configs give these an alert-only pattern.
 *
 * Default mapping (trigger → pattern id): database_connection → db_connection,
 * database_connection:refused → db_refused, redis_connection → redis_connection,
 * redis_connection:refused → redis_refused, disk_space → disk_full, memory → memory_error,
 * http_endpoints → http_5xx (only for endpoints that answered 5xx, were unreachable or timed out),
 * tls_certificates → ssl_certificate, ports → port_in_use.
 *
 * A pattern whose `health_checks` is non-empty is raised by exactly those triggers, and a
 * trigger named by any pattern's `health_checks` no longer raises its default pattern. So
 * `"health_checks": ["database_connection"]` means "PostgreSQL is down", never "it refused our
 * password". Only patterns present in the config are produced, with their name and severity;
 * with no pattern for a `:refused` trigger, such a failure raises nothing (it still shows in the
 * health report and status).
 *
 * A check "fails" when unhealthy; for tls_certificates also when degraded (an expiry warning is
 * the whole point of that check). Unknown never raises anything: nothing is known to be broken.
 */
import type { Config, ErrorPattern } from '../config/schema';
import type { Detection } from '../detection/types';
import type { CheckName, CheckResult } from './types';
import type { HealthReport } from './index';
import type { EndpointResult } from './http';
import { isDown } from './availability';

/** Which pattern id each check raises when down (or, for other checks, failed) and no pattern claims it. */
export const DEFAULT_HEALTH_PATTERNS: Readonly<Record<CheckName, string>> = {
  database_connection: 'db_connection',
  redis_connection: 'redis_connection',
  disk_space: 'disk_full',
  memory: 'memory_error',
  http_endpoints: 'http_5xx',
  tls_certificates: 'ssl_certificate',
  ports: 'port_in_use',
};

/** The checks whose failures are split into down and `:refused` (their probes classify them). */
export const CONNECTION_CHECKS: ReadonlySet<CheckName> = new Set(['database_connection', 'redis_connection']);

/** Suffix of the trigger of a connection check that failed without being down. */
export const REFUSED_SUFFIX = ':refused';

/** Which pattern id each `:refused` trigger raises when no pattern claims it. */
export const DEFAULT_REFUSED_PATTERNS: Readonly<Record<string, string>> = {
  [`database_connection${REFUSED_SUFFIX}`]: 'db_refused',
  [`redis_connection${REFUSED_SUFFIX}`]: 'redis_refused',
};

/** Every default trigger → pattern id. */
const DEFAULT_TRIGGERS: Readonly<Record<string, string>> = { ...DEFAULT_HEALTH_PATTERNS, ...DEFAULT_REFUSED_PATTERNS };

/**
 * The trigger a failed check raises (see the file comment).
 *
 * @example
 *   healthTrigger('database_connection', { status: 'unhealthy', message: '…', failure: { kind: 'refusing', code: '28P01' } });
 *   // 'database_connection:refused'
 */
export function healthTrigger(check: string, r: CheckResult): string {
  return CONNECTION_CHECKS.has(check as CheckName) && !isDown(r) ? `${check}${REFUSED_SUFFIX}` : check;
}

/** The check a trigger belongs to (`database_connection:refused` → `database_connection`). */
export function checkOfTrigger(trigger: string): string {
  return trigger.endsWith(REFUSED_SUFFIX) ? trigger.slice(0, -REFUSED_SUFFIX.length) : trigger;
}

/**
 * The triggers that raise `pattern` under the config: its own `health_checks` when it names any,
 * else the default triggers of its id that no pattern claims. One rule for detection and for
 * verification (activities/verify.ts), so a fix is verified by exactly what raised it.
 *
 * @example triggersFor({ id: 'db_connection', health_checks: [] }, cfg) // ['database_connection']
 */
export function triggersFor(pattern: Pick<ErrorPattern, 'id' | 'health_checks'>, config: Pick<Config, 'error_patterns'>): string[] {
  if (pattern.health_checks.length > 0) return pattern.health_checks;
  const claimed = new Set(config.error_patterns.flatMap((p) => p.health_checks));
  return Object.entries(DEFAULT_TRIGGERS)
    .filter(([trigger, id]) => id === pattern.id && !claimed.has(trigger))
    .map(([trigger]) => trigger);
}

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
 *   // and with a wrong password in the URL instead:
 *   // [{ id: 'db_refused', ..., samples: ['accepting connections but refusing this one: password authentication failed ...'] }]
 */
export function healthDetections(report: HealthReport, config: Pick<Config, 'error_patterns'>): Detection[] {
  const out: Detection[] = [];
  for (const p of config.error_patterns) {
    const explicit = p.health_checks.length > 0;
    for (const trigger of triggersFor(p, config)) {
      const check = checkOfTrigger(trigger);
      const r = (report.checks as Record<string, CheckResult | undefined>)[check];
      if (!r || !failed(check, r) || healthTrigger(check, r) !== trigger) continue;
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
