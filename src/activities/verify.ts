/**
 * Verification after a fix: re-runs the health checks that raise the incident's pattern (until
 * they pass or `verify_timeout_seconds` runs out) and re-parses a repaired JSON file. A pattern
 * that no probe can re-check is verified by its actions having succeeded, and says so.
 */
import type { Config } from '../config/schema';
import type { SagaInput } from '../workflows/definitions';
import { DEFAULT_HEALTH_PATTERNS, healthDetections, runHealthChecks, type CheckName } from './probes';
import { checkJsonFiles } from '../detection/json-check';

/** Probe selector (`runHealthChecks({ only })`) of each report check. */
const CHECK_PROBE: Record<CheckName, string> = {
  database_connection: 'postgres',
  redis_connection: 'redis',
  disk_space: 'disk',
  memory: 'memory',
  http_endpoints: 'http',
  tls_certificates: 'tls',
  ports: 'ports',
};

/** The report checks that raise `patternId` under the config (its `health_checks`, else the defaults). */
export function checksRaising(cfg: Config, patternId: string): CheckName[] {
  const pattern = cfg.error_patterns.find((p) => p.id === patternId);
  const named = (pattern?.health_checks ?? []).filter((c): c is CheckName => c in CHECK_PROBE);
  if (named.length > 0) return named;
  const claimed = new Set(cfg.error_patterns.flatMap((p) => p.health_checks));
  return (Object.entries(DEFAULT_HEALTH_PATTERNS) as Array<[CheckName, string]>)
    .filter(([check, id]) => id === patternId && !claimed.has(check))
    .map(([check]) => check);
}

/**
 * Verifies that the incident's cause is gone.
 *
 * @example await verifyIncident(cfg, saga) // { ok: true, message: 'database_connection healthy' }
 */
export async function verifyIncident(cfg: Config, saga: SagaInput): Promise<{ ok: boolean; message: string }> {
  const d = saga.detection;
  if (d.source === 'json' && d.file) {
    const still = await checkJsonFiles([d.file], cfg.error_patterns);
    return still.length === 0 ? { ok: true, message: `${d.file} parses` } : { ok: false, message: still[0]?.samples[0] ?? `${d.file} still does not parse` };
  }
  const checks = checksRaising(cfg, saga.patternId);
  if (checks.length === 0) return { ok: true, message: 'no probe re-checks this pattern; every action succeeded' };
  const only = [...new Set(checks.map((c) => CHECK_PROBE[c]))];
  const deadline = Date.now() + cfg.auto_fix_config.verify_timeout_seconds * 1000;
  for (;;) {
    const report = await runHealthChecks(cfg, { only, metrics: false });
    const still = healthDetections(report, cfg).filter((x) => x.id === saga.patternId);
    if (still.length === 0) {
      const ran = checks.filter((c) => report.checks[c]).map((c) => `${c} ${report.checks[c]?.status}`);
      return { ok: true, message: ran.length ? ran.join(', ') : `no enabled check for ${checks.join(', ')}; every action succeeded` };
    }
    if (Date.now() >= deadline) return { ok: false, message: still.flatMap((x) => x.samples).join('; ') || `${checks.join(', ')} still failing` };
    await new Promise((r) => setTimeout(r, 1000));
  }
}
