/**
 * Request text never poses as an error: access-log lines (common/combined, werkzeug, gunicorn,
 * nginx) carrying ECONNREFUSED, ENOSPC, JSONDecodeError... in the URL, user, referer or user
 * agent classify as nothing but their HTTP status, with the shipped patterns scoped by file AND
 * with the same patterns unscoped; `files` globs restrict a pattern to matching files.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load';
import { compileMatcher } from '../../src/detection/matcher';
import { scanFilesFromStart, scanLogs } from '../../src/detection/log-scanner';
import { accessLineView } from '../../src/detection/access-line';
import { fileScope } from '../../src/detection/pattern-files';

const shipped = loadConfig(path.resolve(__dirname, '../../../config/error_patterns.json'));
const unscoped = shipped.error_patterns.map(({ files: _files, ...p }) => p);
let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-access-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Hostile request text: each would classify as an error class if matched as plain text. */
const HOSTILE = [
  'ECONNREFUSED',
  'ENOSPC',
  'JSONDecodeError',
  'No space left on device',
  'could not connect to server',
  'Could not connect to Redis at',
  'MemoryError',
  'Address already in use',
  'certificate verify failed',
  'PermissionError',
  'FileNotFoundError',
  'ValueError: x',
];

/** Access-log lines a client controls parts of, and the only ids they may classify as (unscoped patterns). */
function hostileLines(word: string): Array<[string, string[]]> {
  const url = encodeURIComponent(word).replace(/%20/g, '+');
  const raw = word; // servers that log the request line unescaped (werkzeug, http.server)
  return [
    [`127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /search?q=${raw} HTTP/1.1" 200 -`, []],
    [`127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /${url} HTTP/1.1" 404 -`, ['http_4xx']],
    [`127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /x?${raw} HTTP/1.1" 500 -`, ['http_5xx']],
    // combined format (nginx, Apache, gunicorn): referer and user agent are the client's too
    [`10.0.0.7 - - [18/Jan/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 512 "https://evil.example/${url}" "Mozilla/5.0 ${raw}"`, []],
    [`10.0.0.7 - - [18/Jan/2025:10:00:00 +0000] "POST /api?${url} HTTP/1.1" 502 0 "-" "${raw}" rt=0.012 uct="0.000"`, ['http_5xx']],
    // the authenticated user (Basic auth) is whatever the client sent
    [`10.0.0.7 - ${raw} [18/Jan/2025:10:00:00 +0000] "GET / HTTP/1.1" 401 0 "-" "-"`, ['http_4xx']],
    // nginx escapes quotes as \x22: a forged status inside the URL stays inside it
    [`10.0.0.7 - - [18/Jan/2025:10:00:00 +0000] "GET /a\\x22 500 0 \\x22${url} HTTP/1.1" 200 5 "-" "curl/8"`, []],
    // werkzeug logs a raw quote: the real status is the one that ends the line
    [`127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /x" 500 "${raw} HTTP/1.1" 200 -`, []],
    // werkzeug's own error line echoes the request
    [`127.0.0.1 - - [18/Jan/2025 10:00:00] code 400, message Bad request syntax ('GET /${raw} HTTP/1.1 x')`, []],
    // werkzeug through Python logging, with its ANSI colours
    [`INFO:werkzeug:127.0.0.1 - - [18/Jan/2025 10:00:00] "\x1b[35m\x1b[1mGET /${url} HTTP/1.1\x1b[0m" 500 -`, ['http_5xx']],
    // a fake date in the user field does not make the request text visible
    [`10.0.0.7 - x [18/Jan/2025:10:00:00 +0000] ${raw} [18/Jan/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "-"`, []],
    // a method the server does not know is the client's text too
    [`127.0.0.1 - - [18/Jan/2025 10:00:00] "${raw.replace(/\W/g, '')} / HTTP/1.1" 501 -`, ['http_5xx']],
  ];
}

const matchers = new Map<object, ReturnType<typeof compileMatcher>>();

/** Scans `lines` written to `<dir>/<name>` with the patterns (compiled once); returns the sorted detected ids. */
async function idsOf(name: string, lines: string[], patterns: typeof unscoped = unscoped): Promise<string[]> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  if (!matchers.has(patterns)) matchers.set(patterns, compileMatcher(patterns));
  return (await scanFilesFromStart([file], matchers.get(patterns) as ReturnType<typeof compileMatcher>, { workers: 1 })).map((d) => d.id).sort();
}

void test('unscoped patterns: request text in URL, user, referer, user agent or an error echo classifies as nothing but its status', async () => {
  for (const word of HOSTILE) {
    for (const [line, expected] of hostileLines(word)) {
      assert.deepEqual(await idsOf('app.log', [line]), expected, `${JSON.stringify(line)} classified wrongly`);
    }
  }
});

