/** `autofix health` as a child process: JSON report, --table, Nagios exit codes, env overrides. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, runCli, tempDir, writeConfig } from './probes-support';

let dir = '';
let healthyConfig = '';

before(async () => {
  dir = await tempDir();
  healthyConfig = await writeConfig(dir, {
    health_checks: {
      postgres: { url: 'postgresql://root@127.0.0.1:5432/test', timeout_seconds: 2 },
      redis: { url: 'redis://127.0.0.1:6379', timeout_seconds: 2 },
      disk: { paths: ['/'], threshold_percent: 100 },
      memory: { threshold_percent: 100 },
    },
  });
});
after(() => rm(dir, { recursive: true, force: true }));

void test('cli: healthy stack → JSON report in the seed shape, exit 0', async () => {
  const r = await runCli(['health', '--config', healthyConfig]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.overall_status, 'healthy');
  assert.equal(report.checks.database_connection.message, 'accepting connections');
  assert.equal(report.checks.redis_connection.status, 'healthy');
  assert.equal(typeof report.checks.disk_space.usage_percent, 'number');
  assert.equal(typeof report.checks.disk_space.free_gb, 'number');
  assert.equal(typeof report.checks.memory.usage_percent, 'number');
  assert.equal(typeof report.metrics.cpu.usage_percent, 'number');
  assert.equal(typeof report.metrics.memory.usage_percent, 'number');
});

void test('cli: DATABASE_URL and REDIS_URL on closed ports → unhealthy, exit 2, within seconds', async () => {
  const [pg, redis] = [await freePort(), await freePort()];
  const start = Date.now();
  const r = await runCli(['health', '--config', healthyConfig, '--no-metrics'], {
    DATABASE_URL: `postgresql://root@127.0.0.1:${pg}/test`,
    REDIS_URL: `redis://127.0.0.1:${redis}`,
  });
  assert.ok(Date.now() - start < 20_000, 'took too long');
  assert.equal(r.code, 2, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.overall_status, 'unhealthy');
  assert.equal(report.checks.database_connection.status, 'unhealthy');
  assert.equal(report.checks.database_connection.target, `127.0.0.1:${pg}/test`);
  assert.equal(report.checks.redis_connection.status, 'unhealthy');
  assert.equal(report.checks.disk_space.status, 'healthy');
  assert.equal(report.metrics, undefined);
});

void test('cli: --table prints one row per check and the overall status', async () => {
  const r = await runCli([
    'health',
    '--config',
    healthyConfig,
    '--table',
    '--no-metrics',
    '--only',
    'postgres',
    'redis',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /database_connection\s*│\s*healthy/);
  assert.match(r.stdout, /redis_connection\s*│\s*healthy/);
  assert.doesNotMatch(r.stdout, /disk_space/);
  assert.match(r.stdout, /^overall: healthy/m);
});

void test('cli: an invalid config or an unknown probe name → exit 3 (unknown)', async () => {
  const bad = path.join(dir, 'bad.json');
  await writeFile(bad, '{"error_patterns": [], "health_checks": {"disk": {"threshold_percent": 500}}}');
  const r = await runCli(['health', '--config', bad]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /threshold_percent/);
  const u = await runCli(['health', '--config', healthyConfig, '--only', 'nosuch']);
  assert.equal(u.code, 3);
  assert.match(u.stderr, /unknown probe nosuch/);
});
