/**
 * The shipped config is for the seed's stack: its layout (backend/scripts → ../logs, ../data),
 * the Flask app's health URL every 30 s, and 5xx lines of the app's error logs (Flask, gunicorn,
 * Python logging) as http_5xx as well as access-log lines — and not lines that merely mention 500.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG_PATH, parseConfig } from '../../src/config/load';
import { compileMatcher } from '../../src/detection/matcher';
import { scanFilesFromStart } from '../../src/detection/log-scanner';

const raw = JSON.parse(fs.readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as unknown;

test("in backend/scripts it watches the seed's backend/logs and checks Flask's health every 30 s", () => {
  const backend = path.join(os.tmpdir(), 'somewhere', 'backend');
  const cfg = parseConfig(raw, path.join(backend, 'scripts', 'error_patterns.json'), {});
  assert.deepEqual(cfg.watch.logs, [path.join(backend, 'logs', '*.log')]);
  assert.deepEqual(cfg.watch.json_files, [path.join(backend, 'data', '*.json')]);
  assert.equal(cfg.daemon.log_file, path.join(backend, 'logs', 'auto_fix.log'));
  assert.equal(cfg.daemon.data_dir, path.join(backend, 'autofix'));
  assert.equal(cfg.health_checks.http.interval_seconds, 30);
  assert.equal(cfg.health_checks.http.critical, true);
  assert.deepEqual(
    cfg.health_checks.http.endpoints.map((e) => [e.name, e.url, e.service]),
    [['flask', 'http://127.0.0.1:5000/api/health', 'flask']],
  );
  assert.ok(cfg.services.flask, 'the endpoint names a defined service');
});

test('5xx lines of access and app error logs are http_5xx; mentions of 500 are not', async () => {
  const cfg = parseConfig(raw, DEFAULT_CONFIG_PATH, {});
  const http5xx = [
    '127.0.0.1 - - [28/Dec/2025 10:30:00] "GET /api/knowledge HTTP/1.1" 500 -', // werkzeug access
    '10.0.0.1 - - [28/Dec/2025:10:30:00 +0000] "POST /api/x HTTP/1.1" 502 157 "-" "curl/8.0"', // nginx / gunicorn access
    '[2025-12-28 10:30:00,123] ERROR in app: Exception on /api/knowledge [GET]', // Flask's unhandled exception (→ 500)
    '2025-12-28 10:30:00,123 - app - ERROR - 500 Internal Server Error: The server encountered an internal error',
    '2025-12-28 10:30:00,123 ERROR api: upstream answered status=503 path=/api/search',
    '2025-12-28 10:30:00,123 CRITICAL app: request failed with HTTP 504',
    '[2025-12-28 10:30:00 +0000] [1234] [ERROR] Error handling request /api/x', // gunicorn error log
    '[2025-12-28 10:30:00 +0000] [1234] [CRITICAL] WORKER TIMEOUT (pid:1240)',
  ];
  const others = [
    '10.0.0.1 - - [28/Dec/2025:10:30:00 +0000] "GET /ERROR?status=500 HTTP/1.1" 404 12', // request text, a 404
    '10.0.0.1 - - [28/Dec/2025:10:30:00 +0000] "GET /x HTTP/1.1" 200 12 "ERROR 500 Internal Server Error" "curl"', // referer text
    '2025-12-28 10:30:00,123 INFO docs: 500 Internal Server Error explained',
    '2025-12-28 10:30:00,123 ERROR worker: timeout after 500 ms',
  ];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-shipped-'));
  try {
    const file = path.join(dir, 'mixed.log');
    fs.writeFileSync(file, [...http5xx, ...others].join('\n') + '\n');
    const ds = await scanFilesFromStart([file], compileMatcher(cfg.error_patterns), { workers: 1 });
    const five = ds.find((d) => d.id === 'http_5xx');
    assert.equal(five?.count, http5xx.length, JSON.stringify(ds, null, 2));
    assert.deepEqual([five?.first_line, five?.last_line], [1, http5xx.length]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
