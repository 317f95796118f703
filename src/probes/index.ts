/**
 * Health checks: one probe per file, registered by name in `PROBES`. `runHealthChecks` runs the
 * enabled (and, for the daemon, due) probes concurrently, each under its hard timeout, and builds
 * the seed's `health_monitor.py` report. No Temporal imports: the CLI calls this directly and the
 * worker wraps it as an activity.
 *
 * Overall status: no check, or only unknown ones → unknown; any unhealthy → unhealthy; else any
 * degraded, or some unknown next to healthy ones → degraded; else healthy.
 */
import type { Config } from '../config/schema';
import type { CheckName, CheckResult, CheckStatus, Probe, ProbeName } from './types';
import { HEALTH_SECTIONS } from './types';
import { errorText } from './types';
import { ProbeTimeoutError, withDeadline } from './deadline';
import { collectMetrics, type SystemMetrics } from './metrics';
import { postgresProbe } from './postgres';
import { redisProbe } from './redis';
import { diskProbe } from './disk';
import { memoryProbe } from './memory';
import { httpProbe } from './http';
import { tlsProbe } from './tls';
import { portsProbe } from './ports';

export * from './types';
export { whoHoldsPort, type PortHolder } from '../proc';
export { collectMetrics, type SystemMetrics } from './metrics';
export { healthDetections, DEFAULT_HEALTH_PATTERNS, checkOfTrigger, triggersFor } from './detections';
export { probePostgres } from './postgres';
export { probeRedis } from './redis';

/** Every probe by name. Adding a check = one file + one entry here. */
export const PROBES: Readonly<Record<ProbeName, Probe>> = {
  postgres: postgresProbe,
  redis: redisProbe,
  disk: diskProbe,
  memory: memoryProbe,
  http: httpProbe,
  tls: tlsProbe,
  ports: portsProbe,
};

/** The seed's health report. Checks that are disabled or have nothing to check are omitted. */
export interface HealthReport {
  /** ISO 8601 time the run started. */
  timestamp: string;
  checks: Partial<Record<CheckName, CheckResult>>;
  overall_status: CheckStatus;
  /** Present unless metrics were skipped. */
  metrics?: SystemMetrics;
}

/** Options of one health run. */
export interface RunHealthOptions {
  /**
   * Run only these probes; a config section name selects every probe it drives (`http` runs
   * both `http` and `tls`), a probe name just that probe. Default: all enabled probes.
   */
  only?: readonly string[];
  /** Collect system metrics too (default true; the daemon's frequent runs skip them). */
  metrics?: boolean;
}

/** Time the runner grants past a probe's own timeout, so the probe can report its own failure first. */
const RUNNER_GRACE_MS = 500;

/** Runs one probe; a hang becomes unhealthy, an unexpected internal error unknown. */
async function runProbe(probe: Probe, config: Config): Promise<CheckResult> {
  const timeoutMs = config.health_checks[probe.section].timeout_seconds * 1000;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  timer.unref();
  try {
    return await withDeadline(
      probe.run({ config, timeoutMs, signal: controller.signal }),
      timeoutMs + RUNNER_GRACE_MS,
      probe.name,
    );
  } catch (err) {
    if (err instanceof ProbeTimeoutError) return { status: 'unhealthy', message: err.message };
    return { status: 'unknown', message: `probe failed: ${errorText(err)}` };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/**
 * Seconds between runs of each loop check (src/policy/checks.ts) that is enabled and has something
 * to check: `json` every loop, and each health section one of whose probes applies.
 *
 * @example checkIntervals(loadConfig()) // { json: 0, postgres: 60, redis: 60, disk: 300, memory: 300, http: 30 }
 */
export function checkIntervals(config: Config): Record<string, number> {
  const out: Record<string, number> = { json: 0 };
  // The sections of the probes that would run: one rule for "enabled and something to check".
  const live = new Set(selectProbes(config).map((p) => p.section));
  for (const section of HEALTH_SECTIONS) if (live.has(section)) out[section] = config.health_checks[section].interval_seconds;
  return out;
}

/** The probes selected by `only` that are enabled and have something to check. */
export function selectProbes(config: Config, only?: readonly string[]): Probe[] {
  return Object.values(PROBES).filter(
    (p) =>
      config.health_checks[p.section].enabled &&
      p.applies(config) &&
      (only === undefined || only.includes(p.name) || only.includes(p.section)),
  );
}

/** Derives the overall status from check statuses (rule in the file comment). */
export function overallStatus(statuses: readonly CheckStatus[]): CheckStatus {
  if (statuses.length === 0 || statuses.every((s) => s === 'unknown')) return 'unknown';
  if (statuses.includes('unhealthy')) return 'unhealthy';
  if (statuses.includes('degraded') || statuses.includes('unknown')) return 'degraded';
  return 'healthy';
}

/**
 * Runs the selected health checks (and metrics) concurrently. Never throws for a failing
 * service and never waits past the slowest probe's timeout (plus a short grace).
 *
 * @example
 *   const report = await runHealthChecks(loadConfig(), { only: ['postgres', 'redis'], metrics: false });
 *   report.overall_status; // 'healthy'
 */
export async function runHealthChecks(config: Config, options: RunHealthOptions = {}): Promise<HealthReport> {
  const timestamp = new Date().toISOString();
  const probes = selectProbes(config, options.only);
  const results = await Promise.all(probes.map(async (p) => [p.check, await runProbe(p, config)] as const));
  // Metrics after the probes, not beside them: their parsing would inflate measured latencies.
  const metrics = options.metrics === false ? undefined : await collectMetrics();
  const checks: Partial<Record<CheckName, CheckResult>> = Object.fromEntries(results);
  return {
    timestamp,
    checks,
    overall_status: overallStatus(results.map(([, r]) => r.status)),
    ...(metrics ? { metrics } : {}),
  };
}
