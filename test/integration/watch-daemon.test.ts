/**
 * Event loops end to end on the real dev server with the real worker and its watchers, at a
 * cadence where only an event can explain a reaction (loops an hour apart): an appended error
 * line is detected and its incident runs; a killed redis-server (our own, on a free port) is
 * restarted; the event loops leave the cadence alone (same slot, same next loop); a runNow whose
 * argument is not a reason and check names is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { autoFixDaemon } from '../../src/workflows/daemon';
import { runNowSignal, statusQuery, type DaemonStatus, type SagaResult } from '../../src/workflows/definitions';
import { probeRedis } from '../../src/probes';
import { freePort } from '../helpers/net';
import { makeSandbox, http500Pattern, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';
import { requireTool } from '../helpers/tools';

describe('event loops', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let port: number;
  let pidFile: string;
  let first: DaemonStatus;
  const id = `daemon-events-${Date.now()}`;
  const status = () => t.client.workflow.getHandle(id).query(statusQuery);
  const autoFixLog = () => readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8');
  const lineCount = () => readFileSync(sb.appLog, 'utf8').split('\n').length - 1;

  /** The cadence is untouched: still the first slot, the same next scheduled loop. */
  const sameCadence = (s: DaemonStatus) => {
    assert.equal(s.iteration, first.iteration);
    assert.equal(s.loop, 1);
    assert.equal(s.nextLoopAt, first.nextLoopAt);
  };

  before(async () => {
    requireTool('redis-server');
    port = await freePort();
    sb = makeSandbox();
    pidFile = path.join(sb.dir, 'redis.pid');
    const restart = ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidFile, '--dir', sb.dir];
    execFileSync(restart[0] as string, restart.slice(1));
    await waitFor('redis up', async () => (await probeRedis(`redis://127.0.0.1:${port}`, 500)).status === 'healthy');
    sb.writeConfig({
      error_patterns: [
        http500Pattern,
        { id: 'redis_connection', name: 'Redis接続エラー', pattern: 'Could not connect to Redis', severity: 'critical', auto_fix: true, actions: [{ type: 'service_restart', service: 'redis' }] },
      ],
      // The shipped check interval (60 s) and loops an hour apart: only events can explain a reaction.
      health_checks: { redis: { url: `redis://127.0.0.1:${port}` }, postgres: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
      services: { redis: { restart, pid_file: pidFile, health: { type: 'redis', port }, health_timeout_seconds: 10 } },
    });
    t = await startTestWorker({ configPath: sb.configPath });
    await t.client.workflow.start(autoFixDaemon, { workflowId: id, taskQueue: t.taskQueue, args: [{ loopIntervalSeconds: 3600, waitMinutes: 60 }] });
    first = await waitFor('first loop done', async () => {
      const s = await status();
      return s.phase === 'between_loops' && s.lastHealth?.checks.redis_connection === 'healthy' ? s : undefined;
    });
    // The worker learned its daemon from that loop and watches the redis-server.
    await t.watching!.ready;
    await waitFor('redis watched', async () => t.watching!.processes.watched().size > 0);
  });
  after(async () => {
    await t.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
    await t.close();
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
    } catch {
      /* gone */
    }
    sb.cleanup();
  });

  test('an appended error line is detected and fixed without waiting for the next loop', async () => {
    const n = lineCount() + 1;
    appendFileSync(sb.appLog, '127.0.0.1 - - [28/Dec/2025 10:30:00] "GET /api/x HTTP/1.1" 500 -\n');
    // The seed's line, then its details (one append): `エラー検出: <name>` / `  id=http_5xx … file=… lines=N`.
    await waitFor('エラー検出 line', async () => new RegExp(`エラー検出: ${http500Pattern.name}\\n.*id=http_5xx .*file=${sb.appLog} lines=${n}\\n`).test(autoFixLog()));
    const s = await waitFor('incident closed', async () => {
      const st = await status();
      return st.totals.incidents >= 1 && Object.keys(st.openIncidents).length === 0 ? st : undefined;
    });
    sameCadence(s);
    assert.ok(s.totals.loops >= 2);
  });

  test('a killed redis-server is restarted at once, with its check forced though not due', async () => {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const before = await status();
    process.kill(pid, 'SIGKILL');
    await waitFor('PONG from a new redis-server', async () => {
      const now = Number(readFileSync(pidFile, 'utf8').trim());
      return now !== pid && (await probeRedis(`redis://127.0.0.1:${port}`, 500)).status === 'healthy';
    });
    const incident = await waitFor('redis incident', async () => {
      for await (const wf of t.client.workflow.list({ query: `WorkflowId STARTS_WITH "incident-redis_connection-"` })) if (wf.taskQueue === t.taskQueue) return wf.workflowId;
      return undefined;
    });
    const result: SagaResult = await t.client.workflow.getHandle(incident).result();
    assert.equal(result.outcome, 'fixed');
    assert.match(result.steps[0]?.summary ?? '', /restarted redis/);
    const s = await status();
    sameCadence(s);
    // The periodic check keeps its schedule: the forced run is not recorded as the scheduled one.
    assert.ok(s.totals.loops > before.totals.loops);
  });

  test('a runNow that carries anything but a reason and check names runs nothing', async () => {
    const h = t.client.workflow.getHandle(id);
    /** Loop markers recorded after the runNow whose argument contains `text`, once a workflow task has handled it. */
    const markersAfter = async (text: string) => {
      const events = (await h.fetchHistory()).events ?? [];
      const at = events.findIndex((e) => {
        const a = e.workflowExecutionSignaledEventAttributes;
        return a?.signalName === 'runNow' && Buffer.from(a.input?.payloads?.[0]?.data ?? []).toString().includes(text);
      });
      const rest = at < 0 ? [] : events.slice(at);
      // A workflow task's commands (a loop's marker) are recorded with its completion, atomically.
      if (!rest.some((e) => e.workflowTaskCompletedEventAttributes)) return undefined;
      return String(rest.filter((e) => e.markerRecordedEventAttributes).length);
    };
    const before = (await status()).totals.loops;
    await h.signal(runNowSignal, { reason: 'log', path: '/etc/shadow' } as never);
    assert.equal(await waitFor('the bad runNow handled', () => markersAfter('/etc/shadow')), '0');
    await h.signal(runNowSignal, { reason: 'json', checks: ['json'] });
    await waitFor('the good runNow ran a loop', async () => (await status()).totals.loops === before + 1);
    assert.equal(await markersAfter('/etc/shadow'), '1', 'one loop after both signals: the good one');
    sameCadence(await status());
  });
});
