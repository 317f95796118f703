/**
 * Classification of text that real programs print on this machine: python3 exceptions, a real
 * http.server access log, node/pg/ioredis/psql/redis-cli connection failures, curl/openssl/node
 * TLS failures against a self-signed certificate, ls. Each output goes to a log file in a temp dir
 * and is scanned with the default config.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { compileMatcher } from '../../src/detection/matcher';
import { scanFilesFromStart } from '../../src/detection/log-scanner';
import { requireTool } from '../helpers/tools';

const ROOT = path.resolve(__dirname, '../../..');
const cfg = loadConfig(path.join(ROOT, 'config/error_patterns.json'));
const matcher = compileMatcher(cfg.error_patterns);
let dir = '';

/** Runs a program and returns stdout + stderr (what a service would write to its log). */
function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000, cwd: opts.cwd ?? dir, env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') } });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Scans text written to a fresh log (named `<kind>-….log`: the shipped patterns are scoped by file name); returns id → count. */
async function classify(text: string, kind: 'app' | 'access' = 'app'): Promise<Record<string, number>> {
  const file = path.join(dir, `${kind}-${Math.random().toString(36).slice(2)}.log`);
  fs.writeFileSync(file, text.endsWith('\n') ? text : text + '\n');
  const out: Record<string, number> = {};
  for (const d of await scanFilesFromStart([file], matcher)) out[d.id] = d.count;
  return out;
}

const py = (code: string) => run('python3', ['-c', code]);