void test('the shipped config: the same lines, in an access log or an app log, raise nothing but HTTP classes', async () => {
  for (const word of HOSTILE) {
    const lines = hostileLines(word);
    // http_5xx reads app logs too (a werkzeug app logs its access lines there; app error lines
    // name 5xx): only a line's real status counts, and the other patterns see no request text.
    for (const name of ['access.log', 'app.log']) {
      const ids = await idsOf(name, lines.map(([l]) => l), shipped.error_patterns);
      assert.ok(ids.every((id) => id === 'http_4xx' || id === 'http_5xx'), `${word} in ${name}: ${ids.join(',')}`);
    }
  }
});

void test('real errors are still detected next to access lines, and a bracketed date alone does not mask a line', async () => {
  const lines = [
    '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /boom HTTP/1.1" 500 -',
    'Error: connect ECONNREFUSED 127.0.0.1:5432',
    "OSError: [Errno 28] No space left on device: '/srv/data/x'",
    'ERROR [18/Jan/2025:10:00:00 +0000] json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)',
  ];
  assert.deepEqual(await idsOf('app.log', lines), ['db_connection', 'disk_full', 'http_5xx', 'json_parse']);
  assert.deepEqual(await idsOf('app.log', lines, shipped.error_patterns), ['db_connection', 'disk_full', 'http_5xx', 'json_parse']);
  assert.deepEqual(await idsOf('access.log', lines, shipped.error_patterns), ['http_5xx']);
});

void test('accessLineView keeps what the server wrote, in the same shape', () => {
  assert.equal(
    accessLineView('127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /search?q=ECONNREFUSED HTTP/1.1" 200 -'),
    '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET / HTTP/1.1" 200 -',
  );
  assert.equal(
    accessLineView('10.0.0.7 - bob [18/Jan/2025:10:00:00 +0000] "POST /a?b HTTP/2.0" 503 12 "http://r/" "UA ENOSPC" 0.250 up=127.0.0.1:5000'),
    '10.0.0.7 - - [18/Jan/2025:10:00:00 +0000] "POST / HTTP/2.0" 503 12 "-" "-" 0.250 up=127.0.0.1:5000',
  );
  assert.equal(
    accessLineView('2025-01-18 10:00:00,123 INFO werkzeug: 127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /x HTTP/1.1" \x1b[35m500\x1b[0m -'),
    '- - - [18/Jan/2025 10:00:00] "GET / HTTP/1.1" \x1b[35m500\x1b[0m -',
  );
  assert.equal(accessLineView('[2025-01-18 10:00:00 +0000] [42] [INFO] Booting worker with pid: 42'), undefined);
  assert.equal(accessLineView('Error: connect ECONNREFUSED 127.0.0.1:5432'), undefined);
});

void test('files: name globs, path globs relative to the config, exclusions', () => {
  assert.equal(fileScope(undefined)('/x/app.log'), true);
  assert.equal(fileScope(['*access*'])('/var/log/nginx/access.log'), true);
  assert.equal(fileScope(['*access*'])('/var/log/app/app.log'), false);
  assert.equal(fileScope(['!*access*'])('/var/log/nginx/access.log'), false);
  assert.equal(fileScope(['!*access*'])('/var/log/app/error.log'), true);
  assert.equal(fileScope(['/var/log/app/**/*.log', '!**/debug.log'])('/var/log/app/x/y.log'), true);
  assert.equal(fileScope(['/var/log/app/**/*.log', '!**/debug.log'])('/var/log/app/debug.log'), false);
  const cfg = parseConfig(
    { error_patterns: [{ id: 'p', name: 'p', pattern: 'x', severity: 'error', files: ['logs/*.log', '*err*', '!logs/skip.log'] }] },
    '/etc/autofix/error_patterns.json',
    {},
  );
  assert.deepEqual(cfg.error_patterns[0]?.files, ['/etc/autofix/logs/*.log', '*err*', '!/etc/autofix/logs/skip.log']);
});

void test('scanLogs applies a pattern only to the watched files its `files` name (incrementally, per file)', async () => {
  const access = path.join(dir, 'nginx-access.log');
  const app = path.join(dir, 'app.log');
  const line = "OSError: [Errno 28] No space left on device: '/srv/data/x'";
  fs.writeFileSync(access, `${line}\n10.0.0.7 - - [18/Jan/2025:10:00:00 +0000] "GET / HTTP/1.1" 500 0 "-" "-"\n`);
  fs.writeFileSync(app, `${line}\n`);
  const matcher = compileMatcher(shipped.error_patterns);
  const r = await scanLogs({ files: [access, app], cursors: {}, matcher });
  const seen = r.detections.map((d) => `${path.basename(d.file ?? '')}:${d.id}`).sort();
  assert.deepEqual(seen, ['app.log:disk_full', 'nginx-access.log:http_5xx']);
});
