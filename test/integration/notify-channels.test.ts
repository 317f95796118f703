/**
 * sendNotification with real receivers: an SMTP server (smtp-server) and an HTTP webhook
 * receiver, both started here on free ports; a dead SMTP port; deduplication.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { retryPendingAlerts, sendNotification } from '../../src/notify';
import { alertsLogPath, autoFixLogPath } from '../../src/logging/auto-fix-log';
import { dedupeFile, readDeliveryState } from '../../src/notify/dedupe';
import { freePort, makeConfig, tempDir } from './actions-proc-fixtures';

const mails: Array<{ from: string; to: string[]; raw: string }> = [];
const hooks: Array<{ headers: http.IncomingHttpHeaders; body: Record<string, unknown> }> = [];
let smtp: SMTPServer;
let smtpPort = 0;
let hookServer: http.Server;
let hookUrl = '';

before(async () => {
  smtpPort = await freePort();
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString()));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw });
        cb();
      });
    },
  });
  await new Promise<void>((res) => smtp.listen(smtpPort, '127.0.0.1', res));
  hookServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body: JSON.parse(body) as Record<string, unknown> });
      res.end('ok');
    });
  });
  await new Promise<void>((res) => hookServer.listen(0, '127.0.0.1', res));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
});

after(async () => {
  await new Promise<void>((res) => smtp.close(res));
  await new Promise<void>((res) => hookServer.close(() => res()));
});

function config(dir: string, port = smtpPort, extra: Record<string, unknown> = {}) {
  return makeConfig(dir, {
    auto_fix_config: { notification_channels: ['log', 'email', 'webhook'] },
    notifications: {
      email: { host: '127.0.0.1', port, from: 'autofix@example.test', to: ['ops@example.test'] },
      webhook: { url: hookUrl, headers: { 'x-autofix-token': 't0k' } },
    },
    ...extra,
  });
}

void test('an alert reaches SMTP, the webhook, auto_fix.log and alerts.log', async () => {
  const dir = tempDir();
  const cfg = config(dir);
  const r = await sendNotification(cfg, { severity: 'critical', message: 'PostgreSQL is down', incidentId: 'inc-1', patternId: 'db_connection', details: { port: 5432 } });
  assert.equal(r.deduplicated, false);
  assert.deepEqual(r.channels.map((c) => [c.channel, c.status]).sort(), [['alerts', 'sent'], ['email', 'sent'], ['log', 'sent'], ['webhook', 'sent']]);

  const mail = mails.at(-1);
  assert.ok(mail);
  assert.equal(mail.from, 'autofix@example.test');
  assert.deepEqual(mail.to, ['ops@example.test']);
  assert.match(mail.raw, /^Subject: \[autofix\]\[CRITICAL\] .+: PostgreSQL is down\r?$/m);
  assert.match(mail.raw, /severity: critical/);
  assert.match(mail.raw, /incident: inc-1/);

  const hook = hooks.at(-1);
  assert.equal(hook?.headers['x-autofix-token'], 't0k');
  assert.match(String(hook?.body.text), /\[autofix\]\[CRITICAL\] .*PostgreSQL is down/);
  assert.equal(hook?.body.severity, 'critical');
  assert.equal(hook?.body.pattern_id, 'db_connection');
  assert.deepEqual(hook?.body.details, { port: 5432 });

  assert.match(readFileSync(autoFixLogPath(cfg), 'utf8'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - AutoFixDaemon - \[CRITICAL\] - アラート: PostgreSQL is down\n$/);
  const alert = JSON.parse(readFileSync(alertsLogPath(cfg), 'utf8')) as Record<string, unknown>;
  assert.equal(alert.severity, 'critical');
  assert.equal(alert.message, 'PostgreSQL is down');
  assert.equal(alert.incident_id, 'inc-1');
});

void test('a dead SMTP port fails only the email channel; nothing throws and the failure is logged', async () => {
  const dir = tempDir();
  const cfg = config(dir, await freePort());
  const before = hooks.length;
  const r = await sendNotification(cfg, { severity: 'error', message: 'redis unreachable' });
  const byChannel = Object.fromEntries(r.channels.map((c) => [c.channel, c]));
  assert.equal(byChannel.email?.status, 'failed');
  assert.match(byChannel.email?.reason ?? '', /ECONNREFUSED/);
  assert.equal(byChannel.webhook?.status, 'sent');
  assert.equal(byChannel.alerts?.status, 'sent');
  assert.equal(hooks.length, before + 1);
  assert.match(readFileSync(autoFixLogPath(cfg), 'utf8'), /\[ERROR\] - 通知失敗 \(email\): .*ECONNREFUSED/);
});

void test('the same dedupeKey sends once, even across calls', async () => {
  const dir = tempDir();
  const cfg = config(dir);
  const mailsBefore = mails.length;
  const hooksBefore = hooks.length;
  const first = await sendNotification(cfg, { severity: 'error', message: 'disk full', dedupeKey: 'inc-42' });
  const second = await sendNotification(cfg, { severity: 'error', message: 'disk full', dedupeKey: 'inc-42' });
  assert.equal(first.deduplicated, false);
  assert.equal(second.deduplicated, true);
  assert.equal(mails.length, mailsBefore + 1);
  assert.equal(hooks.length, hooksBefore + 1);
  assert.equal(readFileSync(alertsLogPath(cfg), 'utf8').trim().split('\n').length, 1);
  assert.ok(existsSync(dedupeFile(dir)));
});

void test('at-least-once per channel: a failing webhook is retried alone, never the channels that got it', async () => {
  let failing = true;
  const got: string[] = [];
  const flaky = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      got.push(failing ? 'refused' : 'ok');
      res.statusCode = failing ? 500 : 200;
      res.end(failing ? 'down' : 'ok');
    });
  });
  await new Promise<void>((res) => flaky.listen(0, '127.0.0.1', res));
  try {
    const dir = tempDir();
    const cfg = config(dir, smtpPort, { notifications: { webhook: { url: `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/` }, email: { host: '127.0.0.1', port: smtpPort, to: ['ops@example.test'] } } });
    const mailsBefore = mails.length;
    const alert = { severity: 'error' as const, message: 'queue stuck', dedupeKey: 'inc-flaky' };
    const first = await sendNotification(cfg, alert);
    assert.deepEqual(first.failed, ['webhook']);
    assert.equal(mails.length, mailsBefore + 1);
    // The activity's retry: only the webhook is owed.
    const retry = await sendNotification(cfg, alert);
    assert.deepEqual(retry.failed, ['webhook']);
    assert.deepEqual(retry.channels.filter((c) => c.reason === 'already sent').map((c) => c.channel).sort(), ['alerts', 'email', 'log']);
    assert.equal(mails.length, mailsBefore + 1, 'email not sent twice');
    assert.equal(readFileSync(alertsLogPath(cfg), 'utf8').trim().split('\n').length, 1, 'alerts.log written once');
    // The detection loop retries what is owed once its backoff has passed.
    failing = false;
    const state = JSON.parse(readFileSync(dedupeFile(dir), 'utf8')) as Record<string, { pending?: { nextAt: number } }>;
    state['inc-flaky']!.pending!.nextAt = Date.now() - 1; // as if the backoff had passed
    writeFileSync(dedupeFile(dir), JSON.stringify(state));
    const drained = await retryPendingAlerts(cfg);
    assert.deepEqual(drained, { retried: 1, delivered: 1, expired: 0 });
    assert.deepEqual(got, ['refused', 'refused', 'ok']);
    assert.equal((await sendNotification(cfg, alert)).deduplicated, true);
    assert.equal(got.length, 3);
  } finally {
    await new Promise<void>((res) => flaky.close(() => res()));
  }
});

void test('a slow channel is not sent twice by the retry loop running meanwhile', async () => {
  const got: number[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const slow = http.createServer((req, res) => {
    req.resume();
    got.push(Date.now());
    void held.then(() => res.end('ok'));
  });
  await new Promise<void>((res) => slow.listen(0, '127.0.0.1', res));
  try {
    const dir = tempDir();
    const cfg = config(dir, smtpPort, { notifications: { webhook: { url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/` } } });
    const sending = sendNotification(cfg, { severity: 'error', message: 'disk full', dedupeKey: 'inc-slow' });
    while (got.length === 0) await new Promise((r) => setTimeout(r, 10));
    // The detection loop's housekeeping runs while the webhook is in flight.
    assert.deepEqual(await retryPendingAlerts(cfg), { retried: 0, delivered: 0, expired: 0 });
    release();
    assert.equal((await sending).failed, undefined);
    assert.equal(got.length, 1, 'the webhook got it once');
    assert.equal(readFileSync(alertsLogPath(cfg), 'utf8').trim().split('\n').length, 1, 'alerts.log written once');
    assert.equal((await readDeliveryState(dir))['inc-slow']?.pending, undefined, 'nothing owed');
  } finally {
    await new Promise<void>((res) => slow.close(() => res()));
  }
});

void test('disabled notifications and min_severity still write alerts.log but nothing else', async () => {
  const dir = tempDir();
  const cfg = config(dir, smtpPort, { notifications: { email: { host: '127.0.0.1', port: smtpPort, to: ['ops@example.test'] }, min_severity: 'critical' } });
  const mailsBefore = mails.length;
  const r = await sendNotification(cfg, { severity: 'warning', message: 'slow response' });
  assert.deepEqual(r.channels.map((c) => [c.channel, c.status]), [['alerts', 'sent'], ['log', 'skipped'], ['email', 'skipped'], ['webhook', 'skipped']]);
  assert.equal(mails.length, mailsBefore);
  assert.match(readFileSync(alertsLogPath(cfg), 'utf8'), /"message": "slow response"/);
  assert.equal(existsSync(autoFixLogPath(cfg)), false);

  const off = makeConfig(tempDir(), { auto_fix_config: { enable_notifications: false } });
  const r2 = await sendNotification(off, { severity: 'critical', message: 'x' });
  assert.deepEqual(r2.channels.map((c) => `${c.channel}:${c.status}`), ['alerts:sent', 'log:skipped', 'email:skipped']);
});
