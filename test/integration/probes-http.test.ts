/** HTTP and TLS probes against servers started here (real sockets, real certificates). */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { probeHttp, probeEndpoint } from '../../src/probes/http';
import { probeTlsEndpoint } from '../../src/probes/tls';
import { runHealthChecks, healthDetections } from '../../src/probes';
import { freePort, makeConfig, selfSignedCert, tempDir, runCli, writeConfig } from './probes-support';

let server: http.Server;
let base = '';
let certDir = '';
let tlsServer: https.Server;
let tlsPort = 0;
let cert = { key: '', cert: '', certFile: '' };

const ep = (name: string, path: string, extra: Record<string, unknown> = {}) => ({
  name,
  url: `${base}${path}`,
  method: 'GET' as const,
  expect_status: [200],
  tls_expiry_warn_days: 14,
  ...extra,
});

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/ok') return res.end('{"status":"ok","db":"up"}');
    if (req.url === '/boom') return ((res.statusCode = 500), res.end('Internal Server Error'));
    if (req.url === '/missing') return ((res.statusCode = 404), res.end('nope'));
    if (req.url === '/slow') return void setTimeout(() => res.end('ok'), 300);
    if (req.url === '/hang') return; // never answers
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  certDir = await tempDir();
  cert = await selfSignedCert(certDir, 3);
  tlsServer = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('secure ok'));
  await new Promise<void>((r) => tlsServer.listen(0, r)); // all addresses: "localhost" may be ::1
  tlsPort = (tlsServer.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  tlsServer.closeAllConnections();
  await new Promise((r) => server.close(r));
  await new Promise((r) => tlsServer.close(r));
  await rm(certDir, { recursive: true, force: true });
});

void test('http: 200 with a matching body is healthy', async () => {
  const r = await probeEndpoint(ep('api', '/ok', { body_match: '"status":\\s*"ok"' }), 2000);
  assert.equal(r.status, 'healthy');
  assert.equal(r.http_status, 200);
});

void test('http: 200 with a body that does not match is unhealthy (reason body)', async () => {
  const r = await probeEndpoint(ep('api', '/ok', { body_match: 'maintenance' }), 2000);
  assert.equal(r.status, 'unhealthy');
  assert.equal(r.reason, 'body');
});

void test('http: 500 is unhealthy and raises http_5xx', async () => {
  const cfg = makeConfig({
    error_patterns: [
      { id: 'http_5xx', name: 'HTTP 5xx', pattern: 'HTTP/\\d\\.\\d" 5\\d\\d', severity: 'error' },
    ],
    health_checks: { http: { endpoints: [ep('boom', '/boom'), ep('ok', '/ok')] } },
  });
  const report = await runHealthChecks(cfg, { only: ['http'], metrics: false });
  const check = report.checks.http_endpoints;
  assert.equal(check?.status, 'unhealthy');
  const endpoints = check?.endpoints as Record<string, { status: string; http_status: number }>;
  assert.equal(endpoints.boom?.http_status, 500);
  assert.equal(endpoints.ok?.status, 'healthy');
  const d = healthDetections(report, cfg);
  assert.equal(d.length, 1);
  assert.equal(d[0]?.id, 'http_5xx');
  assert.equal(d[0]?.count, 1);
  assert.match(d[0]?.samples[0] ?? '', /^boom: HTTP 500/);
});

void test('http: a 404 is unhealthy but is not an http_5xx', async () => {
  const cfg = makeConfig({
    error_patterns: [{ id: 'http_5xx', name: 'HTTP 5xx', pattern: 'x', severity: 'error' }],
    health_checks: { http: { endpoints: [ep('missing', '/missing')] } },
  });
  const report = await runHealthChecks(cfg, { only: ['http'], metrics: false });
  assert.equal(report.checks.http_endpoints?.status, 'unhealthy');
  assert.deepEqual(healthDetections(report, cfg), []);
});

void test('http: slower than max_latency_ms is degraded; past the timeout is unhealthy', async () => {
  const slow = await probeHttp([ep('slow', '/slow', { max_latency_ms: 50 })], 5000);
  assert.equal(slow.status, 'degraded');
  const start = Date.now();
  const hung = await probeEndpoint(ep('hang', '/hang'), 500);
  assert.equal(hung.status, 'unhealthy');
  assert.equal(hung.reason, 'timeout');
  assert.ok(Date.now() - start < 5000);
});

void test('http: a closed port is unreachable', async () => {
  const r = await probeEndpoint({ ...ep('x', ''), url: `http://127.0.0.1:${await freePort()}/` }, 2000);
  assert.equal(r.status, 'unhealthy');
  assert.equal(r.reason, 'unreachable');
  assert.match(r.message, /ECONNREFUSED/);
});

void test('tls: a trusted certificate with 3 days left is degraded (warn at 14)', async () => {
  const r = await probeTlsEndpoint(`https://localhost:${tlsPort}/`, {
    timeoutMs: 3000,
    warnDays: 14,
    ca: cert.cert,
  });
  assert.equal(r.status, 'degraded', r.message);
  assert.equal(r.authorized, true);
  assert.ok(r.days_left !== undefined && r.days_left > 2 && r.days_left <= 3, `days_left ${r.days_left}`);
  assert.equal(r.subject, 'localhost');
  const healthy = await probeTlsEndpoint(`https://localhost:${tlsPort}/`, {
    timeoutMs: 3000,
    warnDays: 1,
    ca: cert.cert,
  });
  assert.equal(healthy.status, 'healthy');
});

void test('tls: an untrusted (self-signed) certificate is unhealthy', async () => {
  const r = await probeTlsEndpoint(`https://localhost:${tlsPort}/`, { timeoutMs: 3000, warnDays: 14 });
  assert.equal(r.status, 'unhealthy');
  assert.equal(r.authorized, false);
  assert.match(r.authorization_error ?? '', /SELF_SIGNED/);
});

void test('tls: a name mismatch is unhealthy even with a trusted CA', async () => {
  const r = await probeTlsEndpoint(`https://127.0.0.1:${tlsPort}/`, {
    timeoutMs: 3000,
    warnDays: 1,
    ca: cert.cert,
  });
  assert.equal(r.status, 'unhealthy');
  assert.match(r.authorization_error ?? '', /ALTNAME|IP/);
});

void test('cli: https endpoint trusted through NODE_EXTRA_CA_CERTS → tls degraded, exit 1', async () => {
  const dir = await tempDir();
  try {
    const file = await writeConfig(dir, {
      health_checks: {
        http: {
          timeout_seconds: 3,
          endpoints: [{ name: 'web', url: `https://localhost:${tlsPort}/`, body_match: 'secure' }],
        },
      },
    });
    const r = await runCli(['health', '--config', file, '--no-metrics', '--only', 'http'], {
      NODE_EXTRA_CA_CERTS: cert.certFile,
    });
    const report = JSON.parse(r.stdout);
    assert.equal(report.checks.tls_certificates.status, 'degraded');
    assert.equal(report.checks.http_endpoints.status, 'healthy');
    assert.equal(report.overall_status, 'degraded');
    assert.equal(r.code, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
