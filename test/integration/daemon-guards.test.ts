/**
 * The daemon's guards and durability on the real dev server: the flap guard trips and resets,
 * the cooldown holds, a worker killed with SIGKILL loses and doubles nothing, and the plain
 * `temporal` CLI drives the daemon.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { pauseFixesSignal, statusQuery, type DaemonStatus } from '../../src/workflows/definitions';
import { http500Pattern, makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, temporalAddress, waitFor, type TestTemporal } from '../helpers/temporal';

const line500 = (n: number) => `10.0.0.${n % 250} - - [28/Dec/2025:10:30:00 +0000] "POST /api/orders HTTP/1.1" 502 0 "-" "curl/8.0"\n`;
const REPO = path.resolve(__dirname, '../../..');

describe('daemon guards', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  before(async () => {
    sb = makeSandbox();
    t = await startTestWorker({ configPath: sb.configPath });
  });
  after(async () => {
    await t.close();
    sb.cleanup();
  });

  const status = (id: string): Promise<DaemonStatus> => t.client.workflow.getHandle(id).query(statusQuery);
  const startDaemon = async (prefix: string) => {
    const id = `${prefix}-${Date.now()}`;
    await t.client.workflow.start('autoFixDaemon', { workflowId: id, taskQueue: t.taskQueue, args: [{ loopCount: 10_000, loopIntervalSeconds: 0.3, waitMinutes: 0.01 }] });
    return id;
  };

  test('the flap guard trips after max_fixes, alerts critical, then resets after a quiet period', async () => {
    writeFileSync(sb.appLog, '');
    // Its own pattern id, so its last saga cannot hold the incident id of a later test's fix.
    sb.writeConfig({
      error_patterns: [{ ...http500Pattern, id: 'http_5xx_flap' }],
      auto_fix_config: { cooldown_period: 0.2, notification_channels: ['log', 'alerts'], flap_guard: { max_fixes: 2, window_minutes: 30, reset_after_minutes: 0.05 } },
    });
    const id = await startDaemon('daemon-flap');
    try {
      // What the log holds at the first loop is the past: write after it.
      await waitFor('first loop', async () => (await status(id)).totals.loops >= 1);
      let n = 0;
      const tripped = await waitFor('flap guard', async () => {
        appendFileSync(sb.appLog, line500(n++));
        await new Promise((r) => setTimeout(r, 700));
        const s = await status(id);
        return s.flapping.includes('http_5xx_flap') ? s : undefined;
      });
      assert.equal(tripped.totals.incidents, 2, 'exactly max_fixes fixes before the guard trips');
      const alerts = readFileSync(path.join(sb.dataDir, 'logs', 'alerts.log'), 'utf8');
      assert.match(alerts, /"severity": "critical", "message": "flap guard tripped for http_5xx_flap/);
      // More detections while tripped start nothing.
      appendFileSync(sb.appLog, line500(n++));
      await waitFor('detected while tripped', async () => (await status(id)).totals.events >= n);
      assert.equal((await status(id)).totals.incidents, 2);
      // Quiet for reset_after_minutes (3 s): the guard resets and fixing resumes.
      await waitFor('reset', async () => !(await status(id)).flapping.includes('http_5xx_flap'), 20_000);
      appendFileSync(sb.appLog, line500(n++));
      await waitFor('fixing again', async () => (await status(id)).totals.incidents === 3);
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }
  });

  test('pausing the daemon stops a saga in progress before its next action', async () => {
    writeFileSync(sb.appLog, '');
    const uploads = path.join(sb.dir, 'uploads-pause');
    sb.writeConfig({
      error_patterns: [
        // Its own pattern id: incident ids are per pattern and second, and the flap test's last
        // saga (same pattern, other daemon) may still hold this second's id.
        { ...http500Pattern, id: 'http_5xx_pause', actions: [{ type: 'service_restart', service: 'slow' }, { type: 'create_missing_dirs' }] },
      ],
      services: { slow: { restart: ['sleep', '10'], confirm: false } }, // no live probe: restart on the log line alone
      managed: { roots: [sb.dir], directories: { uploads: uploads } },
    });
    const id = await startDaemon('daemon-pause-saga');
    try {
      await waitFor('first loop', async () => (await status(id)).totals.loops >= 1);
      appendFileSync(sb.appLog, line500(1));
      // The first action runs 10 s: ample time to pause while it runs, even on a loaded machine.
      const incident = await waitFor('incident started', async () => Object.values((await status(id)).openIncidents)[0], 60_000, 100);
      await waitFor('first action scheduled', async () => {
        const h = await t.client.workflow.getHandle(incident).fetchHistory();
        return (h.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runAction');
      }, 60_000, 100);
      await t.client.workflow.getHandle(id).signal(pauseFixesSignal, { reason: 'stop everything' });
      const r = await t.client.workflow.getHandle(incident).result();
      assert.notEqual(r.outcome, 'fixed');
      assert.match(r.reason ?? '', /paused/);
      assert.equal(r.steps.length, 1, 'the second action never started');
      assert.equal(existsSync(uploads), false);
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }
  });

  test('the cooldown holds between fixes of one pattern', async () => {
    writeFileSync(sb.appLog, '');
    sb.writeConfig({ auto_fix_config: { cooldown_period: 3600, notification_channels: ['log', 'alerts'] } });
    const id = await startDaemon('daemon-cooldown');
    try {
      await waitFor('first loop', async () => (await status(id)).totals.loops >= 1);
      appendFileSync(sb.appLog, line500(1));
      await waitFor('first fix', async () => (await status(id)).totals.incidents === 1);
      appendFileSync(sb.appLog, line500(2));
      const s = await waitFor('second detection', async () => {
        const st = await status(id);
        return st.totals.events >= 2 ? st : undefined;
      });
      assert.equal(s.totals.incidents, 1, 'no second fix within the cooldown');
      assert.ok(s.cooldowns.http_5xx, 'status shows the cooldown');
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }
  });

  test('a worker killed with SIGKILL mid-iteration: after restart nothing is lost and nothing counted twice', async () => {
    writeFileSync(sb.appLog, '');
    sb.writeConfig({ error_patterns: [{ ...http500Pattern, auto_fix: false, actions: [] }] });
    const taskQueue = `killed-${randomUUID().slice(0, 8)}`;
    const startWorker = (): ChildProcess =>
      spawn(process.execPath, [path.join(REPO, 'bin', 'autofix'), 'worker', '--task-queue', taskQueue, '--config', sb.configPath, '--metrics', 'off'], {
        env: { ...process.env, AUTOFIX_LOG_LEVEL: 'ERROR' },
        stdio: 'ignore',
      });
    let worker = startWorker();
    const id = `daemon-kill-${Date.now()}`;
    await t.client.workflow.start('autoFixDaemon', { workflowId: id, taskQueue, args: [{ loopCount: 5, loopIntervalSeconds: 0.3, waitMinutes: 0.005 }] });
    try {
      await waitFor('first loop', async () => (await status(id)).totals.loops >= 1, 60_000);
      for (let i = 0; i < 3; i++) appendFileSync(sb.appLog, line500(i));
      await waitFor('3 events', async () => (await status(id)).totals.events >= 3);
      worker.kill('SIGKILL');
      for (let i = 3; i < 7; i++) appendFileSync(sb.appLog, line500(i));
      await new Promise((r) => setTimeout(r, 1000));
      worker = startWorker();
      const s = await waitFor('7 events after restart', async () => {
        const st = await status(id);
        return st.totals.events >= 7 ? st : undefined;
      }, 60_000);
      const loops = s.totals.loops;
      await waitFor('more loops', async () => (await status(id)).totals.loops >= loops + 4, 60_000);
      assert.equal((await status(id)).totals.events, 7);
    } finally {
      worker.kill('SIGKILL');
      await t.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
    }
  });

  test('the plain temporal CLI starts, pauses, queries and resumes the daemon', async () => {
    const cli = process.env.AUTOFIX_TEST_TEMPORAL_CLI;
    assert.ok(cli, 'the test runner provides the Temporal CLI');
    sb.writeConfig();
    const id = `daemon-plain-${Date.now()}`;
    const base = ['--address', temporalAddress(), '--workflow-id', id];
    // Async: the worker answering the query runs in this very process.
    const run = async (args: string[]) => (await promisify(execFile)(cli, args, { encoding: 'utf8', timeout: 30_000 })).stdout;
    await run(['workflow', 'start', '--type', 'autoFixDaemon', '--task-queue', t.taskQueue, ...base, '--id-conflict-policy', 'UseExisting', '--input', JSON.stringify({ loopCount: 1000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 })]);
    await run(['workflow', 'signal', ...base, '--name', 'pauseFixes', '--input', JSON.stringify({ reason: 'maintenance', minutes: 5 })]);
    const q = await waitFor('paused via query', async () => {
      const out = JSON.parse(await run(['workflow', 'query', ...base, '--type', 'status', '--output', 'json'])) as { queryResult: DaemonStatus[] };
      const st = out.queryResult[0];
      return st?.paused ? st : undefined;
    });
    assert.equal(q.pauseReason, 'maintenance');
    assert.equal(q.running, true);
    await run(['workflow', 'signal', ...base, '--name', 'resumeFixes']);
    await waitFor('resumed', async () => !(await status(id)).paused);
    // Our own client sees the same workflow.
    const conn = await Connection.connect({ address: temporalAddress() });
    try {
      const d = await new Client({ connection: conn }).workflow.getHandle(id).describe();
      assert.equal(d.type, 'autoFixDaemon');
    } finally {
      await conn.close();
      await t.client.workflow.getHandle(id).terminate('test done');
    }
  });
});
