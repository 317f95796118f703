/**
 * The daemon on the real dev server against a PostgreSQL cluster of our own (SCRAM password auth,
 * max_connections 3): a health check failing on authentication, or on "too many clients", alerts
 * (db_refused) and never runs the restart argv; a really dead server is still restarted. The same
 * for a redis-server of our own with requirepass (NOAUTH, WRONGPASS vs killed). Each restart argv
 * is a wrapper that appends to a marker file and then starts the server for real.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { statusQuery, type DaemonStatus } from '../../src/workflows/definitions';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster';
import { requireTool } from '../helpers/tools';
import { freePort } from '../helpers/net';

const ROOT = path.resolve(__dirname, '../../..');
const shipped = JSON.parse(readFileSync(path.join(ROOT, 'config/error_patterns.json'), 'utf8')) as { error_patterns: Array<{ id: string }> };
/** The shipped db_refused and db_connection patterns, as they are. */
const dbPatterns = shipped.error_patterns.filter((p) => p.id === 'db_refused' || p.id === 'db_connection');
const redisPatterns = shipped.error_patterns.filter((p) => p.id === 'redis_refused' || p.id === 'redis_connection');
/** Every refusal may alert (no flap guard in the way): what matters is that none restarts. */
const autoFixConfig = { max_retries: 1, retry_delay: 1, cooldown_period: 1, notification_channels: ['log', 'alerts'], flap_guard: { max_fixes: 1000 } };

