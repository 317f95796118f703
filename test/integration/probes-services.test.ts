/** PostgreSQL and Redis probes against real servers: the shared ones (read-only) and our own. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probePostgres } from '../../src/probes/postgres';
import { probeRedis } from '../../src/probes/redis';
import { runHealthChecks } from '../../src/probes';
import { freePort, makeConfig, startRedis, stopProcess } from './probes-support';

const PG_URL = 'postgresql://root@127.0.0.1:5432/test';

void test('postgres: the real server is accepting connections', async () => {
  const r = await probePostgres(PG_URL, 5000);
  assert.equal(r.status, 'healthy');
  assert.equal(r.message, 'accepting connections');
  assert.equal(r.target, '127.0.0.1:5432/test');
  assert.ok(typeof r.latency_ms === 'number' && r.latency_ms >= 0);
});

void test('postgres: a closed port is unhealthy and the message says why', async () => {
  const port = await freePort();
  const r = await probePostgres(`postgresql://root@127.0.0.1:${port}/test`, 2000);
  assert.equal(r.status, 'unhealthy');
  assert.match(r.message, /ECONNREFUSED/);
});

void test('postgres: a wrong database is unhealthy and the password never appears', async () => {
  const r = await probePostgres('postgresql://root:s3cret@127.0.0.1:5432/no_such_db_autofix', 5000);
  assert.equal(r.status, 'unhealthy');
  assert.match(r.message, /no_such_db_autofix/);
  assert.doesNotMatch(JSON.stringify(r), /s3cret/);
});

void test('postgres: a server that accepts TCP but never answers is unhealthy within the timeout', async () => {
  // A bare listener stands in for a hung postmaster: connect succeeds, the startup reply never comes.
  const net = await import('node:net');
  const sockets: import('node:net').Socket[] = [];
  const srv = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as import('node:net').AddressInfo;
  try {
    const start = Date.now();
    const r = await probePostgres(`postgresql://root@127.0.0.1:${port}/test`, 1000);
    assert.equal(r.status, 'unhealthy');
    assert.ok(Date.now() - start < 5000, 'returned long after the 1 s timeout');
  } finally {
    sockets.forEach((s) => s.destroy());
    srv.close();
  }
});

void test('redis: the real server answers PONG', async () => {
  const r = await probeRedis('redis://127.0.0.1:6379', 5000);
  assert.equal(r.status, 'healthy');
  assert.equal(r.message, 'PONG');
});

void test('redis: a closed port is unhealthy at once (no reconnect storm)', async () => {
  const port = await freePort();
  const r = await probeRedis(`redis://127.0.0.1:${port}`, 3000);
  assert.equal(r.status, 'unhealthy');
  assert.match(r.message, /ECONNREFUSED|Connection is closed/);
});

void test('redis: AUTH from the URL; a wrong password is unhealthy', async () => {
  const { proc, port, url } = await startRedis([], 'p@ss word');
  try {
    assert.equal((await probeRedis(url, 3000)).status, 'healthy');
    const wrong = await probeRedis(`redis://:wrong@127.0.0.1:${port}`, 3000);
    assert.equal(wrong.status, 'unhealthy');
    assert.match(wrong.message, /WRONGPASS|invalid|NOAUTH/i);
    assert.doesNotMatch(JSON.stringify(wrong), /p@ss/);
  } finally {
    await stopProcess(proc);
  }
});

void test('redis: a SIGSTOPped redis-server is unhealthy within the timeout, then healthy again', async () => {
  const { proc, url } = await startRedis();
  try {
    proc.kill('SIGSTOP');
    const start = Date.now();
    const r = await probeRedis(url, 1000);
    assert.equal(r.status, 'unhealthy');
    assert.ok(Date.now() - start < 5000, 'the probe hung past its 1 s timeout');
    // Same through the runner with the config's timeout_seconds.
    const cfg = makeConfig({ health_checks: { redis: { url, timeout_seconds: 1 } } });
    const report = await runHealthChecks(cfg, { only: ['redis'], metrics: false });
    assert.equal(report.checks.redis_connection?.status, 'unhealthy');
    assert.equal(report.overall_status, 'unhealthy');
    proc.kill('SIGCONT');
    assert.equal((await probeRedis(url, 3000)).status, 'healthy');
  } finally {
    await stopProcess(proc);
  }
});

void test('runHealthChecks: real postgres and redis are healthy; disabled checks are omitted', async () => {
  const cfg = makeConfig({
    health_checks: {
      postgres: { url: PG_URL },
      redis: { url: 'redis://127.0.0.1:6379' },
      disk: { enabled: false },
      memory: { enabled: false },
    },
  });
  const report = await runHealthChecks(cfg, { metrics: false });
  assert.deepEqual(Object.keys(report.checks).sort(), ['database_connection', 'redis_connection']);
  assert.equal(report.overall_status, 'healthy');
  assert.equal(report.metrics, undefined);
  assert.ok(!Number.isNaN(Date.parse(report.timestamp)));
});
