/**
 * A worker killed with SIGKILL in the middle of a saga: after a restart the saga finishes, the
 * effect that had happened (a log rotation) happened once, and no backup or byte is lost.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import type { SagaInput, SagaResult } from '../../src/workflows/definitions';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';

const REPO = path.resolve(__dirname, '../../..');

/**
 * How often auto_fix.log says the incident's action `type` started: the seed's line
 * `修復アクション実行: <type>`, whose details (written with it, on the next line) name the incident.
 */
function actionRuns(log: string, incidentId: string, type: string): number {
  const lines = log.split('\n');
  return lines.filter((l, i) => l.endsWith(`] - 修復アクション実行: ${type}`) && (lines[i + 1] ?? '').includes(`  incident=${incidentId} `)).length;
}

describe('a saga survives its worker being killed', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let worker: ChildProcess | undefined;
  const taskQueue = `crash-${randomUUID().slice(0, 8)}`;

  before(async () => {
    sb = makeSandbox();
    // A client only: the saga's worker is a separate process we can kill.
    t = await startTestWorker({ configPath: sb.configPath });
  });
  after(async () => {
    worker?.kill('SIGKILL');
    await t.close();
    sb.cleanup();
  });

  const startWorker = () =>
    spawn(process.execPath, [path.join(REPO, 'bin', 'autofix'), 'worker', '--task-queue', taskQueue, '--config', sb.configPath, '--metrics', 'off'], {
      env: { ...process.env, AUTOFIX_LOG_LEVEL: 'ERROR' },
      stdio: 'ignore',
    });

  test('SIGKILL during the second action: the saga completes, the rotation happened once, the backup is intact', async () => {
    const big = path.join(sb.dir, 'logs', 'big.log');
    const original = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n') + '\n';
    writeFileSync(big, original);
    sb.writeConfig({
      error_patterns: [
        {
          id: 'disk_full',
          name: 'ディスク容量不足',
          pattern: 'No space left on device',
          severity: 'critical',
          auto_fix: true,
          actions: [
            { type: 'log_rotate', files: [big], max_bytes: 1024, keep: 3 },
            { type: 'service_restart', service: 'slow' },
          ],
        },
      ],
      // A slow restart gives the test time to kill the worker while it runs.
      services: { slow: { restart: ['sleep', '4'], confirm: false } }, // no live probe: restart on the log line alone
      auto_fix_config: { max_retries: 3, retry_delay: 1, action_timeout_seconds: 6, notification_channels: ['log', 'alerts'] },
    });
    const input: SagaInput = {
      incidentId: `incident-disk_full-crash-${Date.now()}`,
      patternId: 'disk_full',
      detection: { id: 'disk_full', name: 'ディスク容量不足', severity: 'critical', count: 1, source: 'log', samples: ['OSError: [Errno 28] No space left on device'] },
      host: 'testhost',
      startedBy: 'cli',
    };
    worker = startWorker();
    const handle = await t.client.workflow.start('remediationSaga', { workflowId: input.incidentId, taskQueue, args: [input] });
    // Wait until the second action (index 1) is running, then kill the worker outright.
    // (Temporal writes ActivityTaskStarted only when a retried activity ends, so look at the
    // pending activities and at the log line the action writes as it begins.)
    await waitFor('second action running', async () => {
      const d = await handle.describe();
      const running = (d.raw.pendingActivities ?? []).some((p) => p.activityType?.name === 'runAction' && p.state === 2 /* PENDING_ACTIVITY_STATE_STARTED */);
      let logged = false;
      try {
        logged = actionRuns(readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8'), input.incidentId, 'service_restart') > 0;
      } catch {
        /* not written yet */
      }
      return running && logged;
    }, 60_000, 100);
    worker.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    worker = startWorker();
    const r = (await handle.result()) as SagaResult;
    assert.equal(r.outcome, 'fixed', JSON.stringify(r, null, 2));

    // The rotation happened exactly once: one rotated copy holding every original byte.
    const rotated = readdirSync(path.dirname(big)).filter((f) => f.startsWith('big.log.'));
    assert.deepEqual(rotated, ['big.log.1.gz']);
    assert.equal(gunzipSync(readFileSync(path.join(path.dirname(big), 'big.log.1.gz'))).toString(), original);
    assert.equal(readFileSync(big, 'utf8'), '');
    // One backup, in this run's folder, for the one action that changes files, with its manifest.
    const runDirs = readdirSync(path.join(sb.dataDir, 'backups', input.incidentId));
    assert.deepEqual(runDirs, [(await handle.describe()).runId]);
    assert.deepEqual(readdirSync(path.join(sb.dataDir, 'backups', input.incidentId, runDirs[0]!)), ['00-log_rotate']);
    const manifest = readFileSync(path.join(sb.dataDir, 'backups', input.incidentId, runDirs[0]!, '00-log_rotate', 'manifest.json'), 'utf8');
    assert.match(manifest, /big\.log/);
    // auto_fix.log tells the story: the rotation ran once, the interrupted restart ran again.
    const log = readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8');
    const runs = (type: string) => actionRuns(log, input.incidentId, type);
    assert.equal(runs('log_rotate'), 1);
    assert.equal(runs('service_restart'), 2);
  });
});
