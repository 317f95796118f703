/**
 * Sends an alert to the configured channels. Never throws: a failing channel is reported in the
 * result and logged to auto_fix.log, and the other channels still run.
 *
 * Rules (decided here, documented for operators):
 * - `alerts` (alerts.log) is the durable record: every alert that is not a duplicate is written
 *   there, whatever `enable_notifications`, `notification_channels` and `min_severity` say.
 * - `log`, `email`, `webhook` run only when `auto_fix_config.enable_notifications` is true, the
 *   channel is listed in `notification_channels`, and the severity reaches `notifications.min_severity`.
 * - Delivery is at-least-once PER CHANNEL (dedupe.ts): the alert is recorded as owed before it is
 *   sent, each channel as sent only after it succeeded. A call with the same `dedupeKey` sends only
 *   the channels still owed (none: `deduplicated: true`), so a retry after a crash or a failing
 *   channel resends what is missing and nothing else; the detection loop retries owed channels with
 *   a backoff (`retryPendingAlerts`). An alert without a key gets one of its own (so it can still
 *   be retried), and is never deduplicated.
 * - The local channels (alerts.log, auto_fix.log) go first, one after the other; then email and
 *   webhook in parallel.
 */
import type { Config, Severity } from '../config/schema';
import { SEVERITIES } from '../config/schema';
import { appendAlert, writeAutoFixLog, type LogLevel } from '../logging/auto-fix-log';
import { randomUUID } from 'node:crypto';
import { DEFAULT_LEASE_MS, beginDelivery, endDelivery, recordSent, takeDuePending } from './dedupe';
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
 * How long a delivery may hold its key before the retry loop may take it (dedupe.ts): longer
 * than the channels can take (email's timeouts are well under the default; a webhook's is configured).
 */
function deliveryLeaseMs(config: NotifyConfig): number {
  return DEFAULT_LEASE_MS + (config.notifications.webhook?.timeout_seconds ?? 0) * 1000;
}

/** Channels that write files here go first: they are the durable record. */
const LOCAL: ReadonlySet<ChannelName> = new Set(['alerts', 'log']);

/**
 * Notifies about `alert` on every applicable channel that does not have it yet. Never throws:
 * a channel's failure is in the result (`failed`), stays owed, and is retried.
 *
 * @example
 *   const r = await sendNotification(config, { severity: 'critical', message: 'PostgreSQL is down', dedupeKey: incidentId });
 *   // r.channels: [{ channel: 'alerts', status: 'sent' }, { channel: 'email', status: 'failed', reason: '...' }]
 */
export async function sendNotification(config: NotifyConfig, alert: NotificationAlert): Promise<NotificationResult> {
  const { run, skipped } = selectChannels(config, alert);
  const key = alert.dedupeKey ?? `once-${randomUUID()}`;
  let done = new Set<ChannelName>();
  try {
    done = await beginDelivery(config.daemon.data_dir, key, alert, run, deliveryLeaseMs(config));
  } catch (e) {
    // Without the state file we cannot tell; a duplicate is better than a lost alert.
    await logQuietly(config, 'WARNING', `alert delivery state unavailable (${(e as Error).message}); sending anyway`);
  }
  const owed = run.filter((c) => !done.has(c));
  if (owed.length === 0) return { deduplicated: true, channels: [] };
  const results = await deliverOwed(config, key, alert, owed);
  const already: ChannelResult[] = [...done].map((channel) => ({ channel, status: 'sent', reason: 'already sent' }));
  const failed = results.filter((r) => r.status === 'failed');
  return { deduplicated: false, channels: [...already, ...results, ...skipped], ...(failed.length > 0 ? { failed: failed.map((f) => f.channel) } : {}) };
}

/** Sends `alert` on `owed` (local channels first), recording each success as it happens. */
async function deliverOwed(config: NotifyConfig, key: string, alert: NotificationAlert, owed: readonly ChannelName[]): Promise<ChannelResult[]> {
  const dataDir = config.daemon.data_dir;
  const one = async (c: ChannelName): Promise<ChannelResult> => {
    const r = await deliver(config, c, alert);
    if (r.status === 'sent') await recordSent(dataDir, key, c).catch(() => undefined); // unrecorded: sent again, never lost
    return r;
  };
  const results: ChannelResult[] = [];
  for (const c of owed.filter((x) => LOCAL.has(x))) results.push(await one(c));
  results.push(...(await Promise.all(owed.filter((x) => !LOCAL.has(x)).map(one))));
  const failed = new Map(results.filter((r) => r.status === 'failed').map((r) => [r.channel, r.reason ?? 'unknown error'] as const));
  for (const [c, why] of failed) await logQuietly(config, 'ERROR', `通知失敗 (${c}): ${why}`);
  const dropped = results.filter((r) => r.status === 'skipped').map((r) => r.channel);
  await endDelivery(dataDir, key, failed, dropped).catch(() => undefined);
  return results;
}

/**
 * Sends the channels still owed of earlier alerts whose backoff has passed (at most `limit`),
 * and reports, once, the alerts given up after the TTL. Called by the detection loop.
 *
 * @example await retryPendingAlerts(cfg) // { retried: 1, delivered: 1 }
 */
export async function retryPendingAlerts(config: NotifyConfig, limit = 10): Promise<{ retried: number; delivered: number; expired: number }> {
  const { due, expired } = await takeDuePending(config.daemon.data_dir, limit, deliveryLeaseMs(config));
  let delivered = 0;
  for (const { key, pending } of due) {
    const wanted = new Set(selectChannels(config, pending.alert).run);
    const owed = pending.channels.filter((c) => wanted.has(c));
    const dropped = pending.channels.filter((c) => !wanted.has(c));
    if (dropped.length > 0) await endDelivery(config.daemon.data_dir, key, new Map(), dropped);
    if (owed.length === 0) continue;
    const results = await deliverOwed(config, key, pending.alert, owed);
    if (results.every((r) => r.status !== 'failed')) delivered++;
  }
  for (const { pending } of expired) {
    await logQuietly(config, 'ERROR', `通知を断念しました (${pending.channels.join(', ')}; ${pending.attempts} attempts; ${pending.lastError ?? ''}): ${pending.alert.message}`);
  }
  return { retried: due.length, delivered, expired: expired.length };
}

/** Writes to auto_fix.log, falling back to stderr: reporting a failure must not fail. */
async function logQuietly(config: NotifyConfig, level: LogLevel, message: string): Promise<void> {
  try {
    await writeAutoFixLog(config, [{ level, message }]);
  } catch (e) {
    console.error(`autofix: ${message} (and auto_fix.log is not writable: ${(e as Error).message})`);
  }
}
