/**
 * Confirm before destroy, end to end on the real dev server with a private PostgreSQL cluster:
 * a db_connection incident while the database is healthy ends `skipped` ("service healthy; not
 * restarted", with an alert) and restarts nothing; a really dead database is detected by the
 * daemon's health check, confirmed, restarted with `pg_ctl start` and verified.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import type { SagaInput, SagaResult } from '../../src/workflows/definitions';
import { probePostgres } from '../../src/probes';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startPgCluster, type PgCluster } from '../helpers/postgres';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';

const shipped = loadConfig(path.resolve(__dirname, '../../../config/error_patterns.json'));
const dbConnection = shipped.error_patterns.find((p) => p.id === 'db_connection');

describe('service_restart confirms the fault live', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let pg: PgCluster;
  let marker: string;
  const postmasterPid = () => Number(readFileSync(path.join(pg.data, 'postmaster.pid'), 'utf8').split('\n')[0]);

  before(async () => {
    pg = await startPgCluster();
    sb = makeSandbox();
    marker = path.join(sb.dir, 'restarted');
    assert.ok(dbConnection, 'the shipped config has db_connection');
    sb.writeConfig({
      error_patterns: [dbConnection],
      auto_fix_config: { max_retries: 2, retry_delay: 1, cooldown_period: 1, verify_timeout_seconds: 20, notification_channels: ['log', 'alerts'] },
      health_checks: {
        postgres: { url: pg.url, interval_seconds: 1, timeout_seconds: 2 },
        redis: { enabled: false },
        disk: { enabled: false },
        memory: { enabled: false },
      },
      services: {
        postgresql: {
          // Starts the cluster and leaves a mark, so a test can tell the restart ran.
          restart: ['sh', '-c', 'touch "$0" && exec "$@"', marker, ...pg.start],
          pid_file: path.join(pg.data, 'postmaster.pid'),
          user: 'postgres',
          health: { type: 'postgres', url: pg.url },
          health_timeout_seconds: 30,
        },
      },
    });
    t = await startTestWorker({ configPath: sb.configPath });
  });
  after(async () => {
    await t.close();
    pg.cleanup();
    sb.cleanup();
  });

  test('a db_connection incident while PostgreSQL is healthy ends skipped with the reason and an alert; nothing is restarted', async () => {
    const before = postmasterPid();
    const input: SagaInput = {
      incidentId: `incident-db_connection-healthy-${Date.now()}`,
      patternId: 'db_connection',
      // What a request line once made of it: the text alone must never restart a database.
      detection: { id: 'db_connection', count: 1, source: 'log', file: sb.appLog, first_line: 1, samples: ['127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /search?q=ECONNREFUSED HTTP/1.1" 200 -'] },
      host: 'testhost',
      startedBy: 'cli',
    };
    const r: SagaResult = await t.client.workflow.execute('remediationSaga', { workflowId: input.incidentId, taskQueue: t.taskQueue, args: [input] });
    assert.equal(r.outcome, 'skipped', JSON.stringify(r, null, 2));
    assert.match(r.reason ?? '', /^service_restart postgresql: postgres 127\.0\.0\.1:\d+\/postgres: SELECT 1 answered: service healthy; not restarted$/);
    assert.equal(r.steps[0]?.status, 'skipped');
    assert.equal(r.verification, undefined, 'nothing to verify');
    assert.equal(existsSync(marker), false, 'the restart argv never ran');
    assert.equal(postmasterPid(), before, 'the postmaster is the same process');
    const alerts = readFileSync(path.join(sb.dataDir, 'logs', 'alerts.log'), 'utf8');
    assert.match(alerts, new RegExp(`${input.incidentId} \\(db_connection\\): skipped — service_restart postgresql: .*service healthy; not restarted`));
    const log = readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8');
    assert.match(log, /自動修復スキップ: db_connection\n.* outcome=skipped .*reason="service_restart postgresql: .*service healthy; not restarted"/);
  });

  test('a dead PostgreSQL is detected by the daemon, confirmed, restarted with pg_ctl start and verified', async () => {
    const id = `daemon-pg-${Date.now()}`;
    await t.client.workflow.start('autoFixDaemon', {
      workflowId: id,
      taskQueue: t.taskQueue,
      args: [{ loopCount: 10_000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 }],
    });
    try {
      pg.kill();
      assert.equal((await probePostgres(pg.url, 1000)).status, 'unhealthy');
      const incident = await waitFor(
        'a db_connection incident',
        async () => {
          for await (const wf of t.client.workflow.list({ query: 'WorkflowId STARTS_WITH "incident-db_connection-"' })) {
            if (wf.taskQueue === t.taskQueue && !wf.workflowId.includes('healthy')) return wf.workflowId;
          }
          return undefined;
        },
        60_000,
        300,
      );
      const r: SagaResult = await t.client.workflow.getHandle(incident).result();
      assert.equal(r.outcome, 'fixed', JSON.stringify(r, null, 2));
      assert.match(r.steps[0]?.summary ?? '', /^confirmed unhealthy: postgres health check fails: postgres 127\.0\.0\.1:\d+\/postgres: not accepting connections: .*ECONNREFUSED.*; restarted postgresql; postgres health check passes$/);
      assert.equal(r.verification?.ok, true);
      assert.equal(existsSync(marker), true, 'the configured restart argv ran');
      assert.equal((await probePostgres(pg.url, 2000)).status, 'healthy');
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }
  });
});
