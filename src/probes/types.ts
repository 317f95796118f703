/**
 * The contract shared by every health probe (one file per probe, registered by name in
 * `./index.ts`, uptime-kuma style). Probes are plain async functions: no Temporal imports, so the
 * CLI calls them directly and the worker wraps them as activities. Results are plain JSON.
 */
import type { Config } from '../config/schema';

/** Status of one check. `unknown`: the probe itself could not decide (e.g. an internal error). */
export type CheckStatus = 'healthy' | 'degraded' | 'unhealthy' | 'unknown';

/** Result of one check, in the seed's `health_monitor.py` shape plus probe-specific fields. */
export interface CheckResult {
  status: CheckStatus;
  message: string;
  latency_ms?: number;
  [field: string]: unknown;
}

export { CHECK_NAMES, HEALTH_SECTIONS, PROBE_NAMES, type CheckName, type HealthSection, type ProbeName } from '../policy/checks';
import type { CheckName, HealthSection, ProbeName } from '../policy/checks';

/** What a probe gets when it runs. */
export interface ProbeContext {
  config: Config;
  /** Hard deadline of this probe in ms (its section's `timeout_seconds`). */
  timeoutMs: number;
  /** Aborted at the deadline, for probes whose work can be cancelled (each also has its own timeouts). */
  signal: AbortSignal;
}

/** One probe type. */
export interface Probe {
  name: ProbeName;
  /** The config section that enables it and gives its interval and timeout. */
  section: HealthSection;
  /** The report entry it fills. */
  check: CheckName;
  /** False when there is nothing to check (e.g. no https endpoint): the check is omitted. */
  applies(config: Config): boolean;
  /** Runs the check. Never hangs past ctx.timeoutMs (the runner enforces it as well). */
  run(ctx: ProbeContext): Promise<CheckResult>;
}

/** Worst of several statuses, for aggregate checks: unhealthy > degraded > unknown > healthy. */
export function worstStatus(statuses: CheckStatus[]): CheckStatus {
  const rank: Record<CheckStatus, number> = { healthy: 0, unknown: 1, degraded: 2, unhealthy: 3 };
  return statuses.reduce<CheckStatus>((w, s) => (rank[s] > rank[w] ? s : w), 'healthy');
}

/** Error text for a result message (no stack; aggregated errors joined). */
export function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(errorText).join('; ');
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    let msg = err.message || err.name;
    // fetch() says only "fetch failed"; the reason (ECONNREFUSED, certificate...) is in `cause`.
    if (err.cause !== undefined) msg += ` (${errorText(err.cause)})`;
    return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  }
  return String(err);
}
