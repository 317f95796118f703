/**
 * auto_fix.log / alerts.log formats and rotation, channel selection and dedupe bookkeeping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { alertsLogPath, autoFixLogPath, formatAlertLine, formatLogLine, writeAutoFixLog, appendAlert } from '../../src/logging/auto-fix-log';
import { beginDelivery, dedupeFile, endDelivery, readDeliveryState, recordSent, takeDuePending } from '../../src/notify/dedupe';
import { selectChannels, severityAtLeast } from '../../src/notify';
import { webhookBody } from '../../src/notify/webhook';
import { makeConfig, tempDir } from '../integration/actions-proc-fixtures';

void test('auto_fix.log lines have the seed format exactly', () => {
  const t = new Date(2025, 11, 28, 10, 30, 15);
  assert.equal(formatLogLine({ level: 'INFO', message: '=== 検知サイクル 1 開始 ===', time: t }), '2025-12-28 10:30:15 - AutoFixDaemon - [INFO] - === 検知サイクル 1 開始 ===\n');
  assert.equal(formatLogLine({ level: 'CRITICAL', message: 'a\nb\u001b[31m', time: new Date(2025, 0, 2, 3, 4, 5) }), '2025-01-02 03:04:05 - AutoFixDaemon - [CRITICAL] - a\\nb\\x1b[31m\n');
});

void test('alerts.log lines are the seed JSON with incident fields after it', () => {
  const line = formatAlertLine({ severity: 'critical', message: 'Critical health check failures: database_connection', incident_id: 'i1', skip: undefined }, new Date(2025, 11, 28, 10, 30, 0));
  assert.equal(line, '{"timestamp": "2025-12-28T10:30:00", "severity": "critical", "message": "Critical health check failures: database_connection", "incident_id": "i1"}\n');
  assert.deepEqual(Object.keys(JSON.parse(line) as object), ['timestamp', 'severity', 'message', 'incident_id']);
});

void test('log files are created with their directory, appended, and rotated keeping log_keep', async () => {
  const dir = tempDir();
  const cfg = makeConfig(dir, { daemon: { log_max_bytes: 200, log_keep: 2 } });
  const file = autoFixLogPath(cfg);
  assert.equal(file, path.join(dir, 'logs', 'auto_fix.log'));
  for (let i = 0; i < 12; i++) await writeAutoFixLog(cfg, [{ level: 'INFO', message: `entry ${i} ${'x'.repeat(20)}` }]);
  assert.deepEqual(readdirSync(path.dirname(file)).sort(), ['auto_fix.log', 'auto_fix.log.1', 'auto_fix.log.2']);
  for (const f of ['auto_fix.log', 'auto_fix.log.1', 'auto_fix.log.2']) assert.ok(readFileSync(path.join(path.dirname(file), f)).length <= 200);
  assert.match(readFileSync(file, 'utf8'), /entry 11 /);
  assert.doesNotMatch(readFileSync(`${file}.2`, 'utf8'), /entry 0 /, 'the oldest rotation was dropped');

  await Promise.all(Array.from({ length: 20 }, (_, i) => appendAlert(cfg, { severity: 'error', message: `m${i}` })));
  const all = [alertsLogPath(cfg), `${alertsLogPath(cfg)}.1`, `${alertsLogPath(cfg)}.2`].flatMap((f) => {
    try {
      return readFileSync(f, 'utf8').trim().split('\n');
    } catch {
      return [];
    }
  });
  for (const l of all) assert.doesNotThrow(() => JSON.parse(l), `not a whole JSON line: ${l}`);
});

void test('delivery state: a channel counts as sent only once recorded; owed channels back off; a corrupt state file is ignored', async () => {
  const dir = tempDir();
  const alert = { severity: 'error' as const, message: 'm', dedupeKey: 'k' };
  assert.deepEqual([...(await beginDelivery(dir, 'k', alert, ['alerts', 'webhook']))], []);
  await recordSent(dir, 'k', 'alerts');
  // A crash here (webhook in flight): a second attempt owes only the webhook.
  assert.deepEqual([...(await beginDelivery(dir, 'k', alert, ['alerts', 'webhook']))], ['alerts']);
  await endDelivery(dir, 'k', new Map([['webhook', 'HTTP 500']]), []);
  const s = (await readDeliveryState(dir)).k!;
  assert.deepEqual(s.pending?.channels, ['webhook']);
  assert.equal(s.pending?.attempts, 1);
  assert.ok((s.pending?.nextAt ?? 0) > Date.now(), 'backed off');
  assert.deepEqual((await takeDuePending(dir, 10)).due, [], 'not due before its backoff');
  await recordSent(dir, 'k', 'webhook');
  assert.equal((await readDeliveryState(dir)).k?.pending, undefined);
  assert.deepEqual([...(await beginDelivery(dir, 'k', alert, ['alerts', 'webhook']))].sort(), ['alerts', 'webhook']);
  writeFileSync(dedupeFile(dir), '{not json');
  assert.deepEqual([...(await beginDelivery(dir, 'k', alert, ['alerts']))], []);
  // The older format (key → time reserved) counts as every channel sent.
  writeFileSync(dedupeFile(dir), JSON.stringify({ old: Date.now() }));
  assert.deepEqual([...(await beginDelivery(dir, 'old', { ...alert, dedupeKey: 'old' }, ['alerts', 'email']))].sort(), ['alerts', 'email']);
});

void test('a delivery in flight is leased: the retry loop does not take it, nor do two retriers take the same key', async () => {
  const dir = tempDir();
  const alert = { severity: 'error' as const, message: 'm', dedupeKey: 'k' };
  await beginDelivery(dir, 'k', alert, ['alerts', 'webhook'], 60_000);
  assert.deepEqual((await takeDuePending(dir, 10)).due, [], 'being sent right now: not due');
  // A crash mid-delivery: owed, and due once the lease has passed.
  const state = JSON.parse(readFileSync(dedupeFile(dir), 'utf8')) as Record<string, { pending: { nextAt: number } }>;
  state.k!.pending.nextAt = Date.now() - 1;
  writeFileSync(dedupeFile(dir), JSON.stringify(state));
  const [first, second] = await Promise.all([takeDuePending(dir, 10, 60_000), takeDuePending(dir, 10, 60_000)]);
  assert.deepEqual([first.due.length, second.due.length].sort(), [0, 1], 'one retrier takes it');
  assert.deepEqual((await takeDuePending(dir, 10)).due, [], 'leased to that retrier');
  assert.deepEqual((await readDeliveryState(dir)).k?.pending?.channels, ['alerts', 'webhook'], 'still owed until sent');
});

void test('channel selection honours enable_notifications, the channel list and min_severity', () => {
  assert.equal(severityAtLeast('critical', 'error'), true);
  assert.equal(severityAtLeast('warning', 'error'), false);
  const cfg = makeConfig(tempDir(), { auto_fix_config: { notification_channels: ['webhook', 'alerts', 'log'] }, notifications: { min_severity: 'error' } });
  assert.deepEqual(selectChannels(cfg, { severity: 'error', message: 'm' }).run, ['alerts', 'webhook', 'log']);
  const low = selectChannels(cfg, { severity: 'warning', message: 'm' });
  assert.deepEqual(low.run, ['alerts']);
  assert.match(low.skipped[0]?.reason ?? '', /below notifications.min_severity error/);
});

void test('the webhook body is Slack-compatible and structured', () => {
  const b = webhookBody({ severity: 'error', message: 'HTTP 5xx', patternId: 'http_5xx' }, 'web1', new Date('2025-12-28T01:30:00Z'));
  assert.equal(b.text, '[autofix][ERROR] web1: HTTP 5xx');
  assert.equal(b.pattern_id, 'http_5xx');
  assert.equal(b.timestamp, '2025-12-28T01:30:00.000Z');
});
