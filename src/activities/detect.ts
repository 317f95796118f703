/**
 * The daemon's one-activity-per-loop detection: scans the watched logs from their cursors,
 * parses the watched JSON files and runs the due health checks, then writes the loop to
 * auto_fix.log in the seed's words (one fact per line, details on their own line after):
 *
 *   === 検知サイクル N 開始 ===      N = the loop within the iteration, 1..loop_count, as in the seed
 *   ヘルスチェック完了: healthy       when checks ran
 *   エラーは検出されませんでした      or `K 件のエラーを検出` (K events), then per detection:
 *   エラー検出: <pattern name>       [WARNING], followed by `  id=… count=… file=… lines=…`
 *   === 検知サイクル N 完了 ===
 *
 * (a daemon's loop 1 is preceded by `イテレーション I 開始`, I counting iterations since it started).
 * Detections are not alerts: alerts.log hears of them only through a fix's `alert` action or its
 * failure. Critical health-check failures are alerted here, once per cooldown window.
 *
 * Log positions: see detection/cursor-store.ts for why the workflow state is authoritative and
 * the disk copy (written here after each scan) only seeds a run without state.
 */
import type { Config } from '../config/schema';
import type { Detection, LogCursors } from '../detection/types';
import { ScanGuard, type Overrun } from '../detection/budgeted-scan';
import { checkJsonFiles } from '../detection/json-check';
import { OwnFiles } from '../detection/own-files';
import { readCursorRecord, signaturesFor, startingCursors, writeCursorRecord, type LoopIdentity } from '../detection/cursor-store';
import { HEALTH_SECTIONS, healthDetections, runHealthChecks, type HealthReport } from '../probes';
import { factLines, writeAutoFixLog, type LogEntry } from '../logging';
import { sendNotification } from '../notify';
import { criticalHealthAlert } from '../notify/health';
import type { HealthSummary } from '../workflows/definitions';
import type { ConfigRef } from '../config/store';
import { detectionsTotal, fixesPaused, healthCheckStatus, lastLoopTimestamp, loopsTotal, statusValue } from '../metrics';

