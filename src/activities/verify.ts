/**
 * Verification after a fix: re-runs the health checks that raise the incident's pattern (until
 * they pass or `verify_timeout_seconds` runs out) and re-parses a repaired JSON file. A pattern
 * that no probe can re-check is verified by its actions having succeeded, and says so.
 */
import type { Config } from '../config/schema';
import type { Detection } from '../detection/types';
import { CHECK_NAMES, checkOfTrigger, healthDetections, runHealthChecks, triggersFor, type CheckName, type ProbeName } from '../probes';
import { probeOfCheck } from '../policy/checks';
import { checkJsonFiles } from '../detection/json-check';

/**
 * The report checks that raise `patternId` under the config — those of its triggers
 * (`triggersFor`, the rule detection uses), `database_connection:refused` counting as
 * `database_connection` — and the probes that fill them.
 */
export function checksRaising(cfg: Config, patternId: string): { checks: CheckName[]; probes: ProbeName[] } {
  const pattern = cfg.error_patterns.find((p) => p.id === patternId);
  const known = new Set<string>(CHECK_NAMES);
  const checks = [...new Set((pattern ? triggersFor(pattern, cfg) : []).map(checkOfTrigger))].filter((c): c is CheckName => known.has(c));
  return { checks, probes: [...new Set(checks.map(probeOfCheck))] };
}

/**
 * Verifies that the incident's cause is gone.
 *
 * @example await verifyIncident(cfg, saga) // { ok: true, message: 'database_connection healthy' }
 */
export async function verifyIncident(cfg: Config, saga: { patternId: string; detection: Detection }): Promise<{ ok: boolean; message: string }> {
  const d = saga.detection;
  if (d.source === 'json' && d.file) {
    const still = await checkJsonFiles([d.file], cfg.error_patterns);
    return still.length === 0 ? { ok: true, message: `${d.file} parses` } : { ok: false, message: still[0]?.samples[0] ?? `${d.file} still does not parse` };
  }
  const { checks, probes: only } = checksRaising(cfg, saga.patternId);
  if (checks.length === 0) return { ok: true, message: 'no probe re-checks this pattern; every action succeeded' };
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
