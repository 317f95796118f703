/**
 * The daemon's one-activity-per-loop detection: scans the watched logs from their cursors,
 * parses the watched JSON files and runs the due health checks, then logs and alerts each
 * detection. Alerts are deduplicated per pattern and cooldown bucket, so a retried or replayed
 * loop never alerts twice.
 */
import type { Config } from '../config/schema';
import type { Detection, LogCursors } from '../detection/types';
import { compileMatcher } from '../detection/matcher';
import { scanLogs } from '../detection/log-scanner';
import { checkJsonFiles } from '../detection/json-check';
import { healthDetections, runHealthChecks } from './probes';
import { writeAutoFixLog, type LogEntry } from './logging';
import { sendNotification } from './notify';
import type { HealthSummary } from '../workflows/definitions';
import { detectionsTotal, fixesPaused, healthCheckStatus, lastLoopTimestamp, loopsTotal, statusValue } from './metrics';

/** Input of one detection loop. */
export interface DetectInput {
  config: Config;
  cursors: LogCursors;
  /** Periodic checks due this loop (`json`, `postgres`, `redis`, `disk`, `memory`, `http`, `ports`). */
  checks: string[];
  iteration: number;
  loop: number;
  host: string;
  /** Whether fixes are paused (reported as a metric). */
  paused?: boolean;
}

/** Output of one detection loop. */
export interface DetectOutput {
  detections: Detection[];
  cursors: LogCursors;
  health?: HealthSummary;
}

const HEALTH_CHECKS = new Set(['postgres', 'redis', 'disk', 'memory', 'http', 'ports']);

// Compiling the patterns (and their literal prefilters) once per config, not once per loop.
let cached: { key: string; matcher: ReturnType<typeof compileMatcher> } | undefined;
function matcherFor(cfg: Config) {
  const key = JSON.stringify(cfg.error_patterns);
  if (cached?.key !== key) cached = { key, matcher: compileMatcher(cfg.error_patterns) };
  return cached.matcher;
}

/** Makes the `detect` activity. */
export function createDetect(_deps: { host: string }) {
  return async function detect(input: DetectInput): Promise<DetectOutput> {
    const cfg = input.config;
    const logLines: LogEntry[] = [{ level: 'INFO', message: `=== 検知サイクル ${input.iteration}-${input.loop} 開始 ===` }];
    const scan = await scanLogs({
      files: cfg.watch.logs,
      cursors: input.cursors,
      matcher: matcherFor(cfg),
      maxLineBytes: cfg.watch.max_line_bytes,
      maxBytesPerScan: cfg.watch.max_bytes_per_scan,
    });
    const detections: Detection[] = [...scan.detections];
    if (input.checks.includes('json') && cfg.watch.json_files.length > 0) {
      detections.push(...(await checkJsonFiles(cfg.watch.json_files, cfg.error_patterns)));
    }
    const due = input.checks.filter((c) => HEALTH_CHECKS.has(c));
    let health: HealthSummary | undefined;
    if (due.length > 0) {
      const report = await runHealthChecks(cfg, { only: due, metrics: false });
      const checks: Record<string, string> = {};
      for (const [name, r] of Object.entries(report.checks)) {
        if (!r) continue;
        checks[name] = r.status;
        healthCheckStatus.set({ check: name }, statusValue(r.status));
      }
      health = { at: Date.now(), overall: report.overall_status, checks };
      detections.push(...healthDetections(report, cfg));
    }
    const bucket = Math.floor(Date.now() / (cfg.auto_fix_config.cooldown_period * 1000));
    for (const d of detections) {
      const where = d.file ? ` in ${d.file}${d.first_line ? `:${d.first_line}` : ''}` : '';
      logLines.push({ level: d.severity === 'warning' ? 'WARNING' : 'ERROR', message: `エラー検出: ${d.name} (${d.id}) ×${d.count}${where}` });
    }
    await writeAutoFixLog(cfg, logLines);
    for (const d of detections) {
      await sendNotification(cfg, {
        severity: d.severity,
        message: `detected ${d.name} (${d.id}) ×${d.count}${d.file ? ` in ${d.file}` : ''}${d.samples[0] ? `: ${d.samples[0]}` : ''}`,
        patternId: d.id,
        dedupeKey: `detect-${input.host}-${d.id}-${d.file ?? ''}-${bucket}`,
        details: { count: d.count, file: d.file, first_line: d.first_line, last_line: d.last_line, samples: d.samples },
      });
    }
    for (const d of detections) detectionsTotal.inc({ pattern: d.id, severity: d.severity, source: d.source }, d.count);
    loopsTotal.inc();
    lastLoopTimestamp.set(Date.now() / 1000);
    fixesPaused.set(input.paused ? 1 : 0);
    return { detections, cursors: scan.cursors, ...(health ? { health } : {}) };
  };
}
