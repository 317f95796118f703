/** Human-readable renderings of an alert for email and chat. */
import os from 'node:os';
import type { NotificationAlert } from './types';

/** One-line subject: `[autofix][CRITICAL] host: message` (cut to 200 characters). */
export function formatSubject(alert: NotificationAlert, host = os.hostname()): string {
  const s = `[autofix][${alert.severity.toUpperCase()}] ${host}: ${alert.message.replace(/\s+/g, ' ')}`;
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}

/** Plain-text body listing the alert's fields and details. */
export function formatBody(alert: NotificationAlert, host = os.hostname(), time = new Date()): string {
  const lines = [
    alert.message,
    '',
    `severity: ${alert.severity}`,
    `host:     ${host}`,
    `time:     ${time.toISOString()}`,
  ];
  if (alert.patternId) lines.push(`pattern:  ${alert.patternId}`);
  if (alert.incidentId) lines.push(`incident: ${alert.incidentId}`);
  if (alert.details && Object.keys(alert.details).length > 0) lines.push('', 'details:', JSON.stringify(alert.details, null, 2));
  return lines.join('\n') + '\n';
}
