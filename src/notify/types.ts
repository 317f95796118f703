/** Shapes shared by the notification channels. Plain JSON: they travel through Temporal payloads. */
import type { Severity } from '../config/schema';

/** Notification channels (`auto_fix_config.notification_channels`). */
export type ChannelName = 'log' | 'alerts' | 'email' | 'webhook';

/** What is being notified. */
export interface NotificationAlert {
  severity: Severity;
  message: string;
  incidentId?: string;
  patternId?: string;
  /** Alerts with the same key are sent once per channel (see dedupe.ts). */
  dedupeKey?: string;
  details?: Record<string, unknown>;
}

/** The outcome of one channel. A skipped channel was not attempted (`reason` says why). */
export interface ChannelResult {
  channel: ChannelName;
  status: 'sent' | 'failed' | 'skipped';
  reason?: string;
}

/** The outcome of `sendNotification`: one entry per channel considered. */
export interface NotificationResult {
  /** True when the alert was a duplicate of an earlier one and nothing was sent. */
  deduplicated: boolean;
  channels: ChannelResult[];
  /** Channels that failed this time: still owed, retried (see dedupe.ts). */
  failed?: ChannelName[];
}
