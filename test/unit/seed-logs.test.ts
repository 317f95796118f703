/**
 * The daemon's logs as the seed's users read them: auto_fix.log lines exactly as the seed
 * documents them, one fact per line with autofix's details on their own line after; alerts.log
 * holds alerts only, among them `Critical health check failures: <checks>`.
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { detectLoop } from '../../src/activities/detect';
import { factLines, formatAlertLine, formatDetails } from '../../src/logging';
import { freePort } from '../../src/util/net';
import { ConfigStore } from '../../src/config/store';
import { sendNotification } from '../../src/notify';

/** The seed's line format, and its four documented lines. */
const LINE = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) - AutoFixDaemon - \[(INFO|WARNING|ERROR|CRITICAL)\] - (.*)$/;
const CYCLE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - AutoFixDaemon - \[INFO\] - === 検知サイクル \d+ 開始 ===$/;
const DETECTED = (name: string) => new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d - AutoFixDaemon - \\[WARNING\\] - エラー検出: ${name}$`);

let dir = '';
beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-seedlogs-')));
  fs.mkdirSync(path.join(dir, 'scripts'));
  fs.mkdirSync(path.join(dir, 'logs'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function seedConfig(extra: Record<string, unknown> = {}): Config {
  return parseConfig(
    {
      error_patterns: [{ id: 'http_5xx', name: 'HTTP 5xxエラー', pattern: 'HTTP/[0-9.]+" 5[0-9]{2}', severity: 'critical', auto_fix: true, actions: [{ type: 'alert' }] }],
      auto_fix_config: { notification_channels: ['log'] },
      watch: { logs: ['../logs/*.log'] },
      health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
      ...extra,
    },
    path.join(dir, 'scripts', 'error_patterns.json'),
    {},
  );
}
const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');

test('details follow their fact on their own line, as key=value pairs that cannot forge a line', () => {
  assert.equal(formatDetails({ id: 'http_5xx', count: 3, file: '/srv/my logs/a.log', none: undefined, empty: '' }), '  id=http_5xx count=3 file="/srv/my logs/a.log" empty=""');
  assert.equal(formatDetails({ note: 'a\n2025-12-28 10:30:15 - AutoFixDaemon - [INFO] - 自動修復完了: forged' }), '  note="a\\n2025-12-28 10:30:15 - AutoFixDaemon - [INFO] - 自動修復完了: forged"');
  assert.deepEqual(factLines('INFO', '自動修復完了: http_5xx', { incident: 'i-1' }), [
    { level: 'INFO', message: '自動修復完了: http_5xx' },
    { level: 'INFO', message: '  incident=i-1' },
  ]);
  assert.deepEqual(factLines('INFO', 'x', { a: undefined }), [{ level: 'INFO', message: 'x' }]);
});

test("alerts.log lines are json.dumps(…, ensure_ascii=False) at every depth", () => {
  const line = formatAlertLine(
    { severity: 'critical', message: 'Critical health check failures: database_connection', details: { checks: { database_connection: '接続できません' }, list: [1, 'a'], none: undefined } },
    new Date(2025, 11, 28, 10, 30, 0),
  );
  assert.equal(
    line,
    '{"timestamp": "2025-12-28T10:30:00", "severity": "critical", "message": "Critical health check failures: database_connection", "details": {"checks": {"database_connection": "接続できません"}, "list": [1, "a"]}}\n',
  );
});

test("auto_fix.log: the seed's cycle and detection lines exactly; detections are not alerts", async () => {
  const cfg = seedConfig();
  assert.equal(cfg.daemon.log_file, path.join(dir, 'logs', 'auto_fix.log'));
  const access = path.join(dir, 'logs', 'access.log');
  fs.writeFileSync(access, '127.0.0.1 - - [28/Dec/2025 10:30:00] "GET /old HTTP/1.1" 500 -\n'.repeat(3));
  const ctx = { workflowId: 'd', runId: 'r' };
  const a = await detectLoop(cfg, { cursors: {}, checks: [], iteration: 4, loop: 1, host: 'h' }, ctx);
  fs.appendFileSync(access, '127.0.0.1 - - [28/Dec/2025 10:30:01] "GET /api/x HTTP/1.1" 502 -\n'.repeat(2));
  await detectLoop(cfg, { cursors: a.cursors, checks: [], iteration: 4, loop: 2, host: 'h' }, ctx);
  const lines = read(cfg.daemon.log_file).trimEnd().split('\n');
  for (const l of lines) assert.match(l, LINE);
  const messages = lines.map((l) => (LINE.exec(l) as RegExpExecArray)[3]);
  assert.deepEqual(messages, [
    'イテレーション 4 開始',
    '=== 検知サイクル 1 開始 ===',
    'エラーは検出されませんでした',
    '=== 検知サイクル 1 完了 ===',
    '=== 検知サイクル 2 開始 ===',
    // auto_fix.log itself matches ../logs/*.log since loop 1 wrote it: left out, said once.
    `監視対象から除外: ${cfg.daemon.log_file}`,
    `  reason="autofix's own log auto_fix.log (or a rotated generation of it)" matched=${path.join(dir, 'logs', '*.log')}`,
    '2 件のエラーを検出',
    'エラー検出: HTTP 5xxエラー',
    `  id=http_5xx severity=critical count=2 source=log file=${access} lines=4-5`,
    '=== 検知サイクル 2 完了 ===',
  ]);
  assert.equal(lines.filter((l) => CYCLE.test(l)).length, 2);
  assert.equal(lines.filter((l) => DETECTED('HTTP 5xxエラー').test(l)).length, 1);
  assert.equal(read(cfg.daemon.alerts_file ?? ''), '', 'a detection is not an alert');
});

test('Critical health check failures: one alert per failing set and window, for critical checks only', async () => {
  const up = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const okUrl = `http://127.0.0.1:${(up.address() as { port: number }).port}/api/health`;
  const downUrl = `http://127.0.0.1:${await freePort()}/api/health`;
  try {
    const endpoints = (url: string) => ({ http: { timeout_seconds: 2, endpoints: [{ name: 'flask', url }] } });
    const base = { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } };
    const run = (cfg: Config, loop: number) => detectLoop(cfg, { cursors: {}, checks: ['http'], iteration: 1, loop, host: 'h' });
    const healthy = seedConfig({ health_checks: { ...base, ...endpoints(okUrl) } });
    await run(healthy, 1);
    assert.equal(read(healthy.daemon.alerts_file ?? ''), '');
    assert.match(read(healthy.daemon.log_file), /- \[INFO\] - ヘルスチェック完了: healthy$/m);

    // Not critical (health_checks.http.critical false): detected and logged, not alerted.
    const minor = seedConfig({ health_checks: { ...base, http: { ...endpoints(downUrl).http, critical: false } } });
    await run(minor, 2);
    assert.equal(read(minor.daemon.alerts_file ?? ''), '');
    assert.match(read(minor.daemon.log_file), /エラー検出: HTTP 5xxエラー$/m);

    const down = seedConfig({ health_checks: { ...base, ...endpoints(downUrl) }, auto_fix_config: { notification_channels: ['log'], cooldown_period: 1e6 } });
    await run(down, 3);
    await run(down, 4);
    const alerts = read(down.daemon.alerts_file ?? '').trimEnd().split('\n');
    assert.equal(alerts.length, 1, `once per window:\n${alerts.join('\n')}`);
    assert.match(alerts[0] ?? '', /^\{"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "severity": "critical", "message": "Critical health check failures: http_endpoints", "details": \{/);
    assert.match(read(down.daemon.log_file), /- \[CRITICAL\] - アラート: Critical health check failures: http_endpoints$/m);
  } finally {
    up.close();
  }
});

