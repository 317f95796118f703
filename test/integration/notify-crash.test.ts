/**
 * A worker SIGKILLed between two notification channels: alerts.log and auto_fix.log had the alert,
 * the webhook's request was in flight. After a restart every channel has the alert at least once
 * — the webhook gets it again, the channels that had it are not sent twice — because a channel is
 * recorded as sent only after it succeeded (src/notify/dedupe.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { alertsLogPath, autoFixLogPath } from '../../src/logging/auto-fix-log';
import { statusQuery } from '../../src/workflows/definitions';
import { loadConfig } from '../../src/config/load';
import { readDeliveryState } from '../../src/notify/dedupe';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, terminateRunningOn, waitFor, type TestTemporal } from '../helpers/temporal';

const REPO = path.resolve(__dirname, '../../..');

describe('alerts survive a worker killed between two channels', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let worker: ChildProcess | undefined;
  let hook: http.Server;
  const calls: Array<'killed' | 'delivered'> = [];
  const taskQueue = `notify-crash-${randomUUID().slice(0, 8)}`;
  const startWorker = () =>
    spawn(process.execPath, [path.join(REPO, 'bin', 'autofix'), 'worker', '--task-queue', taskQueue, '--config', sb.configPath, '--metrics', 'off'], {
      env: { ...process.env, AUTOFIX_LOG_LEVEL: 'ERROR' },
      stdio: 'ignore',
    });

  before(async () => {
    hook = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (calls.length === 0) {
          // The first delivery is in flight: the worker dies before it hears the answer.
          calls.push('killed');
          worker?.kill('SIGKILL');
          res.destroy();
          return;
        }
        calls.push('delivered');
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    sb = makeSandbox();
    sb.writeConfig({
      // Detections are not alerts: the incident's `alert` action is. A killed attempt is retried
      // after its start-to-close timeout, hence a short one.
      error_patterns: [{ id: 'http_5xx', name: 'HTTP 5xx', pattern: '" 5\\d\\d ', severity: 'error', auto_fix: true, actions: [{ type: 'alert' }] }],
      auto_fix_config: { cooldown_period: 300, max_retries: 3, retry_delay: 1, action_timeout_seconds: 5, notification_channels: ['log', 'alerts', 'webhook'] },
      notifications: { webhook: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` } },
    });
    t = await startTestWorker({ configPath: sb.configPath }); // a client only; the daemon runs on the child worker
  });
  after(async () => {
    worker?.kill('SIGKILL');
    await t.close();
    await new Promise<void>((r) => hook.close(() => r()));
    sb.cleanup();
  });

  test('each channel gets the alert at least once; the ones that had it are not sent again', async () => {
    worker = startWorker();
    const id = `daemon-notify-crash-${Date.now()}`;
    await t.client.workflow.start('autoFixDaemon', { workflowId: id, taskQueue, args: [{ loopCount: 10_000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 }], workflowTaskTimeout: '2s' });
    try {
      // Logs are read from their end when first seen: the line goes in after the first loop.
      await waitFor('first loop', async () => (await t.client.workflow.getHandle(id).query(statusQuery)).totals.loops >= 1);
      appendFileSync(sb.appLog, '127.0.0.1 - - [01/Dec/2026 00:00:00] "GET /boom HTTP/1.1" 500 -\n');
      await waitFor('the webhook request that kills the worker', async () => calls.length > 0, 30_000, 20);
      await new Promise((r) => setTimeout(r, 300));
      worker = startWorker();
      await waitFor('the webhook delivered after the restart', async () => calls.includes('delivered'), 60_000);
      const cfg = loadConfig(sb.configPath);
      const alertLines = readFileSync(alertsLogPath(cfg), 'utf8').split('\n').filter((l) => l.includes('HTTP 5xx (http_5xx) detected'));
      const logLines = readFileSync(autoFixLogPath(cfg), 'utf8').split('\n').filter((l) => l.includes('アラート: HTTP 5xx (http_5xx) detected'));
      assert.ok(alertLines.length >= 1 && logLines.length >= 1, 'the local channels have it');
      assert.equal(alertLines.length, 1, 'alerts.log had it before the kill: not written twice');
      assert.equal(logLines.length, 1, 'auto_fix.log had it before the kill: not written twice');
      await waitFor('nothing owed', async () => Object.values(await readDeliveryState(cfg.daemon.data_dir)).every((s) => !s.pending));
    } finally {
      // The daemon and its saga run on the child worker's queue, not on t's.
      await terminateRunningOn(t.client, taskQueue);
    }
  });
});
