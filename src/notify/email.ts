/** The email channel: one message over SMTP (nodemailer) to `notifications.email.to`. */
import type { Config } from '../config/schema';
import { formatBody, formatSubject } from './format';
import type { NotificationAlert } from './types';

export type EmailConfig = NonNullable<Config['notifications']['email']>;

/**
 * Sends `alert` by email; rejects with the SMTP error when the server refuses or is unreachable.
 * Timeouts are short so a dead mail server cannot hold up the activity.
 *
 * @example
 *   await sendEmail({ host: 'mail', port: 25, secure: false, from: 'autofix@x', to: ['ops@x'] }, alert);
 */
export async function sendEmail(cfg: EmailConfig, alert: NotificationAlert): Promise<string> {
  // Loaded on first use: most workers never send mail, and it weighs on their memory.
  const nodemailer = (await import('nodemailer')).default;
  const transport = nodemailer.createTransport({
    host: cfg.host,
    port: cfg.port,
    secure: cfg.secure,
    auth: cfg.user ? { user: cfg.user, pass: cfg.pass ?? '' } : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  try {
    const info = await transport.sendMail({
      from: cfg.from,
      to: cfg.to.join(', '),
      subject: formatSubject(alert),
      text: formatBody(alert),
    });
    return String(info.messageId ?? '');
  } finally {
    transport.close();
  }
}
