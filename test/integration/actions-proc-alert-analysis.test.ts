/**
 * The alert and log_analysis actions on real files in a temp directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { alert } from '../../src/actions/alert';
import { countPatterns, logAnalysis, parseLineTime } from '../../src/actions/log-analysis';
import { formatLocalTime } from '../../src/logging/auto-fix-log';
import { alertsLogPath } from '../../src/logging/auto-fix-log';
import { makeConfig, makeCtx, tempDir } from './actions-proc-fixtures';

void test('alert writes alerts.log once per incident, even when retried', async () => {
  const cfg = makeConfig(tempDir(), { auto_fix_config: { notification_channels: ['log'] } });
  const ctx = makeCtx(cfg, 'critical');
  const spec = { type: 'alert' as const };
  const plan = await alert.plan(ctx, spec);
  assert.match(plan.steps[0] ?? '', /^notify \(alerts, log\): HTTP 5xxエラー \(http_5xx\) detected 3 time\(s\) in \/var\/log\/app.log:10/);
  const r1 = await alert.run(ctx, spec);
  const r2 = await alert.run(ctx, spec);
  assert.equal(r1.summary, 'alert: alerts sent, log sent');
  assert.equal(r2.summary, 'alert already sent for this incident');
  const lines = readFileSync(alertsLogPath(cfg), 'utf8').trim().split('\n');
  assert.equal(lines.length, 1);
  const rec = JSON.parse(lines[0] as string) as Record<string, unknown>;
  assert.equal(rec.severity, 'critical');
  assert.equal(rec.incident_id, ctx.incident.incidentId);
  assert.equal(rec.pattern_id, 'http_5xx');
});

void test('parseLineTime knows the common log timestamp forms', () => {
  assert.deepEqual(parseLineTime('2025-12-28 10:30:15,123 ERROR x'), new Date(2025, 11, 28, 10, 30, 15));
  assert.deepEqual(parseLineTime('[2025-12-28T10:30:15Z] x'), new Date('2025-12-28T10:30:15Z'));
  assert.deepEqual(parseLineTime('1.2.3.4 - - [28/Dec/2025:10:30:15 +0900] "GET / HTTP/1.1" 502 0'), new Date('2025-12-28T10:30:15+09:00'));
  assert.equal(parseLineTime('    at foo (bar.js:1:2)'), null);
});

void test('log_analysis counts each pattern over the window only', async () => {
  // The logs are not under data_dir: what is there is autofix's own, never input.
  const dataDir = tempDir();
  const dir = tempDir();
  const now = Date.now();
  const t = (minAgo: number) => formatLocalTime(new Date(now - minAgo * 60_000));
  const app = path.join(dir, 'app.log');
  writeFileSync(
    app,
    [
      `${t(120)} psycopg2.OperationalError: could not connect to server`,
      `${t(90)} "GET /a HTTP/1.1" 500 12`,
      `${t(30)} "GET /b HTTP/1.1" 502 12`,
      `${t(20)} psycopg2.OperationalError: Could not connect to server`,
      `  detail line inheriting the previous time: could not connect to server`,
      `${t(5)} "GET /c HTTP/1.1" 503 1`,
      `${t(1)} "GET /d HTTP/1.1" 200 1`,
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'other.log'), `${t(2)} "POST /x HTTP/1.0" 504 1\n`);
  // autofix's own log in the same folder, full of matching lines (its own reports): not counted.
  writeFileSync(path.join(dir, 'auto_fix.log'), `${t(1)} - AutoFixDaemon - [INFO] -   note="GET /z HTTP/1.1" 500 1 could not connect to server"\n`.repeat(5));
  const cfg = makeConfig(dataDir, { daemon: { log_file: path.join(dir, 'auto_fix.log') }, watch: { logs: [path.join(dir, '*.log'), path.join(dir, 'missing.log')] } });
  const r = await logAnalysis.run(makeCtx(cfg), { type: 'log_analysis', window_minutes: 60 });
  assert.deepEqual(r.details?.counts, { http_5xx: 3, db_connection: 2 });
  assert.deepEqual(r.details?.files, [app, path.join(dir, 'other.log')]);
  assert.match(r.summary, /http_5xx=3, db_connection=2/);

  // Only the last bytes are read: a tiny tail sees just the newest lines.
  const tail = await countPatterns(cfg, [app], new Date(0), 40);
  assert.deepEqual(tail.counts, { http_5xx: 0, db_connection: 0 });
  assert.ok(tail.lines <= 1, `read ${tail.lines} lines`);
});

void test('log_analysis reads the files detection reads: ** globs, and never a symlink a wildcard matched', async () => {
  const dataDir = tempDir();
  const dir = tempDir();
  const outside = tempDir();
  const t = formatLocalTime(new Date(Date.now() - 60_000));
  mkdirSync(path.join(dir, 'api', 'v2'), { recursive: true });
  writeFileSync(path.join(dir, 'top.log'), `${t} "GET /a HTTP/1.1" 500 1\n`);
  writeFileSync(path.join(dir, 'api', 'v2', 'deep.log'), `${t} "GET /b HTTP/1.1" 502 1\n`);
  // The app's user links a log name to a file of its choosing: detection does not read it, nor does this.
  writeFileSync(path.join(outside, 'elsewhere.log'), `${t} "GET /c HTTP/1.1" 503 1\n`.repeat(7));
  symlinkSync(path.join(outside, 'elsewhere.log'), path.join(dir, 'api', 'linked.log'));
  const cfg = makeConfig(dataDir, { watch: { logs: [path.join(dir, '**', '*.log')] } });
  const r = await logAnalysis.run(makeCtx(cfg), { type: 'log_analysis', window_minutes: 60 });
  assert.deepEqual(r.details?.files, [path.join(dir, 'api', 'v2', 'deep.log'), path.join(dir, 'top.log')]);
  assert.deepEqual(r.details?.counts, { http_5xx: 2, db_connection: 0 });
});