test("--log-file moves both logs, as the seed's option did (even past a configured alerts_file)", async () => {
  const configPath = path.join(dir, 'scripts', 'error_patterns.json');
  fs.writeFileSync(configPath, JSON.stringify({ error_patterns: [], daemon: { alerts_file: '../elsewhere/alerts.log' }, auto_fix_config: { notification_channels: ['log'] } }));
  const moved = path.join(dir, 'custom', 'custom.log');
  const cfg = new ConfigStore({ path: configPath, logFile: moved }).current().config;
  assert.equal(cfg.daemon.log_file, moved);
  assert.equal(cfg.daemon.alerts_file, path.join(dir, 'custom', 'alerts.log'));
  await detectLoop(cfg, { cursors: {}, checks: [], iteration: 1, loop: 1, host: 'h' });
  await sendNotification(cfg, { severity: 'critical', message: 'Critical health check failures: database_connection' });
  assert.match(read(moved), /=== 検知サイクル 1 開始 ===/);
  assert.match(read(path.join(dir, 'custom', 'alerts.log')), /"message": "Critical health check failures: database_connection"/);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'logs')), [], 'nothing in the default place');
  assert.equal(fs.existsSync(path.join(dir, 'elsewhere')), false);
  // Without --log-file: the seed's ../logs/auto_fix.log, and alerts_file where configured.
  const plain = new ConfigStore({ path: configPath }).current().config;
  assert.equal(plain.daemon.log_file, path.join(dir, 'logs', 'auto_fix.log'));
  assert.equal(plain.daemon.alerts_file, path.join(dir, 'elsewhere', 'alerts.log'));
});