/** Input of one detection loop. */
export interface DetectInput {
  /** The config the daemon runs under; the loop uses the worker's current one and says so when they differ. */
  configRef?: ConfigRef;
  /** Where the daemon's last recorded loop stopped (its workflow state); see cursor-store.ts. */
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

/** Where the loop runs: the workflow run that asked (for telling a retry from a new loop). */
export interface DetectContext {
  workflowId?: string;
  runId?: string;
}

const HEALTH_CHECKS: ReadonlySet<string> = new Set(HEALTH_SECTIONS);

// The scan runs under a time budget in a thread of its own, and remembers (for this worker's
// life) which pattern overran on which file: budgeted-scan.ts.
const scanGuard = new ScanGuard();

/** The lines and the alert of a pattern disabled for a file because its regex overran the budget. */
async function reportOverrun(cfg: Config, o: Overrun, host: string, log: LogEntry[]): Promise<void> {
  const message = `pattern ${o.patternId} disabled for ${o.file} until the worker restarts: its regex overran the scan budget`;
  log.push(...factLines('CRITICAL', message, { region: `${o.region.file}:${o.region.start}-${o.region.end}`, reason: o.reason }));
  await sendNotification(cfg, { severity: 'critical', message, patternId: o.patternId, dedupeKey: `scan-overrun-${host}-${o.patternId}-${o.file}`, details: { file: o.file, region: o.region } });
}

// Own files a watch glob matched, already reported in this worker process (said once, not every loop).
const reportedOwn = new Set<string>();

/** Collects the auto_fix.log lines of the exclusions met this loop, each file once per process. */
function exclusionReporter(log: LogEntry[]) {
  return (file: string, spec: string, reason: string): void => {
    if (reportedOwn.has(file)) return;
    reportedOwn.add(file);
    log.push(...factLines('WARNING', `監視対象から除外: ${file}`, { reason, matched: spec }));
  };
}

/** The auto_fix.log lines of one detection: the seed's line, then autofix's details. */
function detectionLines(d: Detection): LogEntry[] {
  const lines = d.first_line === undefined ? undefined : d.last_line !== undefined && d.last_line !== d.first_line ? `${d.first_line}-${d.last_line}` : String(d.first_line);
  return factLines('WARNING', `エラー検出: ${d.name}`, {
    id: d.id,
    severity: d.severity,
    count: d.count,
    source: d.source,
    [d.source === 'health' ? 'check' : 'file']: d.file,
    lines,
  });
}

/** Runs the due health checks, records their metrics and returns the report (undefined when none is due). */
async function runDueHealthChecks(cfg: Config, checks: string[]): Promise<HealthReport | undefined> {
  const due = checks.filter((c) => HEALTH_CHECKS.has(c));
  if (due.length === 0) return undefined;
  const report = await runHealthChecks(cfg, { only: due, metrics: false });
  for (const [name, r] of Object.entries(report.checks)) if (r) healthCheckStatus.set({ check: name }, statusValue(r.status));
  return report;
}

/** The compact summary the daemon keeps of a health report. */
function summarize(report: HealthReport): HealthSummary {
  const checks: Record<string, string> = {};
  for (const [name, r] of Object.entries(report.checks)) if (r) checks[name] = r.status;
  return { at: Date.now(), overall: report.overall_status, checks };
}

/**
 * Scans the watched logs from where this loop starts (see cursor-store.ts), and writes the disk
 * copy of where it stopped.
 */
async function scanWatchedLogs(cfg: Config, input: DetectInput, ctx: DetectContext, own: OwnFiles, log: LogEntry[]) {
  const dataDir = cfg.daemon.data_dir;
  const identity: LoopIdentity | undefined =
    ctx.workflowId && ctx.runId ? { workflowId: ctx.workflowId, runId: ctx.runId, iteration: input.iteration, loop: input.loop } : undefined;
  const { record, problem } = await readCursorRecord(dataDir);
  if (problem) log.push({ level: 'WARNING', message: `ログ位置の記録を読めません: ${problem}` });
  const { from, since } = startingCursors({ cursors: input.cursors, ...(identity ? { identity } : {}) }, record);
  const at = Date.now();
  const scan = await scanGuard.scan({
    files: cfg.watch.logs,
    cursors: from,
    startAt: cfg.watch.start_at,
    ...(since !== undefined ? { newSince: since } : {}),
    signatures: signaturesFor(from, record),
    exclude: (file, st) => own.reason(file, st),
    onExcluded: exclusionReporter(log),
    patterns: cfg.error_patterns,
    maxLineBytes: cfg.watch.max_line_bytes,
    maxBytesPerScan: cfg.watch.max_bytes_per_scan,
    budgetMs: cfg.watch.scan_budget_seconds * 1000,
  });
  for (const o of scan.overruns) await reportOverrun(cfg, o, input.host, log);
  for (const f of scan.skipped) log.push({ level: 'WARNING', message: `${f} の走査が予算内に終わりませんでした (特定のパターンではなくマシンの負荷); 次のループで再試行します` });
  await writeCursorRecord(dataDir, {
    v: 1,
    at,
    ...(since !== undefined ? { since } : {}),
    ...(identity ? { by: identity } : {}),
    from: { ...from, ...scan.starts },
    to: scan.cursors,
    signatures: scan.signatures,
  }).catch((e: Error) => log.push({ level: 'WARNING', message: `ログ位置を保存できません: ${e.message}` }));
  return scan;
}

/**
 * Runs one detection loop under `cfg`.
 *
 * @example const out = await detectLoop(cfg, { cursors: {}, checks: [], iteration: 1, loop: 1, host: '' }, { workflowId, runId });
 */
export async function detectLoop(cfg: Config, input: DetectInput, ctx: DetectContext = {}): Promise<DetectOutput> {
  const log: LogEntry[] = [];
  const started = new Date();
  if (input.loop === 1) log.push({ level: 'INFO', message: `イテレーション ${input.iteration} 開始`, time: started });
  log.push({ level: 'INFO', message: `=== 検知サイクル ${input.loop} 開始 ===`, time: started });
  const own = OwnFiles.of(cfg);
  const scan = await scanWatchedLogs(cfg, input, ctx, own, log);
  const detections: Detection[] = [...scan.detections];
  if (input.checks.includes('json') && cfg.watch.json_files.length > 0) {
    detections.push(...(await checkJsonFiles(cfg.watch.json_files, cfg.error_patterns, { exclude: (f, st) => own.reason(f, st), onExcluded: exclusionReporter(log) })));
  }
  const report = await runDueHealthChecks(cfg, input.checks);
  if (report) {
    log.push({ level: 'INFO', message: `ヘルスチェック完了: ${report.overall_status}` });
    detections.push(...healthDetections(report, cfg));
  }
  if (detections.length === 0) log.push({ level: 'INFO', message: 'エラーは検出されませんでした' });
  else log.push({ level: 'WARNING', message: `${detections.reduce((n, d) => n + d.count, 0)} 件のエラーを検出` });
  for (const d of detections) log.push(...detectionLines(d));
  log.push({ level: 'INFO', message: `=== 検知サイクル ${input.loop} 完了 ===` });
  await writeAutoFixLog(cfg, log);
  if (report) {
    const bucket = Math.floor(Date.now() / (cfg.auto_fix_config.cooldown_period * 1000));
    const alert = criticalHealthAlert(report, cfg, input.host, bucket);
    if (alert) await sendNotification(cfg, alert);
  }
  for (const d of detections) detectionsTotal.inc({ pattern: d.id, severity: d.severity, source: d.source }, d.count);
  loopsTotal.inc();
  lastLoopTimestamp.set(Date.now() / 1000);
  fixesPaused.set(input.paused ? 1 : 0);
  return { detections, cursors: scan.cursors, ...(report ? { health: summarize(report) } : {}) };
}
