/**
 * The health checks autofix knows, in one place: each probe, the config section that enables it
 * and gives its interval (`health_checks.<section>`), and the report check it fills (the seed's
 * `health_monitor.py` names). Pure, so workflow code may import it; the probe registry
 * (src/probes/index.ts) implements exactly these, and everything else — the checks a loop runs,
 * the wake-up arguments a watcher may send, the probes verification re-runs — is derived here.
 */

/** Every probe by name: its config section and its report check. */
export const PROBE_KINDS = {
  postgres: { section: 'postgres', check: 'database_connection' },
  redis: { section: 'redis', check: 'redis_connection' },
  disk: { section: 'disk', check: 'disk_space' },
  memory: { section: 'memory', check: 'memory' },
  http: { section: 'http', check: 'http_endpoints' },
  // Reads the https endpoints of the `http` section.
  tls: { section: 'http', check: 'tls_certificates' },
  ports: { section: 'ports', check: 'ports' },
} as const;

export type ProbeName = keyof typeof PROBE_KINDS;
export type HealthSection = (typeof PROBE_KINDS)[ProbeName]['section'];
export type CheckName = (typeof PROBE_KINDS)[ProbeName]['check'];

const kinds = Object.entries(PROBE_KINDS) as Array<[ProbeName, (typeof PROBE_KINDS)[ProbeName]]>;

/** Probe names, in registry order. */
export const PROBE_NAMES: readonly ProbeName[] = kinds.map(([name]) => name);
/** Config sections under `health_checks` (each with enabled / interval_seconds / timeout_seconds). */
export const HEALTH_SECTIONS: readonly HealthSection[] = [...new Set(kinds.map(([, k]) => k.section))];
/** Names of the checks in a report. */
export const CHECK_NAMES: readonly CheckName[] = kinds.map(([, k]) => k.check);

/** What one detection loop may run: `json` (every loop) and the health sections. */
export const LOOP_CHECKS = ['json', ...HEALTH_SECTIONS] as [string, ...string[]];

/**
 * The probe that fills a report check.
 *
 * @example probeOfCheck('database_connection') // 'postgres'
 */
export function probeOfCheck(check: CheckName): ProbeName {
  return (kinds.find(([, k]) => k.check === check) as [ProbeName, unknown])[0];
}

/** The name, section and check of probe `name` (what each probe file declares, from here). */
export function probeKind<N extends ProbeName>(name: N): { name: N; section: (typeof PROBE_KINDS)[N]['section']; check: (typeof PROBE_KINDS)[N]['check'] } {
  return { name, ...PROBE_KINDS[name] };
}