before(() => {
  for (const tool of ['python3', 'curl', 'openssl', 'psql', 'redis-cli', 'runuser']) requireTool(tool);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('python3 exceptions: the exception line decides the class', async () => {
  const port = await freePort();
  const cases: Array<[string, string]> = [
    ['memory_error', 'x = bytearray(1 << 62)'],
    ['fs_not_found', "open('/nonexistent/autofix/x.txt')"],
    ['disk_full', "f = open('/dev/full', 'w'); f.write('x'); f.flush()"],
    ['port_in_use', `import socket\na = socket.socket(); a.bind(('127.0.0.1', 0)); a.listen()\nb = socket.socket(); b.bind(a.getsockname())`],
    ['json_parse', "import json; json.loads('{\"a\": }')"],
    ['db_connection', `import socket; socket.create_connection(('127.0.0.1', ${port}))`],
    ['python_exception', "raise ValueError('bad value')"],
    ['python_exception', "d = {}; d['missing']"],
  ];
  for (const [id, code] of cases) {
    const output = py(code);
    assert.match(output, /Traceback \(most recent call last\):/, `python3 printed a traceback for ${id}`);
    assert.deepEqual(await classify(output), { [id]: 1 }, `${id}: ${output}`);
  }
});

test('PermissionError from a real unprivileged python3 (runuser -u nobody)', async () => {
  const target = path.join(dir, 'secret.txt');
  fs.writeFileSync(target, 'x');
  fs.chmodSync(target, 0o600);
  fs.chmodSync(dir, 0o755);
  const output = run('runuser', ['-u', 'nobody', '--', '/usr/bin/python3', '-c', `open(${JSON.stringify(target)}, 'w')`], { cwd: '/' });
  assert.match(output, /PermissionError/);
  assert.deepEqual(await classify(output), { fs_permission: 1 });
});

test('five tracebacks count five; a chained traceback counts once', async () => {
  const one = py("raise RuntimeError('boom')");
  const chained = py("try:\n  1/0\nexcept ZeroDivisionError:\n  raise KeyError('k')");
  assert.match(chained, /During handling of the above exception/);
  assert.deepEqual(await classify(one.repeat(5)), { python_exception: 5 });
  assert.deepEqual(await classify(chained), { python_exception: 1 });
});

test('real http.server access log: 37 x 500 and 3 x 404', async () => {
  const server = path.join(dir, 'srv.py');
  fs.writeFileSync(
    server,
    'import http.server, sys\n' +
      'class H(http.server.SimpleHTTPRequestHandler):\n' +
      '    def do_GET(self):\n' +
      "        if self.path.startswith('/boom'): self.send_error(500)\n" +
      "        elif self.path.startswith('/api/500-club'): self.send_response(200); self.end_headers(); self.wfile.write(b'club')\n" +
      '        else: super().do_GET()\n' +
      "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
  );
  const port = await freePort();
  const logFile = path.join(dir, 'access.log');
  const log = fs.openSync(logFile, 'w');
  const child: ChildProcess = spawn('python3', ['-u', server, String(port)], { cwd: dir, stdio: ['ignore', log, log] });
  try {
    let up = '';
    for (let i = 0; i < 100 && !up.includes('200'); i++) up = run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/api/500-club`]);
    for (let i = 0; i < 37; i++) run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/boom`]);
    for (let i = 0; i < 3; i++) run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/missing-${i}`]);
  } finally {
    child.kill();
    fs.closeSync(log);
  }
  const text = fs.readFileSync(logFile, 'utf8');
  assert.match(text, /"GET \/boom HTTP\/1.1" 500 -/);
  const got = await classify(text, 'access');
  assert.equal(got.http_5xx, 37);
  assert.equal(got.http_4xx, 3);
});

test('node net/pg/ioredis, psql and redis-cli against a closed port', async () => {
  const port = await freePort();
  const net1 = run('node', ['-e', `require('net').connect(${port}, '127.0.0.1').on('error', (e) => { console.error('Error: ' + e.message); })`]);
  const pg = run('node', ['-e', `new (require('pg').Client)({ host: '127.0.0.1', port: ${port} }).connect().catch((e) => console.error(e))`]);
  const psql = run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-c', 'select 1']);
  const redisCli = run('redis-cli', ['-p', String(port), 'ping']);
  const ioredis = run('node', ['-e', `const R = require('ioredis'); const r = new R({ port: ${port}, lazyConnect: false, retryStrategy: () => null }); setTimeout(() => process.exit(0), 1500)`]);
  assert.match(net1, /ECONNREFUSED/);
  assert.deepEqual(await classify(net1), { db_connection: 1 });
  assert.deepEqual(await classify(pg), { db_connection: 1 }, pg);
  assert.deepEqual(await classify(psql), { db_connection: 1 }, psql);
  assert.deepEqual(await classify(redisCli), { redis_connection: 1 }, redisCli);
  assert.match(ioredis, /\[ioredis\] Unhandled error event/);
  assert.equal((await classify(ioredis)).redis_connection, 1, ioredis);
});

test('curl, openssl s_client and node tls against a self-signed certificate', async () => {
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=localhost']);
  const port = await freePort();
  const server = spawn('openssl', ['s_server', '-accept', String(port), '-cert', 'cert.pem', '-key', 'key.pem', '-www', '-quiet'], { cwd: dir, stdio: 'ignore' });
  try {
    let curl = '';
    for (let i = 0; i < 100 && !/SSL certificate problem/.test(curl); i++) curl = run('curl', ['-sS', `https://localhost:${port}/`]);
    const sClient = run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-verify_return_error'], {});
    const nodeTls = run('node', ['-e', `require('https').get('https://localhost:${port}/', () => {}).on('error', (e) => console.error('Error: ' + e.message + ' code=' + e.code))`]);
    assert.deepEqual(await classify(curl), { ssl_certificate: 1 }, curl);
    assert.equal((await classify(sClient)).ssl_certificate !== undefined, true, sClient);
    assert.deepEqual(await classify(nodeTls), { ssl_certificate: 1 }, nodeTls);
  } finally {
    server.kill();
  }
});

test('ls and node ENOENT, kernel OOM lines; ordinary lines give nothing', async () => {
  assert.deepEqual(await classify(run('ls', ['/nonexistent'])), { fs_not_found: 1 });
  assert.equal((await classify(run('node', ['-e', "require('fs').readFileSync('/nonexistent/x')"]))).fs_not_found, 1);
  const kernel =
    '[12345.678901] Out of memory: Killed process 1234 (python3) total-vm:2048000kB, anon-rss:1024000kB\n' +
    '[12345.678950] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=python3,pid=1234,uid=0\n';
  assert.deepEqual(await classify(kernel), { memory_error: 2 });
  const ordinary = [
    'INFO worker done error_count=0',
    '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /errors HTTP/1.1" 200 -',
    '10.0.0.1 - - [18/Jan/2025:10:00:00 +0000] "GET /api/500-club HTTP/1.1" 200 12 "-" "curl/8.0"',
    'INFO certificate renewed for example.com',
    'INFO disk usage 45%',
    'DEBUG retrying connection (attempt 2)',
  ].join('\n');
  assert.deepEqual(await classify(ordinary), {});
});
