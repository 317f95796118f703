/**
 * End to end on the real dev server: a real redis-server (our own, on a free port) is killed, or
 * hung with SIGSTOP; the daemon's health check detects it, a remediation saga restarts it with
 * its configured argv (SIGTERM → SIGKILL for the hung one), and verification sees PONG.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SagaResult } from '../../src/workflows/definitions';
import { probeRedis } from '../../src/probes';
import { freePort } from '../helpers/net';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';
import { requireTool } from '../helpers/tools';

function readPid(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** True when the process exists and is not a zombie (daemonized children here are reaped late). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('redis repaired by a remediation saga', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let port: number;
  let pidFile: string;
  let restart: string[];
  const daemonId = `daemon-redis-${Date.now()}`;

  before(async () => {
    port = await freePort();
    sb = makeSandbox();
    pidFile = path.join(sb.dir, 'redis.pid');
    restart = ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidFile, '--dir', sb.dir];
    requireTool('redis-server');
    execFileSync(restart[0] as string, restart.slice(1));
    await waitFor('redis up', async () => (await probeRedis(`redis://127.0.0.1:${port}`, 500)).status === 'healthy');
    sb.writeConfig({
      error_patterns: [
        { id: 'redis_connection', name: 'Redis接続エラー', pattern: 'Could not connect to Redis', severity: 'critical', auto_fix: true, actions: [{ type: 'service_restart', service: 'redis' }] },
      ],
      auto_fix_config: { max_retries: 3, retry_delay: 1, cooldown_period: 1, verify_timeout_seconds: 15, notification_channels: ['log', 'alerts'] },
      health_checks: {
        redis: { url: `redis://127.0.0.1:${port}`, interval_seconds: 1, timeout_seconds: 1 },
        postgres: { enabled: false },
        disk: { enabled: false },
        memory: { enabled: false },
      },
      services: {
        redis: {
          restart,
          pid_file: pidFile,
          process_match: `redis-server 127\\.0\\.0\\.1:${port}`,
          health: { type: 'redis', port },
          stop_signal_timeout_seconds: 2,
          health_timeout_seconds: 15,
        },
      },
    });
    t = await startTestWorker({ configPath: sb.configPath });
    await t.client.workflow.start('autoFixDaemon', {
      workflowId: daemonId,
      taskQueue: t.taskQueue,
      args: [{ loopCount: 10_000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 }],
    });
  });

  after(async () => {
    await t.client.workflow.getHandle(daemonId).terminate('test done').catch(() => undefined);
    await t.close();
    const pid = readPid(pidFile);
    if (pid && alive(pid)) {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    }
    sb.cleanup();
  });

  /** Waits for a finished incident of redis_connection that was not seen before. */
  async function nextIncident(seen: Set<string>): Promise<SagaResult> {
    const id = await waitFor(
      'a redis_connection incident',
      async () => {
        for await (const wf of t.client.workflow.list({ query: `WorkflowId STARTS_WITH "incident-redis_connection-"` })) {
          if (wf.taskQueue === t.taskQueue && !seen.has(wf.workflowId)) return wf.workflowId;
        }
        return undefined;
      },
      60_000,
      300,
    );
    seen.add(id);
    return await t.client.workflow.getHandle(id).result();
  }

  const seen = new Set<string>();

  test('a killed redis-server is detected, restarted and verified', async () => {
    const before = readPid(pidFile) as number;
    process.kill(before, 'SIGKILL');
    const r = await nextIncident(seen);
    assert.equal(r.outcome, 'fixed', JSON.stringify(r));
    assert.equal(r.steps[0]?.type, 'service_restart');
    assert.equal(r.verification?.ok, true);
    assert.equal((await probeRedis(`redis://127.0.0.1:${port}`, 1000)).status, 'healthy');
    assert.notEqual(readPid(pidFile), before);
  });

  test('a hung (SIGSTOPped) redis-server is force-killed, restarted and verified', async () => {
    const hung = readPid(pidFile) as number;
    process.kill(hung, 'SIGSTOP');
    const r = await nextIncident(seen);
    assert.equal(r.outcome, 'fixed', JSON.stringify(r));
    assert.match(r.steps[0]?.summary ?? '', /SIGKILL|killed|hung/i);
    assert.equal(alive(hung), false, 'the hung process is gone');
    assert.equal((await probeRedis(`redis://127.0.0.1:${port}`, 1000)).status, 'healthy');
    const log = readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8');
    assert.match(log, /修復アクション実行: service_restart/);
  });
});