/** A restart wrapper: appends a line to `marker`, then runs the real start command. */
function restartWrapper(sb: Sandbox, name: string, marker: string): string {
  const file = path.join(sb.dir, name);
  writeFileSync(file, `#!/bin/sh\necho "restart $(date +%s)" >> '${marker}'\nexec "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);
const alertsOf = (sb: Sandbox) => {
  const f = path.join(sb.dataDir, 'logs', 'alerts.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
};

describe('daemon: PostgreSQL refusing us is alerted, never restarted; PostgreSQL down is restarted', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let pg: PgCluster;
  let marker: string;
  let daemonId = '';

  const alerts = () => alertsOf(sb);
  const restarts = () => lines(marker);
  const status = (): Promise<DaemonStatus> => t.client.workflow.getHandle(daemonId).query(statusQuery);

  /** Points the health check at `url` (the worker picks the edit up at its next loop). */
  const configure = (url: string) =>
    sb.writeConfig({
      error_patterns: dbPatterns,
      auto_fix_config: autoFixConfig,
      health_checks: { postgres: { url, interval_seconds: 1, timeout_seconds: 3 }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
      services: {
        postgresql: {
          restart: [path.join(sb.dir, 'restart-postgres'), ...pg.startArgv],
          health: { type: 'postgres', url: pg.url },
          health_timeout_seconds: 30,
        },
      },
    });

  /** Waits until the daemon has run `n` more health checks after now. */
  const moreChecks = async (n: number) => {
    const from = (await status()).totals.loops;
    await waitFor(`${n} more loops`, async () => (await status()).totals.loops >= from + n * 2, 60_000);
  };

  before(async () => {
    pg = await startPgCluster({ settings: { max_connections: '3', superuser_reserved_connections: '0' } });
    sb = makeSandbox();
    marker = path.join(sb.dir, 'restarts');
    restartWrapper(sb, 'restart-postgres', marker);
    configure(pg.wrongPasswordUrl);
    t = await startTestWorker({ configPath: sb.configPath });
    daemonId = `daemon-refusing-${Date.now()}`;
    await t.client.workflow.start('autoFixDaemon', { workflowId: daemonId, taskQueue: t.taskQueue, args: [{ loopCount: 100_000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 }] });
  });
  after(async () => {
    await t.client.workflow.getHandle(daemonId).terminate('test done').catch(() => undefined);
    await t.close();
    pg.cleanup();
    sb.cleanup();
  });

  test('a wrong password in the check URL: db_refused alerts, the restart argv never runs', async () => {
    await waitFor('db_refused alert', async () => /"pattern_id": "db_refused"/.test(alerts()), 60_000);
    assert.match(alerts(), /password authentication failed/);
    await moreChecks(4);
    assert.equal(restarts(), 0, 'PostgreSQL was "restarted" although it was accepting connections');
    assert.doesNotMatch(alerts(), /"pattern_id": "db_connection"/);
  });

  test('every connection slot taken ("too many clients"): db_refused alerts, no restart', async () => {
    configure(pg.url);
    await moreChecks(2);
    const held: Client[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = new Client({ connectionString: pg.url });
        await c.connect();
        held.push(c);
      }
      await waitFor('too-many-clients alert', async () => /too many clients/.test(alerts()), 60_000);
      await moreChecks(4);
    } finally {
      await Promise.all(held.map((c) => c.end()));
    }
    assert.equal(restarts(), 0, 'PostgreSQL was "restarted" although it was only full');
    assert.doesNotMatch(alerts(), /"pattern_id": "db_connection"/);
  });

  test('a really dead PostgreSQL is still restarted (and comes back)', async () => {
    pg.stop('immediate');
    await waitFor('restart argv ran', async () => restarts() >= 1, 90_000);
    await waitFor('healthy again', async () => (await status()).lastHealth?.checks.database_connection === 'healthy', 60_000);
  });
});

describe('daemon: Redis answering NOAUTH/WRONGPASS is alerted, never restarted; Redis killed is restarted', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let marker: string;
  let pidFile: string;
  let startArgv: string[];
  let port = 0;
  let daemonId = '';
  const password = 'r3dis-pass';

  const status = (): Promise<DaemonStatus> => t.client.workflow.getHandle(daemonId).query(statusQuery);
  const configure = (url: string) =>
    sb.writeConfig({
      error_patterns: redisPatterns,
      auto_fix_config: autoFixConfig,
      health_checks: { redis: { url, interval_seconds: 1, timeout_seconds: 3 }, postgres: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
      services: { redis: { restart: [path.join(sb.dir, 'restart-redis'), ...startArgv], health: { type: 'redis', url: `redis://:${password}@127.0.0.1:${port}` }, health_timeout_seconds: 30 } },
    });
  const moreChecks = async (n: number) => {
    const from = (await status()).totals.loops;
    await waitFor(`${n} more loops`, async () => (await status()).totals.loops >= from + n * 2, 60_000);
  };
  const killRedis = () => {
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  before(async () => {
    sb = makeSandbox();
    marker = path.join(sb.dir, 'restarts');
    pidFile = path.join(sb.dir, 'redis.pid');
    port = await freePort();
    startArgv = [requireTool('redis-server'), '--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidFile, '--dir', sb.dir];
    execFileSync(startArgv[0] as string, startArgv.slice(1));
    restartWrapper(sb, 'restart-redis', marker);
    configure(`redis://127.0.0.1:${port}`);
    t = await startTestWorker({ configPath: sb.configPath });
    daemonId = `daemon-redis-refusing-${Date.now()}`;
    await t.client.workflow.start('autoFixDaemon', { workflowId: daemonId, taskQueue: t.taskQueue, args: [{ loopCount: 100_000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 }] });
  });
  after(async () => {
    await t.client.workflow.getHandle(daemonId).terminate('test done').catch(() => undefined);
    await t.close();
    killRedis();
    sb.cleanup();
  });

  test('no password (NOAUTH), then a wrong one (WRONGPASS): redis_refused alerts, the restart argv never runs', async () => {
    await waitFor('NOAUTH alert', async () => /"pattern_id": "redis_refused"/.test(alertsOf(sb)) && /NOAUTH/.test(alertsOf(sb)), 60_000);
    configure(`redis://:wrong@127.0.0.1:${port}`);
    await waitFor('WRONGPASS alert', async () => /WRONGPASS/.test(alertsOf(sb)), 60_000);
    await moreChecks(3);
    assert.equal(lines(marker), 0, 'Redis was "restarted" although it was answering');
    assert.doesNotMatch(alertsOf(sb), /"pattern_id": "redis_connection"/);
  });

  test('a killed redis-server (connection refused) is restarted and healthy again', async () => {
    killRedis();
    await waitFor('restart argv ran', async () => lines(marker) >= 1, 90_000);
    configure(`redis://:${password}@127.0.0.1:${port}`);
    await waitFor('healthy again', async () => (await status()).lastHealth?.checks.redis_connection === 'healthy', 60_000);
  });
});
