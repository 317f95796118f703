/**
 * Sends an alert to the configured channels. Never throws: a failing channel is reported in the
 * result and logged to auto_fix.log, and the other channels still run.
 *
 * Rules (decided here, documented for operators):
 * - `alerts` (alerts.log) is the durable record: every alert that is not a duplicate is written
 *   there, whatever `enable_notifications`, `notification_channels` and `min_severity` say.
 * - `log`, `email`, `webhook` run only when `auto_fix_config.enable_notifications` is true, the
 *   channel is listed in `notification_channels`, and the severity reaches `notifications.min_severity`.
 * - An alert with a `dedupeKey` is sent once per key (within DEDUPE_TTL_MS); a duplicate is
 *   written nowhere and returns `deduplicated: true`. If nothing at all could be sent the key is
 *   released so a retry may try again.
 */
import type { Config, Severity } from '../../config/schema';
import { SEVERITIES } from '../../config/schema';
import { appendAlert, writeAutoFixLog, type LogLevel } from '../logging/auto-fix-log';
import { releaseKey, reserveKey } from './dedupe';
import { sendEmail } from './email';
import { sendWebhook } from './webhook';
import type { ChannelName, ChannelResult, NotificationAlert, NotificationResult } from './types';

export type { ChannelName, ChannelResult, NotificationAlert, NotificationResult } from './types';
export { DEDUPE_TTL_MS } from './dedupe';

type NotifyConfig = Pick<Config, 'daemon' | 'auto_fix_config' | 'notifications'>;

const LEVEL: Record<Severity, LogLevel> = { warning: 'WARNING', error: 'ERROR', critical: 'CRITICAL' };

/** True when `s` is at least `min` (warning < error < critical). */
export function severityAtLeast(s: Severity, min: Severity): boolean {
  return SEVERITIES.indexOf(s) >= SEVERITIES.indexOf(min);
}

async function deliver(config: NotifyConfig, channel: ChannelName, alert: NotificationAlert): Promise<ChannelResult> {
  const n = config.notifications;
  try {
    switch (channel) {
      case 'alerts':
        await appendAlert(config, {
          severity: alert.severity,
          message: alert.message,
          incident_id: alert.incidentId,
          pattern_id: alert.patternId,
          details: alert.details,
        });
        return { channel, status: 'sent' };
      case 'log':
        await writeAutoFixLog(config, [{ level: LEVEL[alert.severity], message: `アラート: ${alert.message}` }]);
        return { channel, status: 'sent' };
      case 'email':
        if (!n.email) return { channel, status: 'skipped', reason: 'notifications.email is not configured' };
        return { channel, status: 'sent', reason: `message ${await sendEmail(n.email, alert)}` };
      case 'webhook':
        if (!n.webhook) return { channel, status: 'skipped', reason: 'notifications.webhook is not configured' };
        return { channel, status: 'sent', reason: `HTTP ${await sendWebhook(n.webhook, alert)}` };
    }
  } catch (e) {
    return { channel, status: 'failed', reason: (e as Error).message };
  }
}

/** Which channels run for `alert`, and why the others are skipped. */
export function selectChannels(config: NotifyConfig, alert: NotificationAlert): { run: ChannelName[]; skipped: ChannelResult[] } {
  const afc = config.auto_fix_config;
  const run: ChannelName[] = ['alerts'];
  const skipped: ChannelResult[] = [];
  for (const channel of new Set(afc.notification_channels)) {
    if (channel === 'alerts') continue;
    if (!afc.enable_notifications) skipped.push({ channel, status: 'skipped', reason: 'auto_fix_config.enable_notifications is false' });
    else if (!severityAtLeast(alert.severity, config.notifications.min_severity))
      skipped.push({ channel, status: 'skipped', reason: `severity ${alert.severity} is below notifications.min_severity ${config.notifications.min_severity}` });
    else run.push(channel);
  }
  return { run, skipped };
}

/**
 * Notifies about `alert` on every applicable channel, in parallel. Never throws.
 *
 * @example
 *   const r = await sendNotification(config, { severity: 'critical', message: 'PostgreSQL is down', dedupeKey: incidentId });
 *   // r.channels: [{ channel: 'alerts', status: 'sent' }, { channel: 'email', status: 'failed', reason: '...' }]
 */
export async function sendNotification(config: NotifyConfig, alert: NotificationAlert): Promise<NotificationResult> {
  const key = alert.dedupeKey;
  if (key) {
    let fresh = true;
    try {
      fresh = await reserveKey(config.daemon.data_dir, key);
    } catch (e) {
      // Without the state file we cannot tell; a duplicate is better than a lost alert.
      await logQuietly(config, 'WARNING', `alert dedupe state unavailable (${(e as Error).message}); sending anyway`);
    }
    if (!fresh) return { deduplicated: true, channels: [] };
  }
  const { run, skipped } = selectChannels(config, alert);
  const results = await Promise.all(run.map((c) => deliver(config, c, alert)));
  const failed = results.filter((r) => r.status === 'failed');
  for (const f of failed) await logQuietly(config, 'ERROR', `通知失敗 (${f.channel}): ${f.reason ?? 'unknown error'}`);
  if (key && !results.some((r) => r.status === 'sent')) await releaseKey(config.daemon.data_dir, key).catch(() => undefined);
  return { deduplicated: false, channels: [...results, ...skipped] };
}

/** Writes to auto_fix.log, falling back to stderr: reporting a failure must not fail. */
async function logQuietly(config: NotifyConfig, level: LogLevel, message: string): Promise<void> {
  try {
    await writeAutoFixLog(config, [{ level, message }]);
  } catch (e) {
    console.error(`autofix: ${message} (and auto_fix.log is not writable: ${(e as Error).message})`);
  }
}
