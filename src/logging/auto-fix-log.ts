/**
 * Writers of the daemon's two log files, in the seed's formats:
 *
 *   auto_fix.log  `2025-12-28 10:30:15 - AutoFixDaemon - [INFO] - message` (local time): one fact
 *                 per line, worded as the seed documents it; autofix's details follow on their own
 *                 line, indented, as `key=value` pairs (see `factLines`).
 *   alerts.log    `{"timestamp": "2025-12-28T10:30:00", "severity": "critical", "message": "...", ...}`:
 *                 alerts only (see ../notify).
 *
 * Both are appended, rotated at `daemon.log_max_bytes` keeping `daemon.log_keep` old files, and
 * have their directory created on first write.
 */
import path from 'node:path';
import type { Config, Severity } from '../config/schema';
import { appendRotating } from './rotating-append';

/** Levels of auto_fix.log (the seed's Python logging levels). */
export type LogLevel = 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** One auto_fix.log entry. `time` defaults to now. */
export interface LogEntry {
  level: LogLevel;
  message: string;
  time?: Date;
}

/** One alerts.log record; extra incident fields are kept as they are. */
export interface AlertRecord {
  severity: Severity;
  message: string;
  timestamp?: string;
  [field: string]: unknown;
}

type LogConfig = Pick<Config, 'daemon'>;

const pad = (n: number) => String(n).padStart(2, '0');

/** Local time as `YYYY-MM-DD HH:MM:SS` (sep ' ') or `YYYY-MM-DDTHH:MM:SS` (sep 'T'). */
export function formatLocalTime(d: Date, sep: ' ' | 'T' = ' '): string {
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}${sep}` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/**
 * Formats one auto_fix.log line (with its newline). Newlines and control characters in the
 * message are escaped so that text copied from a watched log can never forge a log line.
 *
 * @example
 *   formatLogLine({ level: 'INFO', message: '修復アクション実行: service_restart' })
 *   // '2025-12-28 10:30:17 - AutoFixDaemon - [INFO] - 修復アクション実行: service_restart\n'
 */
export function formatLogLine(entry: LogEntry): string {
  // eslint-disable-next-line no-control-regex
  const msg = entry.message.replace(/\r?\n/g, '\\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `${formatLocalTime(entry.time ?? new Date())} - AutoFixDaemon - [${entry.level}] - ${msg}\n`;
}

/** The values of a detail line; undefined ones are left out. */
export type DetailFields = Record<string, string | number | boolean | undefined>;

/**
 * A detail line's message: two spaces, then `key=value` pairs (logfmt: a value with a space, a
 * quote, `=` or nothing in it is JSON-quoted), so scripts split it and people read it.
 *
 * @example formatDetails({ id: 'http_5xx', count: 3, file: '/srv/my logs/a.log' })
 *   // '  id=http_5xx count=3 file="/srv/my logs/a.log"'
 */
export function formatDetails(fields: DetailFields): string {
  const pairs = Object.entries(fields)
    .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
    .map(([k, v]) => {
      const text = String(v);
      return `${k}=${text === '' || /[\s"=\\]/.test(text) ? JSON.stringify(text) : text}`;
    });
  return `  ${pairs.join(' ')}`;
}

/**
 * One fact on its own line, its details on the next (same level): the seed's lines stay exactly
 * as documented (`エラー検出: HTTP 5xxエラー`) and what autofix adds never changes them.
 *
 * @example
 *   factLines('WARNING', 'エラー検出: HTTP 5xxエラー', { id: 'http_5xx', count: 1 })
 *   // [{ level: 'WARNING', message: 'エラー検出: HTTP 5xxエラー' }, { level: 'WARNING', message: '  id=http_5xx count=1' }]
 */
export function factLines(level: LogLevel, fact: string, details?: DetailFields): LogEntry[] {
  const out: LogEntry[] = [{ level, message: fact }];
  if (details && Object.values(details).some((v) => v !== undefined)) out.push({ level, message: formatDetails(details) });
  return out;
}

/**
 * JSON as Python's `json.dumps(v, ensure_ascii=False)` writes it: `", "` and `": "` separators at
 * every depth, non-ASCII kept; undefined object fields left out (as JSON.stringify does).
 */
function pythonJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : pythonJson(x))).join(', ')}]`;
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}: ${pythonJson(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * Formats one alerts.log line as the seed's Python `json.dumps` did (`", "` and `": "`
 * separators), timestamp first. Values are JSON-encoded, so a message cannot break the line.
 */
export function formatAlertLine(alert: AlertRecord, now: Date = new Date()): string {
  const { timestamp, severity, message, ...rest } = alert;
  const fields: Array<[string, unknown]> = [
    ['timestamp', timestamp ?? formatLocalTime(now, 'T')],
    ['severity', severity],
    ['message', message],
    ...Object.entries(rest).filter(([, v]) => v !== undefined),
  ];
  return `${pythonJson(Object.fromEntries(fields))}\n`;
}

/** The auto_fix.log path (`daemon.log_file`; `loadConfig` resolves its default `../logs/auto_fix.log`). */
export function autoFixLogPath(config: LogConfig): string {
  return config.daemon.log_file;
}

/** The alerts.log path (`daemon.alerts_file`, else next to auto_fix.log). */
export function alertsLogPath(config: LogConfig): string {
  return config.daemon.alerts_file ?? path.join(path.dirname(autoFixLogPath(config)), 'alerts.log');
}

/**
 * Appends entries to auto_fix.log in one write (rotating at `daemon.log_max_bytes`).
 *
 * @example
 *   await writeAutoFixLog(config, [{ level: 'WARNING', message: 'エラー検出: HTTP 5xxエラー' }]);
 */
export async function writeAutoFixLog(config: LogConfig, entries: LogEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await appendRotating(autoFixLogPath(config), entries.map(formatLogLine).join(''), config.daemon.log_max_bytes, config.daemon.log_keep);
}

/**
 * Appends one alert to alerts.log as a JSON line (rotating at `daemon.log_max_bytes`).
 *
 * @example
 *   await appendAlert(config, { severity: 'critical', message: 'Critical health check failures: database_connection' });
 */
export async function appendAlert(config: LogConfig, alert: AlertRecord): Promise<void> {
  await appendRotating(alertsLogPath(config), formatAlertLine(alert), config.daemon.log_max_bytes, config.daemon.log_keep);
}
