/**
 * The webhook channel: a JSON POST whose `text` field makes it a valid Slack/Mattermost
 * incoming-webhook body, with the alert's structured fields alongside for other receivers.
 */
import os from 'node:os';
import type { Config } from '../config/schema';
import { formatSubject } from './format';
import type { NotificationAlert } from './types';

export type WebhookConfig = NonNullable<Config['notifications']['webhook']>;

/** The JSON body posted for `alert`. */
export function webhookBody(alert: NotificationAlert, host = os.hostname(), time = new Date()): Record<string, unknown> {
  return {
    text: formatSubject(alert, host),
    severity: alert.severity,
    message: alert.message,
    host,
    timestamp: time.toISOString(),
    incident_id: alert.incidentId,
    pattern_id: alert.patternId,
    details: alert.details,
  };
}

/**
 * POSTs `alert` to the webhook; rejects on a network error, a timeout or a non-2xx answer.
 *
 * @example
 *   await sendWebhook({ url: 'https://hooks.slack.com/...', headers: {}, timeout_seconds: 5 }, alert);
 */
export async function sendWebhook(cfg: WebhookConfig, alert: NotificationAlert): Promise<number> {
  // Set from `url` or `url_env` at load (the schema requires one of them).
  const url = cfg.url ?? '';
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...cfg.headers },
    body: JSON.stringify(webhookBody(alert)),
    signal: AbortSignal.timeout(cfg.timeout_seconds * 1000),
  });
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new Error(`webhook ${new URL(url).host} answered ${res.status}: ${text.slice(0, 200)}`);
  return res.status;
}
